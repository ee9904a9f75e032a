// Churn soak: 1000 pod ADD/DEL cycles through one agent, eight pods at a time: the cluster network is an
// exec'd macvlan with a host-local lease, plus the built-in host-device on a veth end without IPAM (light
// pods, so the agent itself is what is soaked: its sockets, child pipes, state files and heap). Between batches of 100, with nothing in
// flight, the agent's open fds and RSS, the node's links, nicplex's files and the cache entries are
// measured. Links, files and cache entries must be exactly what they were at the start; fds and RSS must
// end near where they started (the first batch warms the agent up: lazy imports, JIT, pools).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { ReliabilityNode, processFigures } from '../helpers/reliability-node.js';

const CYCLES = Number(process.env['NICPLEX_CYCLES'] ?? 1000);
const BATCH = 100;
const WORKERS = 8;
/** The bounds "end ≈ start" is held to. */
const FD_SLACK = 3;
const RSS_SLACK_MIB = 40;

const node = new ReliabilityNode('cs', { hostDevices: WORKERS, poolDevices: 0, hostDeviceIpam: false });
t.teardown(() => node.cleanup());

t.test(`${CYCLES} ADD/DEL cycles through the agent: fds, RSS, links, files and cache entries stay constant`, async (t) => {
  const agent = await node.startAgent();
  t.teardown(() => agent.stop('SIGKILL'));
  t.match(readFileSync(`/proc/${agent.pid}/cmdline`, 'utf8'), /agent/, 'measuring the agent process itself');
  const pods = Array.from({ length: WORKERS }, (_, index) => node.lab.containerNetns(`w${index}`));
  const failures: string[] = [];
  let cycle = 0;
  const runBatch = async (count: number) => {
    const end = cycle + count;
    await Promise.all(pods.map(async (pod, index) => {
      const networks = `hd${index}@h${index}`;
      while (cycle < end) {
        const id = `cs${cycle++}`;
        const add = await node.shim('ADD', id, pod.path, networks);
        if (add.exitCode !== 0) failures.push(`ADD ${id}: ${add.stdout.trim()}`);
        const del = await node.shim('DEL', id, pod.path, networks);
        if (del.exitCode !== 0) failures.push(`DEL ${id}: ${del.stdout.trim()}`);
      }
    }));
  };
  const measure = () => ({ ...processFigures(agent.pid), links: node.nodeLinks().length, files: node.podFiles().length, caches: node.caches().length, podLinks: pods.reduce((sum, pod) => sum + node.linkNames(pod.name).length, 0) });
  // Warm-up: the first batch loads what the agent loads lazily; the soak is measured from here.
  await runBatch(BATCH);
  const start = measure();
  const peak = { ...start };
  const samples = [start];
  const started = Date.now();
  while (cycle < CYCLES) {
    await runBatch(Math.min(BATCH, CYCLES - cycle));
    const sample = measure();
    samples.push(sample);
    for (const key of Object.keys(peak) as Array<keyof typeof peak>) peak[key] = Math.max(peak[key], sample[key]);
  }
  const end = samples.at(-1)!;
  const seconds = (Date.now() - started) / 1000;
  const row = (name: string, figures: typeof start) => `${name}: fds ${figures.fds}, RSS ${figures.rssMiB.toFixed(1)} MiB, node links ${figures.links}, pod links ${figures.podLinks}, files ${figures.files}, cache entries ${figures.caches}`;
  t.comment(`${cycle} cycles (${BATCH} of them warm-up) in ${seconds.toFixed(0)} s after warm-up`);
  t.comment(row('start', start));
  t.comment(row('peak ', peak));
  t.comment(row('end  ', end));
  t.comment(`RSS per batch: ${samples.map((sample) => sample.rssMiB.toFixed(1)).join(' ')} MiB; fds per batch: ${samples.map((sample) => sample.fds).join(' ')}`);
  t.same(failures, [], 'every ADD and DEL succeeded');
  t.equal(end.links, start.links, 'node links: exactly as many as at the start');
  t.equal(end.podLinks, start.podLinks, 'pod netns: only lo, as at the start');
  t.equal(end.files, start.files, 'files: exactly as many as at the start');
  t.equal(end.caches, start.caches, 'cache entries: exactly as many as at the start');
  t.same(node.podFiles(), [], 'and that is none');
  t.ok(end.fds <= start.fds + FD_SLACK, `open fds end ≈ start (${start.fds} → ${end.fds}, bound +${FD_SLACK})`);
  t.ok(end.rssMiB <= start.rssMiB + RSS_SLACK_MIB, `RSS end ≈ start (${start.rssMiB.toFixed(1)} → ${end.rssMiB.toFixed(1)} MiB, bound +${RSS_SLACK_MIB} MiB)`);
  for (const pod of pods) spawnSync('ip', ['netns', 'del', pod.name]);
});
