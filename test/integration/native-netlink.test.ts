// The native netlink layer against the host kernel, inside namespaces this test creates. Every change
// made through the addon is checked independently with iproute2 (`ip -j`).
import t, { type Test as Tap } from 'tap';
import { closeSync, openSync } from 'node:fs';
import * as native from '../../native/index.js';
import { nativeBinding } from '../../native/addon.js';
import { createNetns, uniqueName, type IpLink, type TestNetns } from './native-fixtures.js';
import { rejectsWithErrno } from '../helpers/native-asserts.js';

function netnsPair(tt: Tap, role: string): [TestNetns, TestNetns] {
  const a = createNetns(`${role}a`);
  const b = createNetns(`${role}b`);
  tt.teardown(() => {
    a.remove();
    b.remove();
  });
  return [a, b];
}


function ipLink(ns: TestNetns, name: string): IpLink | undefined {
  try {
    return ns.ipJson<IpLink[]>('-d', 'link', 'show', 'dev', name)[0];
  } catch {
    return undefined;
  }
}

t.test('veth: created directly in two namespaces, seen by ip and by the addon', async (tt) => {
  const [a, b] = netnsPair(tt, 'vet');
  const name = uniqueName('va');
  const peer = uniqueName('vb');
  await native.createVeth({ name, peerName: peer, netns: a.path, peerNetns: b.path });
  const inA = ipLink(a, name);
  const inB = ipLink(b, peer);
  tt.equal(inA?.linkinfo?.info_kind, 'veth', 'ip sees the veth end in namespace A');
  tt.equal(inB?.linkinfo?.info_kind, 'veth', 'ip sees the peer in namespace B');
  tt.equal(ipLink(a, peer), undefined, 'the peer is not in A');
  const viaAddon = await native.getLink(name, { netns: a.path });
  tt.equal(viaAddon.index, inA?.ifindex, 'same ifindex through the addon');
  tt.equal(viaAddon.kind, 'veth');
  tt.equal(viaAddon.mac, inA?.address, 'same MAC through the addon');
  const byIndex = await native.getLink(viaAddon.index, { netns: a.path });
  tt.equal(byIndex.name, name, 'get by ifindex');
  const all = await native.listLinks({ netns: a.path });
  tt.same(all.map((l) => l.name).sort(), ['lo', name].sort(), 'listLinks in A shows lo and the veth end only');
});

t.test('link attributes: up/down, MAC, MTU, alias, rename, delete', async (tt) => {
  const [a] = netnsPair(tt, 'att');
  const where = { netns: a.path };
  const name = uniqueName('la');
  const peer = uniqueName('lb');
  await native.createVeth({ name, peerName: peer, netns: a.path });
  await native.setLinkUp(name, true, where);
  await native.setLinkUp(peer, true, where);
  tt.ok(ipLink(a, name)?.flags.includes('UP'), 'ip shows the link UP');
  tt.equal((await native.getLink(name, where)).up, true);
  await native.setLinkMac(name, '02:11:22:33:44:55', where);
  tt.equal(ipLink(a, name)?.address, '02:11:22:33:44:55', 'MAC set');
  await native.setLinkMtu(name, 1400, where);
  tt.equal(ipLink(a, name)?.mtu, 1400, 'MTU set');
  await native.setLinkAlias(name, 'nicplex test link', where);
  tt.equal(ipLink(a, name)?.ifalias, 'nicplex test link', 'alias set');
  tt.equal((await native.getLink(name, where)).alias, 'nicplex test link', 'alias read back');
  await native.setLinkUp(name, false, where);
  tt.notOk(ipLink(a, name)?.flags.includes('UP'), 'ip shows the link down');
  const renamed = uniqueName('lr');
  await native.renameLink(name, renamed, where);
  tt.equal(ipLink(a, name), undefined, 'old name gone');
  tt.equal(ipLink(a, renamed)?.address, '02:11:22:33:44:55', 'renamed link keeps its MAC');
  await native.deleteLink(renamed, where);
  tt.equal(ipLink(a, renamed), undefined, 'deleted');
  tt.equal(ipLink(a, peer), undefined, 'the veth peer went with it');
});

t.test('move a link into another namespace with a new name in one message', async (tt) => {
  const [a, b] = netnsPair(tt, 'mov');
  const name = uniqueName('ma');
  const peer = uniqueName('mb');
  await native.createVeth({ name, peerName: peer, netns: a.path });
  await native.setLinkMac(peer, '02:aa:bb:cc:dd:ee', { netns: a.path });
  // A link named like the new name already exists in A: the rename must happen in B, so no clash.
  await native.moveLinkToNetns(peer, b.path, { newName: name, netns: a.path });
  tt.equal(ipLink(a, peer), undefined, 'gone from A');
  const moved = ipLink(b, name);
  tt.equal(moved?.address, '02:aa:bb:cc:dd:ee', 'arrived in B under the new name');
  tt.ok(ipLink(a, name), 'the other end in A is untouched');
  await native.setLinkUp(name, true, { netns: b.path });
  tt.ok(ipLink(b, name)?.flags.includes('UP'), 'brought up inside B');

  // By an open fd of the namespace file, and by ifindex.
  const fd = openSync(a.path, 'r');
  tt.teardown(() => closeSync(fd));
  const index = (await native.getLink(name, { netns: b.path })).index;
  await native.moveLinkToNetns(index, { fd }, { newName: uniqueName('mc'), netns: b.path });
  tt.equal(ipLink(b, name), undefined, 'moved back out of B by fd');
  tt.equal(a.ipJson<IpLink[]>('link', 'show').filter((l) => l.address === '02:aa:bb:cc:dd:ee').length, 1, 'and it is in A again under its new name');
  const notNs = openSync('/etc/hostname', 'r');
  tt.teardown(() => closeSync(notNs));
  await rejectsWithErrno(tt, native.moveLinkToNetns(name, { fd: notNs }, { netns: a.path }), 'EINVAL', 'an fd that is not a namespace');
});

t.test('macvlan on a parent in one namespace, created directly in another', async (tt) => {
  const [a, b] = netnsPair(tt, 'mvl');
  const parent = uniqueName('mp');
  const peer = uniqueName('mq');
  await native.createVeth({ name: parent, peerName: peer, netns: a.path });
  for (const mode of ['bridge', 'private', 'vepa'] as const) {
    const name = uniqueName('mv');
    await native.createMacvlan({ name, parent, mode, parentNetns: a.path, targetNetns: b.path, mtu: 1300, mac: '02:00:00:00:00:42' });
    const link = ipLink(b, name);
    tt.equal(link?.linkinfo?.info_kind, 'macvlan', `${mode}: a macvlan in B`);
    tt.equal(link?.linkinfo?.info_data?.['mode'], mode, `${mode}: mode`);
    tt.equal(link?.mtu, 1300, `${mode}: mtu`);
    tt.equal(link?.address, '02:00:00:00:00:42', `${mode}: mac`);
    tt.equal(ipLink(a, name), undefined, `${mode}: not in the parent's namespace`);
    await native.deleteLink(name, { netns: b.path });
  }
  await rejectsWithErrno(tt, native.createMacvlan({ name: uniqueName('mv'), parent: 'npxnoparent0', mode: 'bridge', parentNetns: a.path }), 'ENODEV', 'missing parent');
});

t.test('bridge: create, enslave, free', async (tt) => {
  const [a] = netnsPair(tt, 'brg');
  const where = { netns: a.path };
  const bridge = uniqueName('br');
  const port = uniqueName('bp');
  await native.createBridge({ name: bridge, netns: a.path });
  await native.createVeth({ name: port, peerName: uniqueName('bq'), netns: a.path });
  tt.equal(ipLink(a, bridge)?.linkinfo?.info_kind, 'bridge', 'bridge exists');
  await native.setLinkMaster(port, bridge, where);
  tt.equal(ipLink(a, port)?.master, bridge, 'port enslaved (ip)');
  const bridgeIndex = (await native.getLink(bridge, where)).index;
  tt.equal((await native.getLink(port, where)).masterIndex, bridgeIndex, 'masterIndex read back');
  await native.setLinkMaster(port, null, where);
  tt.equal(ipLink(a, port)?.master, undefined, 'port freed');
});

interface IpAddrInfo { ifname: string; addr_info: { family: string; local: string; prefixlen: number }[] }

t.test('addresses: IPv4 and IPv6 add, list, delete', async (tt) => {
  const [a] = netnsPair(tt, 'adr');
  const where = { netns: a.path };
  const name = uniqueName('aa');
  await native.createVeth({ name, peerName: uniqueName('ab'), netns: a.path });
  await native.addAddress(name, '10.77.1.5/24', where);
  await native.addAddress(name, 'fd77::5/64', where);
  const shown = a.ipJson<IpAddrInfo[]>('addr', 'show', 'dev', name)[0]?.addr_info ?? [];
  tt.ok(shown.some((x) => x.local === '10.77.1.5' && x.prefixlen === 24), 'ip shows the IPv4 address');
  tt.ok(shown.some((x) => x.local === 'fd77::5' && x.prefixlen === 64), 'ip shows the IPv6 address');
  const listed = await native.listAddresses(name, where);
  tt.same(listed.map((x) => x.cidr).filter((c) => !c.startsWith('fe80')).sort(), ['10.77.1.5/24', 'fd77::5/64'], 'listAddresses');
  tt.ok(listed.every((x) => x.link === name), 'each address names its link');
  await rejectsWithErrno(tt, native.addAddress(name, '10.77.1.5/24', where), 'EEXIST', 'duplicate address');
  await native.deleteAddress(name, '10.77.1.5/24', where);
  await native.deleteAddress(name, 'fd77::5/64', where);
  const after = a.ipJson<IpAddrInfo[]>('addr', 'show', 'dev', name)[0]?.addr_info ?? [];
  tt.notOk(after.some((x) => x.local === '10.77.1.5' || x.local === 'fd77::5'), 'both deleted');
  await rejectsWithErrno(tt, native.deleteAddress(name, '10.77.1.5/24', where), 'EADDRNOTAVAIL', 'deleting a missing address');
  await rejectsWithErrno(tt, native.listAddresses('npxnolink0', where), 'ENODEV', 'listing a missing link');
});

interface IpRoute { dst: string; gateway?: string; dev: string; metric?: number; metrics?: { mtu?: number; advmss?: number }[]; scope?: string }

t.test('routes: IPv4 and IPv6, main and other tables, with metrics', async (tt) => {
  const [a] = netnsPair(tt, 'rte');
  const where = { netns: a.path };
  const name = uniqueName('ra');
  await native.createVeth({ name, peerName: uniqueName('rb'), netns: a.path });
  await native.setLinkUp(name, true, where);
  await native.addAddress(name, '10.78.0.2/24', where);
  await native.addAddress(name, 'fd78::2/64', where);
  // IPv6 addresses stay tentative without a carrier; the IPv6 gateway route needs nothing but the link.
  await native.addRoute({ dst: '10.99.0.0/16', gw: '10.78.0.1', priority: 50, mtu: 1400, advmss: 1360 }, where);
  await native.addRoute({ dst: '10.98.0.0/16', dev: name, scope: 253 }, where);
  await native.addRoute({ gw: '10.78.0.1', table: 1234 }, where);
  await native.addRoute({ dst: 'fd99::/48', dev: name, priority: 7 }, where);
  const v4 = a.ipJson<IpRoute[]>('route', 'show');
  const viaGw = v4.find((r) => r.dst === '10.99.0.0/16');
  tt.equal(viaGw?.gateway, '10.78.0.1', 'gateway route (ip)');
  tt.equal(viaGw?.metric, 50, 'priority');
  tt.same(viaGw?.metrics?.[0], { mtu: 1400, advmss: 1360 }, 'mtu and advmss metrics');
  tt.equal(v4.find((r) => r.dst === '10.98.0.0/16')?.scope, 'link', 'device route with link scope');
  tt.equal(a.ipJson<IpRoute[]>('route', 'show', 'table', '1234')[0]?.dst, 'default', 'default route in table 1234');
  tt.equal(a.ipJson<IpRoute[]>('-6', 'route', 'show').find((r) => r.dst === 'fd99::/48')?.metric, 7, 'IPv6 route (ip)');

  const listed = await native.listRoutes({}, where);
  const mine = listed.find((r) => r.dst === '10.99.0.0/16');
  tt.match(mine, { gw: '10.78.0.1', dev: name, priority: 50, mtu: 1400, advmss: 1360, family: 4 }, 'listRoutes decodes gateway route');
  tt.ok(listed.some((r) => r.dst === 'fd99::/48' && r.family === 6 && r.dev === name), 'listRoutes includes the IPv6 route');
  const table = await native.listRoutes({ table: 1234, family: 4 }, where);
  tt.same(table.map((r) => [r.dst, r.gw]), [['0.0.0.0/0', '10.78.0.1']], 'listRoutes by table');
  await rejectsWithErrno(tt, native.addRoute({ dst: '10.99.0.0/16', gw: '10.78.0.1', priority: 50 }, where), 'EEXIST', 'duplicate route');

  await native.deleteRoute({ dst: '10.99.0.0/16', gw: '10.78.0.1', priority: 50 }, where);
  await native.deleteRoute({ dst: 'fd99::/48', dev: name, priority: 7 }, where);
  await native.deleteRoute({ gw: '10.78.0.1', table: 1234 }, where);
  tt.notOk(a.ipJson<IpRoute[]>('route', 'show').some((r) => r.dst === '10.99.0.0/16'), 'IPv4 route deleted');
  tt.notOk(a.ipJson<IpRoute[]>('-6', 'route', 'show').some((r) => r.dst === 'fd99::/48'), 'IPv6 route deleted');
  tt.same(a.ipJson<IpRoute[]>('route', 'show', 'table', '1234'), [], 'table 1234 empty');
  await rejectsWithErrno(tt, native.deleteRoute({ dst: '10.99.0.0/16', gw: '10.78.0.1' }, where), 'ESRCH', 'deleting a missing route');
  await rejectsWithErrno(tt, native.addRoute({ dst: '10.97.0.0/16', gw: '10.200.0.1' }, where), 'ENETUNREACH', 'unreachable gateway');
});

t.test('errors carry errno, operation, link and namespace', async (tt) => {
  const [a] = netnsPair(tt, 'err');
  const where = { netns: a.path };
  const name = uniqueName('ea');
  await native.createVeth({ name, peerName: uniqueName('eb'), netns: a.path });
  await rejectsWithErrno(tt, native.createVeth({ name, peerName: uniqueName('ec'), netns: a.path }), 'EEXIST', 'creating an existing link');
  await rejectsWithErrno(tt, native.getLink('npxmissing0', where), 'ENODEV', 'getting a missing link');
  await rejectsWithErrno(tt, native.setLinkUp('npxmissing0', true, where), 'ENODEV', 'setting a missing link');
  await rejectsWithErrno(tt, native.deleteLink('npxmissing0', where), 'ENODEV', 'deleting a missing link');
  await rejectsWithErrno(tt, native.setLinkMtu(name, 70000, where), 'EINVAL', 'MTU above the veth maximum');
  await rejectsWithErrno(tt, native.renameLink(name, 'bad/name', where), 'EINVAL', 'invalid new name');
  await rejectsWithErrno(tt, native.listLinks({ netns: '/etc/hostname' }), 'EINVAL', 'a path that is not a namespace');
  await rejectsWithErrno(tt, native.listLinks({ netns: '/run/netns/npx-does-not-exist' }), 'ENOENT', 'a namespace that does not exist');
  try {
    await native.getLink('npxmissing0', where);
  } catch (err) {
    const e = err as native.NativeError;
    tt.equal(e.operation, 'get link');
    tt.equal(e.link, 'npxmissing0');
    tt.equal(e.netns, a.path);
    tt.match(e.message, /get link .*npxmissing0.*ENODEV/);
  }
  try {
    await native.setLinkMtu(name, 70000, where);
  } catch (err) {
    tt.match((err as native.NativeError).detail ?? '', /mtu|MTU/, 'kernel ext-ack text is carried');
  }
});

t.test('link events: a link going down and a link deleted', async (tt) => {
  const [a] = netnsPair(tt, 'evt');
  const where = { netns: a.path };
  const name = uniqueName('na');
  const peer = uniqueName('nb');
  await native.createVeth({ name, peerName: peer, netns: a.path });
  await native.setLinkUp(name, true, where);
  await native.setLinkUp(peer, true, where);
  const events: native.LinkEvent[] = [];
  let wake: (() => void) | undefined;
  const monitor = native.monitorLinks((e) => {
    events.push(e);
    wake?.();
  }, where);
  tt.teardown(() => monitor.close());
  const waitFor = async (pred: (e: native.LinkEvent) => boolean, what: string): Promise<native.LinkEvent | undefined> => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const hit = events.find(pred);
      if (hit || Date.now() > deadline) {
        tt.ok(hit, what);
        return hit;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 200);
      });
    }
  };
  a.ip('link', 'set', 'dev', peer, 'down'); // changed by iproute2: the event must come from the kernel
  const down = await waitFor((e) => e.type === 'new' && e.link.name === name && !e.link.operUp, 'the other end loses carrier: event with operUp false');
  tt.equal(down?.link.up, true, 'still administratively up');
  a.ip('link', 'set', 'dev', name, 'down');
  await waitFor((e) => e.type === 'new' && e.link.name === name && !e.link.up, 'set down: event with up false');
  a.ip('link', 'del', 'dev', name);
  await waitFor((e) => e.type === 'del' && e.link.name === name, 'deleted: a del event');
  monitor.close();
  const count = events.length;
  a.ip('link', 'add', uniqueName('nc'), 'type', 'bridge');
  await new Promise((resolve) => setTimeout(resolve, 300));
  tt.equal(events.length, count, 'no events after close');
});

t.test('ethtool driver info and sysctls inside a namespace', async (tt) => {
  const [a] = netnsPair(tt, 'eth');
  const where = { netns: a.path };
  const name = uniqueName('ta');
  await native.createVeth({ name, peerName: uniqueName('tb'), netns: a.path });
  const info = await native.ethtoolDriverInfo(name, where);
  tt.equal(info.driver, 'veth', 'driver');
  await rejectsWithErrno(tt, native.ethtoolDriverInfo(name), 'ENODEV', 'the link is not in the agent namespace');
  const key = `net/ipv4/conf/${name}/arp_notify`;
  tt.equal(await native.readSysctl(key, where), '0', 'default arp_notify');
  await native.writeSysctl(key, '1', where);
  tt.equal(a.exec('cat', `/proc/sys/${key}`).trim(), '1', 'value seen inside the namespace');
  tt.equal(await native.readSysctl(key, where), '1', 'read back');
  await rejectsWithErrno(tt, native.readSysctl(key), 'ENOENT', 'the same key does not exist in the agent namespace');
  await rejectsWithErrno(tt, native.readSysctl('kernel/hostname'), 'EINVAL', 'keys outside net/ are refused');
  await rejectsWithErrno(tt, native.readSysctl('net/../kernel/hostname'), 'EINVAL', 'path traversal is refused');
});

t.test('runSteps: several steps in one thread, stopping at the first failure', async (tt) => {
  const [a] = netnsPair(tt, 'bat');
  const name = uniqueName('ba');
  const results = await native.runSteps([
    { op: 'newLink', kind: 'bridge', name },
    { op: 'setLink', link: name, up: true, mtu: 1280 },
    { op: 'addAddress', link: name, address: '10.79.0.1', prefixLength: 24 },
    { op: 'getLink', link: name },
  ], a.path, { operation: 'batch' });
  const link = results[3] as { name: string; mtu: number; flags: number };
  tt.equal(link.mtu, 1280, 'later steps see earlier ones');
  tt.equal(a.ipJson<IpLink[]>('link', 'show', 'dev', name)[0]?.mtu, 1280, 'ip agrees');
  try {
    await native.runSteps([{ op: 'setLink', link: name, mtu: 1300 }, { op: 'getLink', link: 'npxmissing0' }, { op: 'setLink', link: name, mtu: 1500 }], a.path, { operation: 'batch' });
    tt.fail('expected failure');
  } catch (err) {
    tt.equal((err as native.NativeError).errno, 'ENODEV');
  }
  tt.equal(a.ipJson<IpLink[]>('link', 'show', 'dev', name)[0]?.mtu, 1300, 'steps before the failure applied, after it not');
});

t.test('link dumps stay consistent while links change (multi-part dumps, NLM_F_DUMP_INTR restarts)', async (tt) => {
  const [a] = netnsPair(tt, 'dmp');
  const stable = Array.from({ length: 150 }, (_, i) => `npxst${i}`);
  // 150 links × ~1 KiB each: the dump spans several 64 KiB datagrams, so changes can interleave.
  await native.runSteps(stable.map((name) => ({ op: 'newLink' as const, kind: 'bridge' as const, name })), a.path, { operation: 'create stable links' });
  tt.equal(a.ipJson<IpLink[]>('link', 'show').length, 151, 'ip sees 150 links plus lo');
  const restartsBefore = nativeBinding().stats().dumpRestarts;
  let churning = true;
  const churn = (async () => {
    for (let i = 0; churning && i < 400; i++) {
      await native.runSteps([{ op: 'newLink', kind: 'bridge', name: 'npxchurn' }, { op: 'deleteLink', link: 'npxchurn' }], a.path, { operation: 'churn' });
    }
  })();
  let inconsistent = 0;
  for (let i = 0; i < 60; i++) {
    const names = (await native.listLinks({ netns: a.path })).map((l) => l.name);
    const seen = new Set(names);
    if (seen.size !== names.length || stable.some((n) => !seen.has(n))) inconsistent++;
  }
  churning = false;
  await churn;
  tt.equal(inconsistent, 0, 'every dump lists each stable link exactly once');
  tt.comment(`dumps restarted after NLM_F_DUMP_INTR: ${nativeBinding().stats().dumpRestarts - restartsBefore}`);
});

t.test('VF configuration on a link without SR-IOV is refused by the kernel with EOPNOTSUPP', async (tt) => {
  // The host has no SR-IOV NIC (the lab covers real VFs); this proves the VF nests are well formed
  // (a malformed nest would be EINVAL) and that the driver's refusal comes back as an errno.
  const [a] = netnsPair(tt, 'vfs');
  const where = { netns: a.path };
  const name = uniqueName('fa');
  await native.createVeth({ name, peerName: uniqueName('fb'), netns: a.path });
  const link = await native.getLink(name, where);
  tt.equal(link.numVfs, 0, 'numVfs 0');
  tt.same(link.vfs, [], 'no VF list');
  await rejectsWithErrno(tt, native.setVf(name, 0, { mac: '02:00:00:00:00:01' }), 'ENODEV', 'wrong namespace: no such PF');
  await rejectsWithErrno(tt, native.setVf(name, 0, { mac: '02:00:00:00:00:01' }, where), 'EOPNOTSUPP', 'VF MAC');
  await rejectsWithErrno(tt, native.setVf(name, 0, { vlan: 10, qos: 2, vlanProto: '802.1ad' }, where), 'EOPNOTSUPP', 'VF VLAN list (802.1ad)');
  await rejectsWithErrno(tt, native.setVf(name, 0, { maxTxRate: 100 }, where), 'EOPNOTSUPP', 'VF rate with the other rate kept');
  await rejectsWithErrno(tt, native.setVf(name, 0, { spoofchk: false, trust: true, linkState: 'disable' }, where), 'EOPNOTSUPP', 'VF spoofchk/trust/link state');
});
