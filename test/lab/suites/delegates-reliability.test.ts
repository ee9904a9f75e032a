// The built-in delegates on the lab's real kernel, against the reference and against failure:
//   - ipvlan differential: the built-in and Debian's /usr/lib/cni/ipvlan, same config, each in its own
//     "host" namespace with an identical master, compared field by field (links with their ipvlan
//     details, addresses, routes, result);
//   - a pod netns deleted before DEL with a real igb VF: the kernel returns the VF to the init namespace
//     under the pod's ifname; DEL, then DEL again: both succeed, the VF is back under its name with its
//     MAC and MTU, and the PF's VF attributes are what they were;
//   - SIGKILL of `nicplex agent` at seeded random points of sriov ADD/DEL cycles on igb VFs (through the
//     C shim), a replacement agent serving the socket and the runtime's DEL retried: every VF back under
//     its name with its attributes, no link, allocation, state, cache file or host-local lease left. Only
//     DEL retries clean up here (no startup reconcile is relied on).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DelegateRegistry } from '../../../cni/delegates/registry.js';
import { ExecPluginExecutor } from '../../../cni/exec.js';
import { createDummy, nativeHostNetwork, setLinkMac, setLinkUp } from '../../../native/index.js';
import { AgentProcess, runShim } from '../../helpers/agent-harness.js';
import { igbVfSetup, vfList, vfNetdevs } from './igb-vfs.js';
import { addNetns, deleteNetns, filesUnder, ipJson, netdevsOf, notInLabReason, run, waitFor, type IpLink, type PciFunction } from './lab-guest.js';

const exec = new ExecPluginExecutor(['/usr/lib/cni'], 60_000);
const podPath = (name: string) => `/run/netns/${name}`;

/** Everything in a pod namespace that a CNI ADD decides, with kernel-chosen numbers (ifindex) left out. */
function podState(netnsName: string): { links: unknown[]; routes: string[] } {
  const links = ipJson<Array<Record<string, unknown>>>(['-d', 'addr', 'show'], netnsName).map((link) => ({
    ifname: link['ifname'], address: link['address'], broadcast: link['broadcast'], mtu: link['mtu'], flags: link['flags'], operstate: link['operstate'],
    kind: (link['linkinfo'] as { info_kind?: string } | undefined)?.info_kind, data: (link['linkinfo'] as { info_data?: unknown } | undefined)?.info_data,
    addrs: ((link['addr_info'] as Array<Record<string, unknown>>) ?? []).map((a) => `${a['family']} ${a['local']}/${a['prefixlen']} ${a['scope']}${a['noprefixroute'] ? ' noprefixroute' : ''}`).sort(),
  }));
  const routes = ['-4', '-6'].flatMap((family) => ipJson<Array<Record<string, unknown>>>([family, 'route', 'show', 'table', 'all'], netnsName).map((route) => JSON.stringify(route))).sort();
  return { links, routes };
}

t.test('ipvlan differential: the built-in and Debian\'s ipvlan leave the pod in the same state and answer the same result', { skip: notInLabReason }, async (tt) => {
  run('modprobe', ['-a', 'dummy', 'ipvlan']);
  const ipam = { type: 'static', addresses: [{ address: '10.87.0.5/24', gateway: '10.87.0.1' }, { address: 'fd87::5/64' }], routes: [{ dst: '0.0.0.0/0' }, { dst: '10.88.0.0/16', gw: '10.87.0.254' }], dns: { nameservers: ['10.87.0.53'] } };
  for (const [mode, mtu] of [['l2', 1400], ['l3s', 0]] as const) {
    const side = (which: 'ref' | 'own') => ({ host: `npx-dlgd-${which}h`, pod: `npx-dlgd-${which}p` });
    const sides = { reference: side('ref'), builtin: side('own') };
    tt.teardown(() => Object.values(sides).forEach((s) => [s.pod, s.host].forEach(deleteNetns)));
    for (const s of Object.values(sides)) {
      addNetns(s.host);
      addNetns(s.pod);
      await createDummy({ name: 'master0', netns: podPath(s.host), mtu: 1500 });
      await setLinkMac('master0', '02:6e:70:87:00:01', { netns: podPath(s.host) });
      await setLinkUp('master0', true, { netns: podPath(s.host) });
    }
    const conf = { cniVersion: '1.0.0', name: 'ipvdiff', type: 'ipvlan', master: 'master0', mode, ...(mtu ? { mtu } : {}), ipam, dns: { nameservers: ['192.0.2.53'] } };
    const reference = spawnSync('ip', ['netns', 'exec', sides.reference.host, '/usr/lib/cni/ipvlan'], {
      input: JSON.stringify(conf), encoding: 'utf8', timeout: 60_000,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'twin', CNI_NETNS: podPath(sides.reference.pod), CNI_IFNAME: 'net1', CNI_PATH: '/usr/lib/cni' },
    });
    tt.equal(reference.status, 0, `reference ADD (${mode}): ${reference.stdout}${reference.stderr}`);
    const reg = new DelegateRegistry({ host: nativeHostNetwork(), hostNetns: podPath(sides.builtin.host), stateDir: mkdtempSync(join(tmpdir(), 'npx-lab-ipvdiff-')) });
    const own = await reg.run({ type: 'ipvlan', command: 'ADD', containerId: 'twin', netns: podPath(sides.builtin.pod), ifname: 'net1', cniArgs: '', stdin: conf }, exec) as Record<string, unknown>;
    const normalise = (result: unknown, pod: string) => JSON.parse(JSON.stringify(result).split(podPath(pod)).join('/run/netns/POD')) as Record<string, unknown>;
    const expected = normalise(JSON.parse(reference.stdout), sides.reference.pod);
    const actual = normalise(own, sides.builtin.pod);
    for (const key of new Set([...Object.keys(expected), ...Object.keys(actual)])) tt.same(actual[key], expected[key], `${mode}: result.${key}`);
    // IPv6 DAD and the link-local address settle on their own timers; compare once both sides have.
    await waitFor('IPv6 addresses out of DAD on both sides', () => Object.values(sides).every((s) => !/tentative/.test(run('ip', ['-n', s.pod, '-6', 'addr', 'show', 'dev', 'net1']))), 15_000);
    const referenceState = podState(sides.reference.pod);
    const builtinState = podState(sides.builtin.pod);
    tt.same(builtinState.links, referenceState.links, `${mode}: links (names, MACs, MTU, flags, ipvlan mode and flags, addresses)`);
    tt.same(builtinState.routes, referenceState.routes, `${mode}: routes of every table`);
    Object.values(sides).forEach((s) => [s.pod, s.host].forEach(deleteNetns));
  }
});

let igb: { pf: string; vfs: PciFunction[] } | undefined;
async function igbOnce(): Promise<{ pf: string; vfs: PciFunction[] }> {
  igb ??= await igbVfSetup();
  return igb;
}

t.test('netns gone before DEL with a real VF: DEL, then DEL again, both succeed; the VF is back under its name with its attributes', { skip: notInLabReason }, async (tt) => {
  const { pf, vfs } = await igbOnce();
  const vf = vfs[0]!;
  const pod = 'npx-dlg-gone';
  tt.teardown(() => deleteNetns(pod));
  addNetns(pod);
  const before = { pfVfs: vfList(pf), netdev: vfNetdevs([vf])[0]! };
  const reg = new DelegateRegistry({ host: nativeHostNetwork(), stateDir: mkdtempSync(join(tmpdir(), 'npx-lab-gone-')) });
  const conf = { cniVersion: '1.0.0', name: 'gone', type: 'sriov', deviceID: vf.address, vlan: 103, mac: '02:6e:70:00:04:01', spoofchk: 'off', trust: 'on', ipam: { type: 'static', addresses: [{ address: '10.89.0.1/24' }] } };
  const call = (command: string) => reg.run({ type: 'sriov', command, containerId: 'gone', netns: podPath(pod), ifname: 'net7', cniArgs: '', stdin: conf }, exec);
  await call('ADD');
  run('ip', ['-n', pod, 'link', 'set', 'net7', 'mtu', '1280']);
  tt.equal(ipJson<IpLink[]>(['link', 'show', 'dev', 'net7'], pod)[0]?.mtu, 1280, 'the VF netdev is in the pod as net7');
  deleteNetns(pod);
  const released = await waitFor('the kernel to return the VF to the init namespace', () => netdevsOf(vf.dir)[0], 20_000);
  tt.equal(released, 'net7', 'the VF came back under the pod\'s ifname');
  await call('DEL');
  await call('DEL');
  tt.pass('both DELs succeeded');
  tt.same(vfNetdevs([vf])[0], before.netdev, 'the VF netdev is back under its name with its MAC and MTU');
  tt.same(vfList(pf), before.pfVfs, 'ip -d link of the PF: VLAN, MAC, spoofchk and trust as before ADD');
});

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('SIGKILL of the agent at seeded random points of sriov ADD/DEL cycles: after restarts and DEL retries nothing is left', { skip: notInLabReason }, async (tt) => {
  const { pf, vfs } = await igbOnce();
  const seed = Number(process.env['NICPLEX_LAB_KILL_SEED'] ?? 20261201);
  const random = seeded(seed);
  const cycles = Number(process.env['NICPLEX_LAB_KILL_CYCLES'] ?? 6);
  const kills = Math.min(cycles, Number(process.env['NICPLEX_LAB_KILLS'] ?? 2));
  // Which cycles are killed, in which step and how long after the shim's call: seeded. The first kill
  // hits an ADD, the second a DEL, then they alternate; the delay is within what a step takes under TCG
  // (about a second through the agent), so most kills land inside the call: `killedMidCall` counts them.
  const plan = new Map<number, { phase: 'ADD' | 'DEL'; afterMs: number }>();
  while (plan.size < kills) {
    const cycle = Math.floor(random() * cycles);
    if (!plan.has(cycle)) plan.set(cycle, { phase: 'ADD', afterMs: 0 });
  }
  [...plan.keys()].sort((a, b) => a - b).forEach((cycle, n) => plan.set(cycle, { phase: n % 2 === 0 ? 'ADD' : 'DEL', afterMs: 100 + Math.floor(random() * 800) }));
  const dir = mkdtempSync(join(tmpdir(), 'npx-lab-kill-'));
  // The conf's socketDir is a symlink to the live agent's own socket dir. A Node start under TCG takes a
  // minute or more, so the replacement agents boot ahead, side by side, each on its own socket dir; a
  // kill switches the symlink to the next one, which then serves the runtime's retries as a restarted
  // agent would (none of them reads any attachment state at startup: only the DEL retries clean up).
  const socketDir = join(dir, 'sock');
  const agentDirs = Array.from({ length: kills + 1 }, (_, n) => join(dir, `sock-${n}`));
  symlinkSync(agentDirs[0]!, socketDir);
  const paths = { nads: join(dir, 'nads'), alloc: join(dir, 'alloc'), state: join(dir, 'state'), cache: join(dir, 'cache'), ipam: join(dir, 'ipam') };
  mkdirSync(paths.nads, { recursive: true });
  writeFileSync(join(paths.nads, 'vf.json'), JSON.stringify({
    apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
    metadata: { name: 'vf', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/resourceName': 'intel.com/igb_vf' } },
    spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: 'vf', type: 'sriov', vlan: 104, spoofchk: 'off', trust: 'on', ipam: { type: 'host-local', dataDir: paths.ipam, ranges: [[{ subnet: '10.90.0.0/24' }]] } }) },
  }));
  const conf = {
    cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: paths.cache, binDir: '/usr/lib/cni', socketDir, agentWaitSeconds: 2, delegateStateDir: paths.state,
    standalone: { nadDir: paths.nads, allocationDir: paths.alloc, devicePools: { 'intel.com/igb_vf': [vfs[0]!.address, vfs[1]!.address] } },
    delegates: [{ cniVersion: '1.0.0', name: 'lo', type: 'loopback' }],
  };
  const hostLinksBefore = ipJson<IpLink[]>(['link', 'show']).map((link) => link.ifname).sort();
  const before = { pfVfs: vfList(pf), netdevs: vfNetdevs([vfs[0]!, vfs[1]!]) };
  const booting = Date.now();
  const agents = await Promise.all(agentDirs.map((agentDir) => AgentProcess.startInRootNetns(['--metrics-address', '', '--socket-dir', agentDir], join(agentDir, 'nicplex.sock'), { timeoutMs: 240_000 })));
  tt.teardown(() => Promise.all(agents.map((agent) => agent.stop('SIGKILL'))));
  const figures = {
    seed, cycles, kills: 0, killedDuringAdd: 0, killedDuringDel: 0, killedMidCall: 0, addsFailed: 0, delAttempts: 0,
    agentsBootMs: Date.now() - booting, agentListenMs: agents.map((agent) => agent.listenMs), stepMs: [] as number[],
  };
  let live = 0;
  const takeOver = () => {
    live++;
    const link = `${socketDir}.new`;
    symlinkSync(agentDirs[live]!, link);
    renameSync(link, socketDir);
  };
  const env = (command: string, pod: string) => ({
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: `kill-${pod}`, CNI_NETNS: podPath(pod), CNI_IFNAME: 'eth0',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};NICPLEX_NETWORKS=vf@net1`,
  });
  for (let cycle = 0; cycle < cycles; cycle++) {
    const pod = `npx-dlg-k${cycle}`;
    addNetns(pod);
    const kill = plan.get(cycle);
    const step = async (command: 'ADD' | 'DEL') => {
      const call = runShim(env(command, pod), conf);
      if (kill?.phase !== command) {
        const answer = await call;
        figures.stepMs.push(Math.round(answer.ms));
        return answer;
      }
      await new Promise((resolve) => setTimeout(resolve, kill.afterMs));
      agents[live]!.child.kill('SIGKILL');
      await agents[live]!.exit;
      figures.kills++;
      if (command === 'ADD') figures.killedDuringAdd++;
      else figures.killedDuringDel++;
      const answer = await call;
      // The kill landed inside the call when the shim got no answer from the agent.
      if (answer.exitCode !== 0) figures.killedMidCall++;
      takeOver();
      return answer;
    };
    const added = await step('ADD');
    if (added.exitCode !== 0) figures.addsFailed++;
    // The runtime's DEL: retried (bounded) until it succeeds, whatever ADD answered.
    let deleted = await step('DEL');
    figures.delAttempts++;
    for (let attempt = 0; deleted.exitCode !== 0 && attempt < 3; attempt++) {
      deleted = await runShim(env('DEL', pod), conf);
      figures.delAttempts++;
    }
    tt.equal(deleted.exitCode, 0, `cycle ${cycle}${kill ? ` (killed in ${kill.phase} after ${kill.afterMs} ms)` : ''}: DEL succeeded: ${deleted.stdout}${deleted.stderr.slice(-300)}${deleted.exitCode === 0 ? '' : agents[live]!.stderr().slice(-1500)}`);
    deleteNetns(pod);
  }
  const leftovers = {
    hostLinks: ipJson<IpLink[]>(['link', 'show']).map((link) => link.ifname).sort().filter((name) => !hostLinksBefore.includes(name)),
    allocations: filesUnder(paths.alloc), state: filesUnder(paths.state), cache: filesUnder(paths.cache),
    // host-local keeps its lock and last_reserved_ip files; a leaked lease is a file named by its address.
    ipamLeases: filesUnder(paths.ipam).filter((name) => /^[0-9a-f.:]+$/.test(name)),
  };
  const stepMedianMs = [...figures.stepMs].sort((a, b) => a - b)[Math.floor(figures.stepMs.length / 2)] ?? 0;
  tt.comment(`figures: ${JSON.stringify({ ...figures, stepMs: undefined, stepMedianMs, plan: Object.fromEntries(plan), leftovers })}`);
  tt.equal(figures.kills, kills, `the agent was killed ${figures.kills} times (${figures.killedDuringAdd} in ADD, ${figures.killedDuringDel} in DEL)`);
  tt.ok(figures.killedMidCall > 0, `${figures.killedMidCall} of the kills landed inside a call (the shim got no answer)`);
  tt.same(leftovers.hostLinks, [], 'no link in the init namespace that was not there before');
  tt.same(vfNetdevs([vfs[0]!, vfs[1]!]), before.netdevs, 'both VF netdevs back under their names with their MACs and MTUs');
  tt.same(vfList(pf), before.pfVfs, 'ip -d link of the PF: every VF attribute as before');
  tt.same(leftovers.allocations, [], 'no device allocation left');
  tt.same(leftovers.state, [], 'no delegate state file left');
  tt.same(leftovers.cache, [], 'no cache file left');
  tt.same(leftovers.ipamLeases, [], 'no host-local lease left');
});
