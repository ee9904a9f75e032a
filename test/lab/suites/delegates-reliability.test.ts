// The built-in delegates on the lab's real kernel, against the reference and against failure:
//   - ipvlan differential: the built-in and Debian's /usr/lib/cni/ipvlan, same config, each in its own
//     "host" namespace with an identical master, compared field by field (links with their ipvlan
//     details, addresses, routes, result);
//   - a pod netns deleted before DEL with a real igb VF: the kernel returns the VF to the init namespace
//     under the pod's ifname; DEL, then DEL again: both succeed, the VF is back under its name with its
//     MAC and MTU, and the PF's VF attributes are what they were;
//   - SIGKILL of `nicplex agent` at seeded random points of sriov ADD/DEL cycles on igb VFs (through the
//     C shim), the agent restarted and the runtime's DEL retried: every VF back under its name with its
//     attributes, no link, allocation, state, cache file or host-local lease left. Only DEL retries clean up here (no
//     startup reconcile is relied on).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DelegateRegistry } from '../../../cni/delegates/registry.js';
import { ExecPluginExecutor } from '../../../cni/exec.js';
import { createDummy, nativeHostNetwork, setLinkMac, setLinkUp } from '../../../native/index.js';
import { AgentProcess, runShim } from '../../helpers/agent-harness.js';
import { igbVfSetup } from './igb-vfs.js';
import { addNetns, deleteNetns, ipJson, netdevsOf, notInLabReason, run, waitFor, type IpLink, type PciFunction } from './lab-guest.js';

const exec = new ExecPluginExecutor(['/usr/lib/cni'], 60_000);
const podPath = (name: string) => `/run/netns/${name}`;

function vfList(pf: string): unknown {
  return (ipJson<IpLink[]>(['-d', 'link', 'show', 'dev', pf])[0]?.vfinfo_list ?? []).map((vf) => ({ ...vf, stats: undefined }));
}

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

function vfNetdevs(vfs: PciFunction[]): Array<{ name: string | undefined; mac: string | undefined; mtu: number | undefined }> {
  return vfs.map((vf) => {
    const name = netdevsOf(vf.dir)[0];
    const link = name ? ipJson<IpLink[]>(['link', 'show', 'dev', name])[0] : undefined;
    return { name, mac: link?.address, mtu: link?.mtu };
  });
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

/** Files (not directories) anywhere under `dir`. */
const filesUnder = (dir: string) => (existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => !entry.isDirectory()).map((entry) => entry.name) : []);

t.test('SIGKILL of the agent at seeded random points of sriov ADD/DEL cycles: after restarts and DEL retries nothing is left', { skip: notInLabReason }, async (tt) => {
  const { pf, vfs } = await igbOnce();
  const seed = Number(process.env['NICPLEX_LAB_KILL_SEED'] ?? 20261201);
  const random = seeded(seed);
  const cycles = Number(process.env['NICPLEX_LAB_KILL_CYCLES'] ?? 16);
  const dir = mkdtempSync(join(tmpdir(), 'npx-lab-kill-'));
  const socketDir = join(dir, 'sock');
  const socketPath = join(socketDir, 'nicplex.sock');
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
  const agentArgs = ['--metrics-address', '', '--socket-dir', socketDir];
  let agent = await AgentProcess.startInRootNetns(agentArgs, socketPath, { timeoutMs: 90_000 });
  tt.teardown(() => agent.stop('SIGKILL'));
  const figures = { cycles, kills: 0, killedDuringAdd: 0, killedDuringDel: 0, addsFailed: 0, delAttempts: 0, restarts: 0, firstListenMs: agent.listenMs, restartMs: [] as number[] };
  const restart = async () => {
    const started = Date.now();
    await agent.exit;
    agent = await AgentProcess.startInRootNetns(agentArgs, socketPath, { timeoutMs: 90_000 });
    figures.restarts++;
    figures.restartMs.push(Date.now() - started);
  };
  const env = (command: string, pod: string) => ({
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: `kill-${pod}`, CNI_NETNS: podPath(pod), CNI_IFNAME: 'eth0',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};NICPLEX_NETWORKS=vf@net1`,
  });
  for (let cycle = 0; cycle < cycles; cycle++) {
    const pod = `npx-dlg-k${cycle}`;
    addNetns(pod);
    // One cycle in four is killed: in ADD or in DEL, after a random delay within what the step takes under TCG.
    const kill = random() < 0.25 ? { phase: random() < 0.5 ? 'ADD' : 'DEL', afterMs: Math.floor(random() * 1500) } : undefined;
    const step = async (command: 'ADD' | 'DEL') => {
      const call = runShim(env(command, pod), conf);
      if (kill?.phase === command) {
        await new Promise((resolve) => setTimeout(resolve, kill.afterMs));
        agent.child.kill('SIGKILL');
        figures.kills++;
        if (command === 'ADD') figures.killedDuringAdd++;
        else figures.killedDuringDel++;
        const answer = await call;
        await restart();
        return answer;
      }
      return call;
    };
    const added = await step('ADD');
    if (added.exitCode !== 0) figures.addsFailed++;
    // The runtime's DEL: retried (bounded) until it succeeds, whatever ADD answered.
    let deleted = await step('DEL');
    figures.delAttempts++;
    for (let attempt = 0; deleted.exitCode !== 0 && attempt < 5; attempt++) {
      if (agent.child.exitCode !== null || agent.child.signalCode !== null) await restart();
      deleted = await runShim(env('DEL', pod), conf);
      figures.delAttempts++;
    }
    tt.equal(deleted.exitCode, 0, `cycle ${cycle}${kill ? ` (killed in ${kill.phase} after ${kill.afterMs} ms)` : ''}: DEL succeeded: ${deleted.stdout}${deleted.stderr.slice(-300)}`);
    deleteNetns(pod);
  }
  const leftovers = {
    hostLinks: ipJson<IpLink[]>(['link', 'show']).map((link) => link.ifname).sort().filter((name) => !hostLinksBefore.includes(name)),
    allocations: filesUnder(paths.alloc), state: filesUnder(paths.state), cache: filesUnder(paths.cache),
    // host-local keeps its lock and last_reserved_ip files; a leaked lease is a file named by its address.
    ipamLeases: filesUnder(paths.ipam).filter((name) => /^[0-9a-f.:]+$/.test(name)),
  };
  tt.comment(`figures: ${JSON.stringify({ seed, ...figures, restartMedianMs: [...figures.restartMs].sort((a, b) => a - b)[Math.floor(figures.restartMs.length / 2)] ?? 0, leftovers })}`);
  tt.ok(figures.kills > 0, `the agent was killed ${figures.kills} times`);
  tt.same(leftovers.hostLinks, [], 'no link in the init namespace that was not there before');
  tt.same(vfNetdevs([vfs[0]!, vfs[1]!]), before.netdevs, 'both VF netdevs back under their names with their MACs and MTUs');
  tt.same(vfList(pf), before.pfVfs, 'ip -d link of the PF: every VF attribute as before');
  tt.same(leftovers.allocations, [], 'no device allocation left');
  tt.same(leftovers.state, [], 'no delegate state file left');
  tt.same(leftovers.cache, [], 'no cache file left');
  tt.same(leftovers.ipamLeases, [], 'no host-local lease left');
});
