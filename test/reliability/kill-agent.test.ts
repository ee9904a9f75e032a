// Kill -9 mid-operation: 200 pod ADD/DEL cycles through the agent, four pods at a time (cluster macvlan
// eth0, a host-device on a veth end, a pooled macvlan that claims a standalone device), while a killer
// SIGKILLs the agent at seeded random moments and restarts it. The runtime does what runtimes do: an ADD
// that failed is followed by DEL, a DEL is repeated until it succeeds, then the netns is deleted. A
// quarter of the pods whose ADD failed are abandoned instead (the netns deleted with no DEL, the
// host-device handed back to the node under its pod ifname as the kernel does for a physical netdev):
// the restarted agent's reconcile must release those.
// Afterwards: no link in the node that was not there before, hd0 under its name with its MAC and MTU,
// and no lease, cache entry, claim, delegate state or temp file. NICPLEX_SEED=<n> replays a run.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { AgentProcess } from '../helpers/agent-harness.js';
import { sh } from '../helpers/cni-lab.js';
import { ReliabilityNode, seededRandom } from '../helpers/reliability-node.js';

const CYCLES = Number(process.env['NICPLEX_CYCLES'] ?? 200);
const WORKERS = 4;
const seed = Number(process.env['NICPLEX_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const random = seededRandom(seed);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const node = new ReliabilityNode('ka', { hostDevices: WORKERS, poolDevices: 2 * WORKERS });
t.teardown(() => node.cleanup());
/** Worker w's pod: host-device hd<w> as h<w> (unique, so abandoned devices do not clash in the node), and a pool device. */
const networksOf = (worker: number) => `hd${worker}@h${worker},pooled`;

/** Plugin processes (host-local, macvlan) a killed agent left running; they finish on their own. */
function orphanPlugins(): number {
  let count = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (environ.includes('\0CNI_CONTAINERID=ka') || environ.startsWith('CNI_CONTAINERID=ka')) {
        if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('nicplex-shim')) count++;
      }
    } catch { /* exited */ }
  }
  return count;
}

t.test(`${CYCLES} ADD/DEL cycles, ${WORKERS} pods at a time, the agent SIGKILLed at random moments (seed ${seed})`, async (t) => {
  t.comment(`seed ${seed} (NICPLEX_SEED=${seed} replays the kill schedule; the interleaving of the pods is the scheduler's)`);
  const started = Date.now();
  const before = node.nodeLinks();
  let agent: AgentProcess = await node.startAgent();
  t.teardown(() => agent.stop('SIGKILL'));
  // The kill window: as long as an ADD takes here (measured once).
  const probe = node.lab.containerNetns('probe');
  const probeAdd = await node.shim('ADD', 'kaprobe', probe.path, networksOf(0));
  const probeDel = await node.shim('DEL', 'kaprobe', probe.path, networksOf(0));
  t.equal(probeAdd.exitCode + probeDel.exitCode, 0, `the probe pod works: ${probeAdd.stdout}${probeDel.stdout}`);
  spawnSync('ip', ['netns', 'del', probe.name]);
  const windowMs = probeAdd.ms;
  t.comment(`ADD ${probeAdd.ms.toFixed(0)} ms, DEL ${probeDel.ms.toFixed(0)} ms on this machine now`);
  const figures = { kills: 0, addsFailed: 0, delsFailed: 0, abandoned: 0, waitedForOrphans: 0, maxDelAttempts: 0, reconciled: new Map<string, number>() };
  const unexpected: string[] = [];
  let restarted: () => void = () => undefined;
  let nextRestart = new Promise<void>((resolve) => { restarted = resolve; });
  const restart = async () => {
    const deadline = Date.now() + 10_000;
    if (orphanPlugins() > 0) figures.waitedForOrphans++;
    while (orphanPlugins() > 0 && Date.now() < deadline) await sleep(20);
    agent = await node.startAgent();
    const summary = /reconcile: released \(released\/found\) ([^"\\]*)/.exec(agent.stderr())?.[1];
    for (const [, kind, released] of (summary ?? '').matchAll(/(\w+) (\d+)\/\d+/g)) figures.reconciled.set(kind!, (figures.reconciled.get(kind!) ?? 0) + Number(released));
    const resolve = restarted;
    nextRestart = new Promise<void>((done) => { restarted = done; });
    resolve();
  };
  let done = false;
  const killer = (async () => {
    while (!done) {
      // Between a quarter and four ADDs apart: kills land in ADDs, DELs and the gaps between them.
      await sleep((0.25 + random() * 3.75) * windowMs);
      if (done) break;
      await agent.stop('SIGKILL');
      figures.kills++;
      await restart();
    }
  })();
  let nextCycle = 0;
  const worker = async (index: number) => {
    const networks = networksOf(index);
    for (let cycle = nextCycle++; cycle < CYCLES; cycle = nextCycle++) {
      const id = `ka${cycle}`;
      const pod = node.lab.containerNetns(`p${cycle}`);
      const add = await node.shim('ADD', id, pod.path, networks);
      if (add.exitCode !== 0) {
        figures.addsFailed++;
        if (add.json?.['code'] !== 11) unexpected.push(`cycle ${cycle}: ADD failed with ${add.stdout.trim()}`);
        if (random() < 0.25) {
          // The runtime gives the sandbox up: no DEL. A physical device goes back to the node under its pod name.
          figures.abandoned++;
          if (node.linkNames(pod.name).includes(`h${index}`)) sh('ip', ['-n', pod.name, 'link', 'set', `h${index}`, 'netns', node.lab.hostNs]);
          spawnSync('ip', ['netns', 'del', pod.name]);
          // Its device is the next start's to return; this worker's next pod needs it.
          await nextRestart;
          continue;
        }
      }
      const deadline = Date.now() + 60_000;
      let attempts = 0;
      let del;
      do {
        attempts++;
        del = await node.shim('DEL', id, pod.path, networks);
        if (del.exitCode !== 0) {
          figures.delsFailed++;
          if (del.json?.['code'] !== 11) unexpected.push(`cycle ${cycle}: DEL failed with ${del.stdout.trim()}`);
          await sleep(100);
        }
      } while (del.exitCode !== 0 && Date.now() < deadline);
      figures.maxDelAttempts = Math.max(figures.maxDelAttempts, attempts);
      if (del.exitCode !== 0) unexpected.push(`cycle ${cycle}: DEL never succeeded`);
      spawnSync('ip', ['netns', 'del', pod.name]);
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, index) => worker(index)));
  done = true;
  await killer;
  // Pods abandoned since the last restart are the next start's to reconcile.
  await agent.stop('SIGKILL');
  await restart();
  const after = node.nodeLinks();
  const seconds = (Date.now() - started) / 1000;
  const attributes = (links: typeof before) => links.map((link) => `${link.name} ${link.mac} ${link.mtu} ${link.alias ?? ''}`);
  t.comment(`${CYCLES} cycles in ${seconds.toFixed(0)} s; ${figures.kills} kills; ${figures.addsFailed} ADDs and ${figures.delsFailed} DEL attempts failed with code 11 because of them; ${figures.abandoned} pods abandoned without DEL; at most ${figures.maxDelAttempts} DEL attempts for one pod; waited for a killed agent's plugin processes before ${figures.waitedForOrphans} restarts`);
  t.comment(`released by startup reconcile: ${[...figures.reconciled].map(([kind, count]) => `${kind} ${count}`).join(', ') || 'nothing'}`);
  t.comment(`after: ${after.length} links in the node (before ${before.length}); leftovers on disk: ${node.podFiles().length}`);
  t.same(unexpected, [], 'every failure was the kill\'s (code 11), every DEL eventually succeeded');
  t.same(attributes(after), attributes(before), 'the node has exactly its links, each host-device under its name with its MAC, MTU and alias');
  t.same(node.leases(), [], 'IPAM dirs hold no lease');
  t.same(node.caches(), [], 'cache dir empty (no entry, no temp file)');
  t.same(node.allocations(), [], 'no standalone claim');
  t.same(node.delegateStates(), [], 'no delegate state');
  t.ok(figures.kills >= 20, `enough kills to mean something (${figures.kills})`);
});
