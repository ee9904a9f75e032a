// The built-in ipvlan delegate against a fake host (the host kernel here has no ipvlan module; the lab
// suite runs it on a real kernel): master selection, modes, mtu, linkInContainer, IPAM, rollback, DEL.
import t, { type Test as Tap } from 'tap';
import { POD_NETNS, delegateHarness, rejection, type Harness } from '../helpers/delegate-harness.js';

function setup(tt: Tap): Harness {
  const h = delegateHarness();
  tt.teardown(h.cleanup);
  h.host.addLink('', { name: 'ens5', mtu: 9001 });
  h.host.addLink('', { name: 'eth0' });
  return h;
}

t.test('master, mode l2/l3/l3s, mtu: created in the pod under CNI_IFNAME with the master\'s MAC', async (tt) => {
  for (const [mode, wire] of [[undefined, 0], ['l2', 0], ['l3', 1], ['l3s', 2]] as const) {
    const h = delegateHarness();
    const master = h.host.addLink('', { name: 'ens5', mtu: 9001 });
    const result = await h.call('ipvlan', 'ADD', { master: 'ens5', ...(mode ? { mode } : {}), mtu: 1500, ipam: { type: 'host-local' } }) as Record<string, unknown>;
    const link = h.host.link(POD_NETNS, 'net1');
    tt.equal(link?.ipvlanMode, wire, `mode ${mode ?? '(default)'}`);
    tt.equal(link?.parentIndex, master.index);
    tt.equal(link?.mtu, 1500, 'mtu sent');
    tt.same(result['interfaces'], [{ name: 'net1', mac: master.mac, sandbox: POD_NETNS }]);
    tt.same(h.host.addressesOf(POD_NETNS, 'net1'), ['10.1.0.5/24']);
    tt.equal(h.host.namespaces.get(POD_NETNS)!.sysctls.get('net/ipv4/conf/net1/arp_notify'), '1', 'arp_notify');
    h.cleanup();
  }
});

t.test('no mtu: the kernel default (the master\'s)', async (tt) => {
  const h = setup(tt);
  await h.call('ipvlan', 'ADD', { master: 'ens5', ipam: { type: 'host-local' } });
  tt.equal(h.host.link(POD_NETNS, 'net1')?.mtu, 9001);
});

t.test('no master: the default-route interface of the host', async (tt) => {
  const h = setup(tt);
  h.host.namespaces.get('')!.routes.push({ family: 4, dst: '0.0.0.0/0', gw: '192.0.2.1', dev: 'ens5', oif: h.host.link('', 'ens5')!.index, table: 254, priority: null, scope: 0, protocol: 3, type: 1, mtu: null, advmss: null });
  await h.call('ipvlan', 'ADD', { ipam: { type: 'host-local' } });
  tt.equal(h.host.link(POD_NETNS, 'net1')?.parentIndex, h.host.link('', 'ens5')!.index);
});

t.test('linkInContainer: master looked up and link created inside the pod namespace', async (tt) => {
  const h = setup(tt);
  const inner = h.host.addLink(POD_NETNS, { name: 'eth0' });
  await h.call('ipvlan', 'ADD', { master: 'eth0', linkInContainer: true, ipam: { type: 'host-local' } });
  tt.equal(h.host.link(POD_NETNS, 'net1')?.parentIndex, inner.index, 'parent is the pod\'s eth0');
  tt.equal(h.host.journal.find((entry) => entry.op.op === 'newLink')?.netns, POD_NETNS, 'created from inside the pod namespace');
});

t.test('validation and lookup errors name the network, the key and the fix', async (tt) => {
  const h = setup(tt);
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ master: 'ens5', mode: 'l4' }, /ipvlan network "testnet": "mode" unknown ipvlan mode: "l4"; use "l2"/],
    [{ master: 'nosuch', ipam: { type: 'host-local' } }, /"master" failed to lookup master "nosuch"/],
    [{ ipam: { type: 'host-local' } }, /"master" no default route interface found/],
    [{ prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'a' }, { name: 'b' }] } }, /chained master failure/],
    [{ master: 'ens5' }, /"ipam.type" no plugin name provided/],
    [{ master: 'ens5', mtu: '1500' }, /"mtu" must be an integer/],
  ];
  for (const [conf, message] of cases) tt.match((await rejection(h.call('ipvlan', 'ADD', conf)))?.message, message, JSON.stringify(conf));
  tt.same(h.host.namespaces.get(POD_NETNS)?.links, [], 'no link left behind by any failure');
});

t.test('rollback: a failing route deletes the link and releases the lease', async (tt) => {
  const h = setup(tt);
  h.host.failWhen = (op) => (op.op === 'addRoute' ? 22 : undefined);
  const error = await rejection(h.call('ipvlan', 'ADD', { master: 'ens5', ipam: { type: 'host-local' } }));
  tt.match(error?.message, /failed to configure the interface/);
  tt.same(h.host.namespaces.get(POD_NETNS)?.links, [], 'link deleted');
  tt.same(h.ipam.commands(), ['host-local:ADD', 'host-local:DEL']);
});

t.test('DEL: IPAM DEL, link deleted; again, with the netns gone, and with CNI_NETNS empty all succeed', async (tt) => {
  const h = setup(tt);
  const conf = { master: 'ens5', ipam: { type: 'host-local' } };
  await h.call('ipvlan', 'ADD', conf);
  await h.call('ipvlan', 'DEL', conf);
  tt.equal(h.host.link(POD_NETNS, 'net1'), undefined, 'deleted');
  await h.call('ipvlan', 'DEL', conf);
  await h.call('ipvlan', 'DEL', conf, { netns: '/run/netns/gone' });
  await h.call('ipvlan', 'DEL', conf, { netns: '' });
  tt.same(h.ipam.commands(), ['host-local:ADD', 'host-local:DEL', 'host-local:DEL', 'host-local:DEL', 'host-local:DEL'], 'IPAM DEL every time');
});

t.test('CHECK: kind ipvlan, MAC and addresses against prevResult', async (tt) => {
  const h = setup(tt);
  const conf = { master: 'ens5', ipam: { type: 'host-local' } };
  const result = await h.call('ipvlan', 'ADD', conf);
  await h.call('ipvlan', 'CHECK', { ...conf, prevResult: result });
  h.host.namespaces.get(POD_NETNS)!.addresses.length = 0;
  tt.match((await rejection(h.call('ipvlan', 'CHECK', { ...conf, prevResult: result })))?.message, /does not have the address 10\.1\.0\.5\/24/);
});

t.test('CHECK: the ipvlan mode in the pod must be the mode of the conf', async (tt) => {
  for (const [mode, other] of [['l2', 'l3'], ['l3', 'l3s'], ['l3s', 'l2']] as const) {
    const h = delegateHarness();
    h.host.addLink('', { name: 'ens5' });
    const conf = { master: 'ens5', mode, ipam: { type: 'host-local' } };
    const result = await h.call('ipvlan', 'ADD', conf);
    await h.call('ipvlan', 'CHECK', { ...conf, prevResult: result });
    tt.pass(`CHECK of ${mode} against ${mode} passes`);
    tt.match((await rejection(h.call('ipvlan', 'CHECK', { ...conf, mode: other, prevResult: result })))?.message,
      new RegExp(`ipvlan network "testnet": "mode" Container IPVlan mode ${mode} does not match expected value: ${other}`), `conf ${other}, link ${mode}`);
    h.host.link(POD_NETNS, 'net1')!.ipvlanMode = ({ l2: 0, l3: 1, l3s: 2 } as const)[other];
    tt.match((await rejection(h.call('ipvlan', 'CHECK', { ...conf, prevResult: result })))?.message,
      new RegExp(`Container IPVlan mode ${other} does not match expected value: ${mode}`), `the link's mode changed under the pod to ${other}`);
    h.cleanup();
  }
});
