// The built-in host-device delegate against a fake host: every selector key, validation, DPDK mode,
// IPAM and ConfigureIface, rollback, DEL variants, CHECK and result versions.
import t, { type Test as Tap } from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { POD_NETNS, delegateHarness, rejection, type Harness } from '../helpers/delegate-harness.js';

const sysfs = {
  pci: [
    { address: '0000:00:05.0', vendor: '8086', device: '10c9', driver: 'igb', netdevs: ['ens5'] },
    { address: '0000:00:06.0', vendor: '8086', device: '10ca', driver: 'vfio-pci' },
    { address: '0000:00:07.0', vendor: '8086', device: '10ca' },
    { address: '0000:00:08.0', vendor: '1af4', device: '1041', driver: 'virtio-pci', netdevs: [{ name: 'ens8', virtio: 0 }] },
  ],
  aux: [{ name: 'mlx5_core.sf.2', parent: '0000:00:05.0', netdevs: ['enp0s5f0s2'] }],
};

function setup(tt: Tap): Harness {
  const h = delegateHarness(sysfs);
  tt.teardown(h.cleanup);
  for (const name of ['eth1', 'ens5', 'ens8', 'enp0s5f0s2']) h.host.addLink('', { name, up: true });
  return h;
}

t.test('device: moved into the pod under CNI_IFNAME, alias = host name, up; result name/mac/sandbox', async (tt) => {
  const h = setup(tt);
  const mac = h.host.link('', 'eth1')!.mac;
  const result = await h.call('host-device', 'ADD', { device: 'eth1' });
  tt.same(result, { cniVersion: '1.0.0', interfaces: [{ name: 'net1', mac, sandbox: POD_NETNS }], dns: {} });
  const inPod = h.host.link(POD_NETNS, 'net1');
  tt.equal(inPod?.alias, 'eth1', 'alias remembers the host name');
  tt.ok(inPod?.up, 'up in the pod');
  tt.equal(h.host.link('', 'eth1'), undefined, 'gone from the host');
  tt.equal(readdirSync(join(h.stateDir, 'host-device')).length, 1, 'state file written');
});

t.test('hwaddr, kernelpath, pciBusID (also virtio), runtimeConfig.deviceID PCI and auxiliary select the device', async (tt) => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['eth1', { hwaddr: 'HWADDR' }],
    ['ens5', { kernelpath: '/sys/devices/pci0000:00/0000:00:05.0' }],
    ['ens5', { pciBusID: '0000:00:05.0' }],
    ['ens8', { pciBusID: '0000:00:08.0' }],
    ['ens5', { device: 'eth1', runtimeConfig: { deviceID: '0000:00:05.0' } }],
    ['enp0s5f0s2', { runtimeConfig: { deviceID: 'mlx5_core.sf.2' } }],
  ];
  for (const [expected, conf] of cases) {
    const h = delegateHarness(sysfs);
    for (const name of ['eth1', 'ens5', 'ens8', 'enp0s5f0s2']) h.host.addLink('', { name });
    if (conf['hwaddr']) conf['hwaddr'] = h.host.link('', 'eth1')!.mac.toUpperCase();
    await h.call('host-device', 'ADD', conf);
    tt.equal(h.host.link(POD_NETNS, 'net1')?.alias, expected, `${JSON.stringify(conf)} → ${expected}`);
    h.cleanup();
  }
});

t.test('validation: each bad key is named with the network and the fix; nothing changes', async (tt) => {
  const h = setup(tt);
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{}, /host-device network "testnet": "device" is not set: specify either "device", "hwaddr", "kernelpath" or "pciBusID"/],
    [{ hwaddr: 'zz:00' }, /"hwaddr" failed to parse MAC address "zz:00"/],
    [{ kernelpath: 'devices/x' }, /"kernelpath" kernel device path "devices\/x" must be absolute and begin with \/sys\/devices\//],
    [{ runtimeConfig: { deviceID: '0000:00:99.0' } }, /runtime config DeviceID 0000:00:99.0 not found or unsupported/],
    [{ pciBusID: '0000:00:07.0' }, /"pciBusID" error with host device: no driver bound/],
    [{ device: 'nosuch0' }, /failed to find host device/],
    [{ kernelpath: '/sys/devices/pci0000:00/0000:00:06.0' }, /failed to find network device in path/],
    [{ device: 7 }, /"device" must be a string/],
  ];
  for (const [conf, message] of cases) {
    const error = await rejection(h.call('host-device', 'ADD', conf));
    tt.match(error?.message, message, JSON.stringify(conf));
  }
  tt.ok(h.host.link('', 'eth1'), 'the host device never moved');
  tt.equal(existsSync(join(h.stateDir, 'host-device')) ? readdirSync(join(h.stateDir, 'host-device')).length : 0, 0, 'no state left');
});

t.test('DPDK mode (vfio-pci): nothing moved, IPAM result returned but not applied', async (tt) => {
  const h = setup(tt);
  const result = await h.call('host-device', 'ADD', { pciBusID: '0000:00:06.0', ipam: { type: 'host-local' } }) as Record<string, unknown>;
  tt.same(result['interfaces'], [{ name: 'net1', sandbox: POD_NETNS }], 'no mac in DPDK mode');
  tt.same(result['ips'], [{ interface: 0, address: '10.1.0.5/24', gateway: '10.1.0.1' }]);
  tt.same(h.host.namespaces.get(POD_NETNS)?.links, [], 'nothing in the pod');
  await h.call('host-device', 'DEL', { pciBusID: '0000:00:06.0', ipam: { type: 'host-local' } });
  tt.same(h.ipam.commands(), ['host-local:ADD', 'host-local:DEL']);
});

t.test('IPAM: same stdin and CNI_* as the plugin got; addresses and routes configured; conf dns in the result', async (tt) => {
  const h = setup(tt);
  const conf = { device: 'eth1', ipam: { type: 'host-local', subnet: '10.1.0.0/24' }, dns: { nameservers: ['1.1.1.1'] }, runtimeConfig: { ips: ['10.1.0.5/24'] } };
  const result = await h.call('host-device', 'ADD', conf, { cniArgs: 'IgnoreUnknown=1;K8S_POD_NAME=p' }) as Record<string, unknown>;
  const call = h.ipam.calls[0]!;
  tt.equal(call.type, 'host-local');
  tt.equal(call.command, 'ADD');
  tt.equal(call.ifname, 'net1');
  tt.equal(call.netns, POD_NETNS);
  tt.equal(call.cniArgs, 'IgnoreUnknown=1;K8S_POD_NAME=p');
  tt.same((call.stdin as Record<string, unknown>)['runtimeConfig'], { ips: ['10.1.0.5/24'] }, 'whole stdin passed to IPAM');
  tt.same(h.host.addressesOf(POD_NETNS, 'net1'), ['10.1.0.5/24']);
  tt.same(h.host.routesOf(POD_NETNS).map((r) => `${r.dst} via ${r.gw} dev ${r.dev}`), ['0.0.0.0/0 via 10.1.0.1 dev net1'], 'route gets the IPv4 gateway');
  tt.same(result['dns'], { nameservers: ['1.1.1.1'] }, 'dns from the conf, not IPAM');
  tt.same(result['ips'], [{ interface: 0, address: '10.1.0.5/24', gateway: '10.1.0.1' }]);
});

t.test('IPv6: disable_ipv6=0 and keep_addr_on_down=1 before the first IPv6 address', async (tt) => {
  const h = setup(tt);
  // static IPAM runs in-process (the registry's default): the fake exec'd IPAM is never asked.
  await h.call('host-device', 'ADD', { device: 'eth1', ipam: { type: 'static', addresses: [{ address: 'fd00::5/64', gateway: 'fd00::1' }] } });
  tt.same(h.ipam.calls, [], 'no IPAM plugin exec\'d');
  const sysctls = h.host.namespaces.get(POD_NETNS)!.sysctls;
  tt.equal(sysctls.get('net/ipv6/conf/net1/disable_ipv6'), '0');
  tt.equal(sysctls.get('net/ipv6/conf/lo/disable_ipv6'), '0');
  tt.equal(sysctls.get('net/ipv6/conf/net1/keep_addr_on_down'), '1');
  tt.same(h.host.addressesOf(POD_NETNS, 'net1'), ['fd00::5/64']);
});

t.test('rollback: IPAM ADD failure returns the device to the host under its name, up as before', async (tt) => {
  const h = setup(tt);
  h.ipam.failOn = 'ADD';
  const error = await rejection(h.call('host-device', 'ADD', { device: 'eth1', ipam: { type: 'host-local' } }));
  tt.match(error?.message, /host-local ADD failed on purpose/);
  const back = h.host.link('', 'eth1');
  tt.ok(back, 'back in the host as eth1');
  tt.equal(back?.alias, null, 'alias cleared');
  tt.ok(back?.up, 'up again, as it was');
  tt.same(h.host.namespaces.get(POD_NETNS)?.links, [], 'nothing left in the pod');
  tt.same(readdirSync(join(h.stateDir, 'host-device')), [], 'state removed');
});

t.test('rollback: a failing address step releases the IPAM lease and returns the device', async (tt) => {
  const h = setup(tt);
  h.host.failWhen = (op) => (op.op === 'addRoute' ? 22 : undefined);
  const error = await rejection(h.call('host-device', 'ADD', { device: 'eth1', ipam: { type: 'host-local' } }));
  tt.match(error?.message, /failed to configure the interface/);
  tt.same(h.ipam.commands(), ['host-local:ADD', 'host-local:DEL'], 'IPAM DEL after the failure');
  tt.ok(h.host.link('', 'eth1'), 'device back in the host');
  tt.same(h.host.addressesOf('', 'eth1'), [], 'its address was undone');
});

t.test('rollback: the move itself failing changes nothing', async (tt) => {
  const h = setup(tt);
  h.host.failWhen = (op) => (op.op === 'setLink' && op.alias !== undefined ? 1 : undefined);
  const error = await rejection(h.call('host-device', 'ADD', { device: 'eth1' }));
  tt.match(error?.message, /failed to move link eth1/);
  tt.ok(h.host.link('', 'eth1')?.up, 'eth1 back in the host, up');
});

t.test('DEL: the device returns under its name, MAC and MTU; IPAM DEL runs', async (tt) => {
  const h = setup(tt);
  const original = { ...h.host.link('', 'eth1')! };
  await h.call('host-device', 'ADD', { device: 'eth1', ipam: { type: 'host-local' } });
  const inPod = h.host.link(POD_NETNS, 'net1')!;
  inPod.mac = '02:aa:aa:aa:aa:aa';
  inPod.mtu = 9000;
  await h.call('host-device', 'DEL', { device: 'eth1', ipam: { type: 'host-local' } });
  const back = h.host.link('', 'eth1');
  tt.equal(back?.mac, original.mac, 'MAC restored');
  tt.equal(back?.mtu, original.mtu, 'MTU restored');
  tt.equal(back?.alias, null, 'alias cleared');
  tt.ok(back?.up, 'up as it was');
  tt.same(h.ipam.commands(), ['host-local:ADD', 'host-local:DEL']);
  await h.call('host-device', 'DEL', { device: 'eth1', ipam: { type: 'host-local' } });
  tt.ok(h.host.link('', 'eth1'), 'a second DEL succeeds and changes nothing');
});

t.test('DEL with the netns gone: the kernel released the device under the pod ifname; DEL renames it back', async (tt) => {
  const h = setup(tt);
  await h.call('host-device', 'ADD', { device: 'eth1' });
  h.host.removeNamespace(POD_NETNS);
  tt.ok(h.host.link('', 'net1'), 'the released device carries the pod ifname');
  await h.call('host-device', 'DEL', { device: 'eth1' });
  tt.ok(h.host.link('', 'eth1'), 'renamed back to eth1');
  tt.equal(h.host.link('', 'net1'), undefined);
});

t.test('DEL with CNI_NETNS empty still runs IPAM DEL and restores a released device', async (tt) => {
  const h = setup(tt);
  await h.call('host-device', 'ADD', { device: 'eth1', ipam: { type: 'host-local' } });
  h.host.removeNamespace(POD_NETNS);
  await h.call('host-device', 'DEL', { device: 'eth1', ipam: { type: 'host-local' } }, { netns: '' });
  tt.same(h.ipam.commands(), ['host-local:ADD', 'host-local:DEL'], 'IPAM DEL although CNI_NETNS is empty');
  tt.ok(h.host.link('', 'eth1'), 'device restored');
});

t.test('DEL with the state gone falls back to the alias', async (tt) => {
  const h = setup(tt);
  await h.call('host-device', 'ADD', { device: 'eth1' });
  for (const file of readdirSync(join(h.stateDir, 'host-device'))) (await import('node:fs')).rmSync(join(h.stateDir, 'host-device', file));
  await h.call('host-device', 'DEL', { device: 'eth1' });
  tt.ok(h.host.link('', 'eth1'), 'back under the alias name');
});

t.test('the alias is set before the move: a crash between the two leaves a device DEL still recognises', async (tt) => {
  const h = setup(tt);
  let alias: string | null | undefined;
  h.host.failWhen = (op, netns) => {
    if (op.op === 'setLink' && op.targetNetns !== undefined) alias = h.host.link(netns, 'eth1')?.alias;
    return undefined;
  };
  await h.call('host-device', 'ADD', { device: 'eth1' });
  tt.equal(alias, 'eth1', 'eth1 carried its own name as alias when it was moved');
});

t.test('DEL after an ADD stopped between the alias and the move: the device stays home, its alias is restored', async (tt) => {
  const h = setup(tt);
  await h.call('host-device', 'ADD', { device: 'eth1' });
  // The state of a killed ADD: state file written, alias set, device never moved.
  h.host.removeNamespace(POD_NETNS);
  h.host.link('', 'net1')!.name = 'eth1';
  h.host.addNamespace(POD_NETNS);
  tt.equal(h.host.link('', 'eth1')?.alias, 'eth1');
  await h.call('host-device', 'DEL', { device: 'eth1' });
  tt.equal(h.host.link('', 'eth1')?.alias, null, 'alias back to what it was');
  tt.same(readdirSync(join(h.stateDir, 'host-device')), [], 'state removed');
});

t.test('DEL finds a released virtual device (any kind) under the pod ifname by the alias ADD set', async (tt) => {
  const h = setup(tt);
  h.host.addLink('', { name: 'veth9', up: true, kind: 'veth' });
  await h.call('host-device', 'ADD', { device: 'veth9' });
  // Moved back under its pod name (by an operator, or a crash of the move back).
  h.host.removeNamespace(POD_NETNS);
  tt.equal(h.host.link('', 'net1'), undefined, 'the fake destroys virtual links with their netns, as the kernel does');
  h.host.addLink('', { name: 'net1', up: true, kind: 'veth', alias: 'veth9' });
  await h.call('host-device', 'DEL', { device: 'veth9' }, { netns: '' });
  tt.ok(h.host.link('', 'veth9'), 'renamed back by its alias');
  tt.equal(h.host.link('', 'net1'), undefined);
});

t.test('CHECK: passes against the ADD result; fails on a MAC or address mismatch', async (tt) => {
  const h = setup(tt);
  const conf = { cniVersion: '1.0.0', device: 'eth1', ipam: { type: 'host-local' } };
  const result = await h.call('host-device', 'ADD', conf);
  await h.call('host-device', 'CHECK', { ...conf, prevResult: result });
  tt.pass('CHECK passed');
  h.host.link(POD_NETNS, 'net1')!.mac = '02:bb:bb:bb:bb:bb';
  tt.match((await rejection(h.call('host-device', 'CHECK', { ...conf, prevResult: result })))?.message, /Mac .* doesn't match container Mac/);
  tt.match((await rejection(h.call('host-device', 'CHECK', conf)))?.message, /Required prevResult missing/);
  tt.same(h.ipam.commands().filter((c) => c.endsWith('CHECK')).length, 3, 'IPAM CHECK each time');
});

t.test('results are converted to the caller\'s version (0.3.1 ips carry version; 1.1.0 kept)', async (tt) => {
  const h = setup(tt);
  const old = await h.call('host-device', 'ADD', { cniVersion: '0.3.1', device: 'eth1', ipam: { type: 'host-local' } }) as Record<string, unknown>;
  tt.equal(old['cniVersion'], '0.3.1');
  tt.same(old['ips'], [{ version: '4', interface: 0, address: '10.1.0.5/24', gateway: '10.1.0.1' }]);
  await h.call('host-device', 'DEL', { cniVersion: '0.3.1', device: 'eth1', ipam: { type: 'host-local' } });
  const current = await h.call('host-device', 'ADD', { cniVersion: '1.1.0', device: 'eth1' }) as Record<string, unknown>;
  tt.equal(current['cniVersion'], '1.1.0');
});

t.test('STATUS forwards to IPAM', async (tt) => {
  const h = setup(tt);
  await h.call('host-device', 'STATUS', { cniVersion: '1.1.0', device: 'eth1', ipam: { type: 'host-local' } });
  tt.same(h.ipam.commands(), ['host-local:STATUS']);
});
