// Host batches against the host kernel: steps in several namespaces on one native thread, undo in
// reverse on failure, best-effort steps, and the agent's own namespace as a move target. Checked with
// iproute2 in namespaces this test creates.
import t, { type Test as Tap } from 'tap';
import { statSync } from 'node:fs';
import * as native from '../../native/index.js';
import { createNetns, ip, uniqueName, type IpLink, type TestNetns } from './native-fixtures.js';

function linkIn(ns: TestNetns | undefined, name: string): IpLink | undefined {
  try {
    const out = ns ? ns.ip('-j', 'link', 'show', 'dev', name) : ip('-j', 'link', 'show', 'dev', name);
    return (JSON.parse(out) as IpLink[])[0];
  } catch {
    return undefined;
  }
}

function namespaces(tt: Tap): [TestNetns, TestNetns] {
  const a = createNetns('hba');
  const b = createNetns('hbb');
  tt.teardown(() => {
    a.remove();
    b.remove();
  });
  return [a, b];
}

t.test('a batch across two namespaces applies every step, each in its namespace', async (tt) => {
  const [a, b] = namespaces(tt);
  const host = native.nativeHostNetwork();
  const name = uniqueName('hv');
  await native.createVeth({ name, peerName: uniqueName('hp'), netns: a.path });
  const before = statSync('/proc/self/ns/net').ino;
  const results = await host.run(new native.HostBatch()
    .move(name, a.path, b.path, { newName: 'net1', undo: true })
    .setAlias('net1', name, b.path, '')
    .setMtu('net1', 1400, b.path, 1500)
    .setUp('net1', true, b.path, false)
    .addAddress('net1', '10.99.0.2/24', b.path)
    .getLink('net1', b.path));
  const moved = linkIn(b, 'net1');
  tt.ok(moved, 'net1 is in B');
  tt.equal(moved?.ifalias, name, 'alias set in B');
  tt.equal(moved?.mtu, 1400, 'MTU set in B');
  tt.ok(moved?.flags.includes('UP'), 'up in B');
  tt.equal(linkIn(a, name), undefined, 'gone from A');
  tt.match(b.ip('-4', 'addr', 'show', 'dev', 'net1'), /10\.99\.0\.2\/24/, 'address in B');
  tt.equal((results[5] as native.LinkInfo).name, 'net1', 'getLink result decoded as LinkInfo');
  tt.equal(statSync('/proc/self/ns/net').ino, before, 'the main thread never left its namespace');
});

t.test('a failing step undoes the completed steps in reverse, across namespaces', async (tt) => {
  const [a, b] = namespaces(tt);
  const host = native.nativeHostNetwork();
  const name = uniqueName('hv');
  await native.createVeth({ name, peerName: uniqueName('hp'), netns: a.path });
  const batch = new native.HostBatch()
    .move(name, a.path, b.path, { newName: 'net1', undo: true })
    .setAlias('net1', name, b.path, '')
    .setUp('net1', true, b.path, false)
    .addAddress('net1', '10.99.1.2/24', b.path)
    .getLink('no-such-link', b.path);
  const error = await host.run(batch).then(() => undefined, (e: unknown) => e);
  tt.ok(error instanceof native.HostBatchError, 'HostBatchError');
  const failure = error as native.HostBatchError;
  tt.equal(failure.stepIndex, 4, 'names the failing step');
  tt.equal(failure.errno, 'ENODEV', 'keeps the errno');
  tt.same(failure.undoFailures, [], 'every undo succeeded');
  const back = linkIn(a, name);
  tt.ok(back, 'the link is back in A under its name');
  tt.notOk(back?.ifalias, 'alias cleared');
  tt.notOk(back?.flags.includes('UP'), 'down again');
  tt.equal(linkIn(b, 'net1'), undefined, 'nothing left in B');
});

t.test('a best-effort step records its failure and the batch goes on', async (tt) => {
  const [a] = namespaces(tt);
  const host = native.nativeHostNetwork();
  const name = uniqueName('hv');
  await native.createVeth({ name, peerName: uniqueName('hp'), netns: a.path });
  const results = await host.run(new native.HostBatch().getLink('missing0', a.path).bestEffort().setUp(name, true, a.path));
  tt.ok(native.isStepFailure(results[0]), 'the failed step left a StepFailure');
  tt.equal((results[0] as native.StepFailure).error.code, 19, 'ENODEV');
  tt.ok(linkIn(a, name)?.flags.includes('UP'), 'the next step still ran');
});

t.test('a gone namespace fails with ENOENT before any change', async (tt) => {
  const host = native.nativeHostNetwork();
  const error = await host.run(new native.HostBatch().getLink('lo', '/run/netns/nicplex-no-such-ns')).then(() => undefined, (e: unknown) => e);
  tt.equal((error as native.NativeError).errno, 'ENOENT');
  tt.equal(await host.getLink('lo', '/run/netns/nicplex-no-such-ns'), null, 'getLink answers null');
});

t.test('AGENT_NETNS_PATH moves a link into the agent namespace and undo moves it back', async (tt) => {
  const [a] = namespaces(tt);
  const host = native.nativeHostNetwork();
  const name = uniqueName('hv');
  const agentName = uniqueName('ha');
  await native.createVeth({ name, peerName: uniqueName('hp'), netns: a.path });
  tt.teardown(() => {
    try { ip('link', 'del', agentName); } catch { /* gone */ }
  });
  const error = await host.run(new native.HostBatch()
    .move(name, a.path, native.AGENT_NETNS_PATH, { newName: agentName, undo: true })
    .getLink('no-such-link')).then(() => undefined, (e: unknown) => e);
  tt.ok(error instanceof native.HostBatchError);
  tt.ok(linkIn(a, name), 'back in A under its name');
  tt.equal(linkIn(undefined, agentName), undefined, 'not left in the agent namespace');
  await host.run(new native.HostBatch().move(name, a.path, native.AGENT_NETNS_PATH, { newName: agentName }));
  tt.ok(linkIn(undefined, agentName), 'in the agent namespace');
});

function errnoOf(work: () => unknown): string | undefined {
  try {
    work();
    return undefined;
  } catch (error) {
    return (error as native.NativeError).errno;
  }
}

t.test('builders reject bad input before anything runs', async (tt) => {
  tt.equal(errnoOf(() => new native.HostBatch().rename('eth0', 'bad name')), 'EINVAL', 'bad ifname');
  tt.equal(errnoOf(() => new native.HostBatch().move('eth0', undefined, 'relative/path')), 'EINVAL', 'relative netns path');
  tt.equal(errnoOf(() => new native.HostBatch().addAddress('eth0', '10.0.0.1')), 'EINVAL', 'address without prefix');
  tt.equal(errnoOf(() => new native.HostBatch().setVf('pf0', 0, { linkState: 'sometimes' as never })), 'EINVAL', 'bad VF link state');
  tt.equal(errnoOf(() => new native.HostBatch().writeSysctl('kernel/panic', '1')), 'EINVAL', 'sysctl outside net/');
});

t.test('announce: a gratuitous ARP and an unsolicited NA from the step\'s namespace update the peer\'s neighbour table', async (tt) => {
  const [pod, peer] = namespaces(tt);
  const podEnd = uniqueName('an');
  const peerEnd = uniqueName('ap');
  await native.createVeth({ name: podEnd, peerName: peerEnd, netns: pod.path, peerNetns: peer.path });
  for (const [ns, dev, v4, v6] of [[pod, podEnd, '10.98.0.1/24', 'fd98::1/64'], [peer, peerEnd, '10.98.0.2/24', 'fd98::2/64']] as const) {
    ns.ip('addr', 'add', v4, 'dev', dev);
    ns.ip('addr', 'add', v6, 'dev', dev, 'nodad');
    ns.ip('link', 'set', dev, 'up');
  }
  // Until duplicate address detection of the link-local addresses is over, the kernel drops what a
  // raw ICMPv6 socket sends on a fresh veth; sriov-cni's pod interfaces are older than that by then.
  const tentative = () => [[pod, podEnd], [peer, peerEnd]].some(([ns, dev]) => /tentative/.test((ns as TestNetns).ip('-6', 'addr', 'show', 'dev', dev as string)));
  for (const stop = Date.now() + 10_000; tentative() && Date.now() < stop;) await new Promise((resolve) => setTimeout(resolve, 100));
  const podMac = (pod.ipJson<IpLink[]>('link', 'show', 'dev', podEnd)[0] as IpLink & { address: string }).address;
  // Stale entries with a wrong MAC: only an announcement from the pod end can correct them (no traffic flows).
  for (const address of ['10.98.0.1', 'fd98::1']) peer.ip('neigh', 'replace', address, 'lladdr', '02:00:00:00:00:99', 'dev', peerEnd, 'nud', 'stale');
  const neighbour = (address: string) => peer.ipJson<Array<{ dst: string; lladdr?: string }>>('neigh', 'show', 'dev', peerEnd).find((entry) => entry.dst === address)?.lladdr;
  tt.equal(neighbour('10.98.0.1'), '02:00:00:00:00:99', 'seeded IPv4 entry');
  const [outcome] = await native.nativeHostNetwork().run(new native.HostBatch().announce(podEnd, ['10.98.0.1', 'fd98::1'], pod.path));
  tt.equal(outcome, 'sent 2 of 2', 'both sent');
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && (neighbour('10.98.0.1') !== podMac || neighbour('fd98::1') !== podMac)) await new Promise((resolve) => setTimeout(resolve, 50));
  tt.equal(neighbour('10.98.0.1'), podMac, 'the gratuitous ARP replaced the peer\'s IPv4 entry with the pod end\'s MAC');
  tt.equal(neighbour('fd98::1'), podMac, 'the unsolicited NA (Override) replaced the peer\'s IPv6 entry');
  tt.throws(() => new native.HostBatch().announce(podEnd, ['10.98.0.1/24']), /is not an IP address/, 'a CIDR is refused before anything runs');
  const failed = await native.nativeHostNetwork().run(new native.HostBatch().announce('nosuchlink0', ['10.98.0.1'], pod.path).bestEffort());
  tt.ok(native.isStepFailure(failed[0]), 'a missing link is a recorded failure of a best-effort step');
});
