// The pod netns is deleted before DEL. What the kernel does then depends on the device: a veth end is
// virtual, so the kernel destroys it, and a veth is always destroyed with its peer, so both ends are gone
// from the node. A physical netdev (or VF) is not destroyed: the kernel moves it back to the initial
// namespace under the name it has in the pod (the VF variant runs in the lab tier). On this machine the
// physical case is modelled by moving the pod's interface back to the test node under its pod name, as
// the kernel would, before deleting the netns. Then DEL, and DEL again: both succeed, the device is back
// (or, for veth, gone as the kernel decided), and nothing is left on disk. Last: the netns is gone and
// no DEL ever comes, the agent is restarted: its startup reconcile does the releasing.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REFERENCE_PLUGIN_DIR, sh } from '../helpers/cni-lab.js';
import { runShim } from '../helpers/agent-harness.js';
import { cliPath } from '../helpers/paths.js';
import { ReliabilityNode } from '../helpers/reliability-node.js';

const node = new ReliabilityNode('ng', { hostDevices: 4, poolDevices: 2 });
t.teardown(() => node.cleanup());

const hostDevice = (name: string) => node.nodeLinks().find((link) => link.name === name);
/** What the kernel does with a physical netdev of a dying netns, here into the test node instead of the initial namespace. */
const returnAsKernelWould = (podNs: string, ifname: string) => sh('ip', ['-n', podNs, 'link', 'set', ifname, 'netns', node.lab.hostNs]);

t.test('veth host-device: netns deleted, the kernel destroys the pair; DEL and DEL again succeed and clean up', async (t) => {
  const agent = await node.startAgent();
  t.teardown(() => agent.stop('SIGKILL'));
  const before = node.nodeLinks();
  const pod = node.lab.containerNetns('a');
  const add = await node.shim('ADD', 'ngveth', pod.path, 'hd0');
  t.equal(add.exitCode, 0, add.stdout + agent.stderr());
  t.same(node.linkNames(pod.name), ['eth0', 'lo', 'net1']);
  spawnSync('ip', ['netns', 'del', pod.name]);
  const after = node.nodeLinks().map((link) => link.name);
  t.notOk(after.includes('hd0p'), 'the kernel destroyed the veth peer left in the node with its pod end');
  t.comment(`veth: links in the node before ADD ${before.length}, after the netns died ${after.length} (hd0 and hd0p destroyed by the kernel)`);
  for (const round of ['DEL', 'DEL again']) {
    const del = await node.shim('DEL', 'ngveth', pod.path, 'hd0');
    t.equal(del.exitCode, 0, `${round} succeeds: ${del.stdout}`);
  }
  t.same(node.podFiles(), [], 'no lease, cache, claim, delegate state or device-info file left');
  t.same(node.nodeLinks().map((link) => link.name), before.map((link) => link.name).filter((name) => name !== 'hd0' && name !== 'hd0p'), 'no link left over; only the destroyed pair is missing');
});

t.test('physical netdev (modelled): back in the node under the pod ifname; DEL returns it with its name, MAC and MTU; DEL again succeeds', async (t) => {
  const agent = await node.startAgent();
  t.teardown(() => agent.stop('SIGKILL'));
  const before = node.nodeLinks();
  const original = hostDevice('hd1')!;
  const pod = node.lab.containerNetns('b');
  const add = await node.shim('ADD', 'ngphys', pod.path, 'hd1');
  t.equal(add.exitCode, 0, add.stdout + agent.stderr());
  returnAsKernelWould(pod.name, 'net1');
  spawnSync('ip', ['netns', 'del', pod.name]);
  t.ok(hostDevice('net1'), 'the device sits in the node under its pod name');
  const dels = [await node.shim('DEL', 'ngphys', pod.path, 'hd1'), await node.shim('DEL', 'ngphys', pod.path, 'hd1')];
  t.same(dels.map((del) => del.exitCode), [0, 0], `DEL and DEL again succeed (${dels.map((del) => del.stdout.trim()).join(' | ')})`);
  const restored = hostDevice('hd1');
  t.same(restored && { name: restored.name, mac: restored.mac, mtu: restored.mtu }, { name: 'hd1', mac: original.mac, mtu: original.mtu }, 'hd1 is back with its MAC and MTU');
  t.same(node.nodeLinks().map((link) => link.name), before.map((link) => link.name), 'the node has exactly the links it had');
  t.same(node.podFiles(), [], 'nothing left on disk');
  t.comment(`physical model: hd1 restored as ${restored?.name} ${restored?.mac} mtu ${restored?.mtu}; DELs ${dels.map((del) => `${del.ms.toFixed(0)} ms`).join(', ')}`);
});

t.test('netns gone and no DEL: the restarted agent\'s reconcile releases the device, leases, claim, cache and stale temp files; counted in metrics', async (t) => {
  let agent = await node.startAgent();
  t.teardown(() => agent.stop('SIGKILL'));
  const before = node.nodeLinks();
  const original = hostDevice('hd2')!;
  const pod = node.lab.containerNetns('c');
  const add = await node.shim('ADD', 'ngrecon', pod.path, 'hd2,pooled');
  t.equal(add.exitCode, 0, add.stdout + agent.stderr());
  t.equal(node.leases().length, 3, 'three leases (cluster, hd2, pooled)');
  t.equal(node.allocations().length, 1, 'one pool device claimed');
  await agent.stop('SIGKILL');
  returnAsKernelWould(pod.name, 'net1');
  spawnSync('ip', ['netns', 'del', pod.name]);
  // What a kill during an atomic write leaves (a dead writer's temp file), and a claim with no owner written by an older version.
  writeFileSync(join(node.cacheDir, '.ngother.999999999.0badf00d.tmp'), '{"plan":');
  mkdirSync(join(node.allocationDir, 'example.com_pool'), { recursive: true });
  writeFileSync(join(node.allocationDir, 'example.com_pool', 'pdev1'), '');
  const old = new Date(Date.now() - 120_000);
  utimesSync(join(node.allocationDir, 'example.com_pool', 'pdev1'), old, old);
  const port = 19_000 + (process.pid % 1000);
  agent = await node.startAgent(['--metrics-address', `127.0.0.1:${port}`]);
  // The killed agent left its socket file behind; the restarted one's replacement is private again.
  const socket = statSync(node.socketPath);
  t.same({ mode: socket.mode & 0o777, uid: socket.uid, dir: statSync(node.socketDir).mode & 0o777 }, { mode: 0o600, uid: 0, dir: 0o700 }, 'after a kill -9 and restart the socket is 0600 root in a 0700 dir');
  const summary = /reconcile: released \(released\/found\) ([^"]*)/.exec(agent.stderr())?.[1];
  t.comment(`reconcile log: ${summary ?? agent.stderr()}`);
  t.match(summary, /staleAttachment 1\/1/, 'the stale attachment is released');
  t.match(summary, /displacedLink 1\/1/, 'the device under the pod ifname is counted');
  t.match(summary, /malformedAllocation 1\/1/, 'the owner-less claim is reclaimed');
  t.match(summary, /staleTempFile 1\/1/, 'the temp file is removed');
  const metrics = sh('ip', ['netns', 'exec', node.lab.hostNs, process.execPath, '-e', `fetch('http://127.0.0.1:${port}/metrics').then((r) => r.text()).then((text) => process.stdout.write(text))`]);
  const reconcileLines = metrics.split('\n').filter((line) => line.startsWith('nicplex_reconcile_'));
  t.comment(`metrics:\n${reconcileLines.join('\n')}`);
  t.ok(reconcileLines.includes('nicplex_reconcile_found_total{kind="staleAttachment"} 1'), 'metrics count the stale attachment found');
  t.ok(reconcileLines.includes('nicplex_reconcile_released_total{kind="staleAttachment"} 1'), 'and released');
  t.ok(reconcileLines.includes('nicplex_reconcile_released_total{kind="staleTempFile"} 1'), 'and the temp file');
  const restored = hostDevice('hd2');
  t.same(restored && { mac: restored.mac, mtu: restored.mtu }, { mac: original.mac, mtu: original.mtu }, 'hd2 is back with its MAC and MTU, before any DEL');
  t.same(node.nodeLinks().map((link) => link.name), before.map((link) => link.name), 'the node has exactly the links it had');
  t.same(node.podFiles(), [], 'no lease, cache, claim, delegate state or temp file left');
  const dels = [await node.shim('DEL', 'ngrecon', pod.path, 'hd2,pooled'), await node.shim('DEL', 'ngrecon', pod.path, 'hd2,pooled')];
  t.same(dels.map((del) => del.exitCode), [0, 0], 'the runtime\'s late DELs still succeed');
  t.same(node.podFiles(), [], 'and change nothing');
});

t.test('GC (CNI 1.1): a host-device whose cache entry was lost is returned from the delegate\'s own state', async (t) => {
  const agent = await node.startAgent();
  t.teardown(() => agent.stop('SIGKILL'));
  const before = node.nodeLinks();
  const original = hostDevice('hd3')!;
  const pod = node.lab.containerNetns('d');
  const add = await node.shim('ADD', 'nggc', pod.path, 'hd3');
  t.equal(add.exitCode, 0, add.stdout + agent.stderr());
  // The meta-plugin's cache is gone (a DEL that failed half way removed it); the host-device state is not.
  rmSync(join(node.cacheDir, 'nggc'));
  returnAsKernelWould(pod.name, 'net1');
  spawnSync('ip', ['netns', 'del', pod.name]);
  t.same(node.delegateStates(), ['host-device/nggc-net1.json'], 'only the delegate state knows the device');
  const gc = await runShim({ CNI_COMMAND: 'GC', CNI_PATH: REFERENCE_PLUGIN_DIR }, node.conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] }));
  t.equal(gc.exitCode, 0, gc.stdout + agent.stderr());
  const restored = hostDevice('hd3');
  t.same(restored && { mac: restored.mac, mtu: restored.mtu }, { mac: original.mac, mtu: original.mtu }, 'hd3 is back under its name with its MAC and MTU');
  t.same(node.delegateStates(), [], 'the delegate state is released');
  t.same(node.nodeLinks().map((link) => link.name), before.map((link) => link.name), 'the node has exactly the links it had');
  // The IPAM config of an attachment lived in the lost cache entry: nicplex cannot DEL its leases. A
  // cniVersion 1.1.0 network gets the runtime's GC forwarded to its IPAM; these two are 1.0.0.
  const leases = node.leases();
  t.same(leases.map((lease) => lease.split('/')[0]), ['cluster', 'hd3'], `only the lost attachment's leases remain (${leases.join(', ')})`);
  for (const lease of leases) rmSync(join(node.ipamDir, lease));
  t.comment(`GC: hd3 returned from host-device state as ${restored?.name} ${restored?.mac} mtu ${restored?.mtu} in ${gc.ms.toFixed(0)} ms`);
});

t.test('thin mode: `nicplex reconcile` releases a pod whose netns is gone (dry run first changes nothing)', async (t) => {
  const pod = node.lab.containerNetns('e');
  const add = await node.thin('ADD', 'ngthin', pod.path, 'pooled');
  t.equal(add.exitCode, 0, add.stdout + add.stderr);
  spawnSync('ip', ['netns', 'del', pod.name]);
  const held = node.podFiles();
  t.equal(held.length, 4, `cache, claim and two leases held (${held.join(', ')})`);
  const reconcile = (...extra: string[]) => {
    const run = spawnSync('ip', ['netns', 'exec', node.lab.hostNs, process.execPath, cliPath, 'reconcile', '--cni-conf', node.confPath, ...extra], { encoding: 'utf8' });
    return { status: run.status, report: JSON.parse(run.stdout) as { found: Record<string, number>; released: Record<string, number>; failures: string[] }, stderr: run.stderr };
  };
  const dry = reconcile('--dry-run');
  t.equal(dry.status, 0, dry.stderr);
  t.equal(dry.report.found['staleAttachment'], 1, 'the dry run finds the stale attachment');
  t.same(node.podFiles(), held, 'and changes nothing');
  const real = reconcile();
  t.equal(real.status, 0, real.stderr);
  t.comment(`nicplex reconcile: ${JSON.stringify(real.report)}`);
  t.equal(real.report.released['staleAttachment'], 1, 'released');
  t.same(node.podFiles(), [], 'cache, claim and leases are gone');
});
