// The built-in sriov delegate against a fake host and a fake sysfs tree: config validation, MAC
// precedence, kernel mode (VF attributes through the PF, move + rename, MAC, IPAM), DPDK mode, the
// state saved before the first change, rollback, and DEL restoring every field (also after the pod's
// netns died and the kernel released the VF under the pod ifname).
import t, { type Test as Tap } from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fakeVf } from '../helpers/fake-host-network.js';
import { POD_NETNS, delegateHarness, rejection, type Harness } from '../helpers/delegate-harness.js';

const PF = '0000:03:00.0';
const VF0 = '0000:03:10.0';
const VF1 = '0000:03:10.1';
const sysfs = {
  pci: [
    { address: PF, vendor: '8086', device: '10c9', driver: 'igb', netdevs: ['enp3s0'], sriov: { totalVfs: 7, numVfs: 2 } },
    { address: VF0, vendor: '8086', device: '10ca', driver: 'igbvf', netdevs: ['enp3s0v0'], vfOf: { pf: PF, vfIndex: 0 } },
    { address: VF1, vendor: '8086', device: '10ca', driver: 'vfio-pci', vfOf: { pf: PF, vfIndex: 1 } },
    { address: '0000:03:10.2', vendor: '8086', device: '10ca', driver: 'igbvf', netdevs: ['x'] },
  ],
};
const ORIGINAL = { mac: '02:11:11:11:11:11', vlan: 0, qos: 0, vlanProto: '802.1Q' as const, spoofchk: true, trust: false, linkState: 'auto' as const, minTxRate: 0, maxTxRate: 0 };

function setup(tt: Tap): Harness {
  const h = delegateHarness(sysfs);
  tt.teardown(h.cleanup);
  h.host.addLink('', { name: 'enp3s0', mtu: 9000, up: true, vfs: [fakeVf(0, ORIGINAL), fakeVf(1, { ...ORIGINAL, mac: '00:00:00:00:00:00' })] });
  h.host.addLink('', { name: 'enp3s0v0', mac: '02:22:22:22:22:22', mtu: 1500, parentDevName: VF0 });
  return h;
}

const FULL = { deviceID: VF0, vlan: 100, vlanQoS: 3, vlanProto: '802.1ad', mac: '02:33:33:33:33:33', spoofchk: 'off', trust: 'on', link_state: 'enable', min_tx_rate: 10, max_tx_rate: 100 };

t.test('config validation: every sriov-cni error, named with the network and the key', async (tt) => {
  const h = setup(tt);
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{}, /sriov network "testnet": "deviceID" is empty: VF pci addr is required/],
    [{ deviceID: VF0, vlan: 4095 }, /vlan id 4095 invalid: value must be in the range 0-4094/],
    [{ deviceID: VF0, vlanQoS: 1 }, /vlan id must be configured to set vlan QoS to a non-nil value/],
    [{ deviceID: VF0, vlan: 5, vlanQoS: 8 }, /vlan QoS PCP 8 invalid/],
    [{ deviceID: VF0, vlan: 0, vlanQoS: 1 }, /non-zero vlan id must be configured to set vlan QoS/],
    [{ deviceID: VF0, vlanProto: '802.1q' }, /vlan id must be configured to set vlan proto/],
    [{ deviceID: VF0, vlan: 5, vlanProto: 'qinq' }, /vlan Proto qinq invalid: value must be '802.1Q' or '802.1ad'/],
    [{ deviceID: VF0, vlan: 0, vlanProto: '802.1ad' }, /non-zero vlan id must be configured to set vlan proto 802.1ad/],
    [{ deviceID: VF0, link_state: 'up' }, /invalid link_state value: up/],
    [{ deviceID: VF0, mac: 'nope' }, /"mac" failed to parse MAC address "nope"/],
    [{ deviceID: VF0, vlan: '5' }, /"vlan" must be an integer/],
    [{ deviceID: '0000:03:10.2' }, /is not a VF/],
    [{ deviceID: '0000:09:00.0' }, /failed to get VF information/],
  ];
  for (const [conf, message] of cases) tt.match((await rejection(h.call('sriov', 'ADD', conf)))?.message, message, JSON.stringify(conf));
  tt.match((await rejection(h.call('sriov', 'ADD', { deviceID: VF0 }, { cniArgs: 'FOO=1' })))?.message, /CNI_ARGS" has unknown args \[FOO\]/);
  tt.same(h.host.link('', 'enp3s0')!.vfs[0], { ...ORIGINAL, vf: 0 }, 'the VF is untouched');
});

t.test('MAC precedence: runtimeConfig.mac > CNI_ARGS MAC > conf mac', async (tt) => {
  const cases: Array<[Record<string, unknown>, string, string]> = [
    [{ mac: '02:00:00:00:00:0a', runtimeConfig: { mac: '02:00:00:00:00:0C' } }, 'IgnoreUnknown=1;MAC=02:00:00:00:00:0b', '02:00:00:00:00:0c'],
    [{ mac: '02:00:00:00:00:0a' }, 'IgnoreUnknown=1;MAC=02:00:00:00:00:0b', '02:00:00:00:00:0b'],
    [{ mac: '02:00:00:00:00:0A' }, '', '02:00:00:00:00:0a'],
  ];
  for (const [conf, args, expected] of cases) {
    const h = delegateHarness(sysfs);
    h.host.addLink('', { name: 'enp3s0', vfs: [fakeVf(0, ORIGINAL)] });
    h.host.addLink('', { name: 'enp3s0v0', parentDevName: VF0 });
    const result = await h.call('sriov', 'ADD', { deviceID: VF0, ...conf }, { cniArgs: args }) as { interfaces: Array<{ mac: string }> };
    tt.equal(h.host.link('', 'enp3s0')!.vfs[0]!.mac, expected, 'admin MAC through the PF');
    tt.equal(h.host.link(POD_NETNS, 'net1')!.mac, expected, 'netdev MAC in the pod');
    tt.equal(result.interfaces[0]!.mac, expected, 'result MAC');
    h.cleanup();
  }
});

t.test('kernel mode: every VF attribute through the PF, VF moved and renamed, up; 1.1.0 result with mtu', async (tt) => {
  const h = setup(tt);
  const result = await h.call('sriov', 'ADD', { ...FULL, cniVersion: '1.1.0', ipam: { type: 'host-local' } }) as Record<string, unknown>;
  tt.same(h.host.link('', 'enp3s0')!.vfs[0], { vf: 0, mac: '02:33:33:33:33:33', vlan: 100, qos: 3, vlanProto: '802.1ad', spoofchk: false, trust: true, linkState: 'enable', minTxRate: 10, maxTxRate: 100 });
  const pod = h.host.link(POD_NETNS, 'net1');
  tt.ok(pod?.up, 'up in the pod');
  tt.equal(pod?.mac, '02:33:33:33:33:33');
  tt.equal(h.host.link('', 'enp3s0v0'), undefined, 'VF netdev left the host');
  const moves = h.host.journal.filter((entry) => entry.op.op === 'setLink' && entry.op.targetNetns !== undefined);
  tt.same(moves.map((entry) => entry.op), [{ op: 'setLink', link: 'enp3s0v0', targetNetns: POD_NETNS, newName: 'net1' }], 'moved and renamed in one message');
  tt.same(result['interfaces'], [{ name: 'net1', mac: '02:33:33:33:33:33', mtu: 1500, sandbox: POD_NETNS }]);
  tt.same(h.host.addressesOf(POD_NETNS, 'net1'), ['10.1.0.5/24'], 'IPAM applied');
  const sysctls = h.host.namespaces.get(POD_NETNS)!.sysctls;
  tt.equal(sysctls.get('net/ipv4/conf/net1/arp_notify'), '1');
  tt.equal(sysctls.get('net/ipv6/conf/net1/ndisc_notify'), '1');
});

t.test('the original VF state is saved before the first change', async (tt) => {
  const h = setup(tt);
  let savedBeforeFirstChange: unknown;
  h.host.failWhen = (op) => {
    if (op.op === 'setVf' && savedBeforeFirstChange === undefined) {
      const dir = join(h.stateDir, 'sriov');
      savedBeforeFirstChange = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8'));
    }
    return undefined;
  };
  await h.call('sriov', 'ADD', FULL);
  tt.match(savedBeforeFirstChange, { deviceID: VF0, pfName: 'enp3s0', vfIndex: 0, origVf: ORIGINAL, origNetdev: { name: 'enp3s0v0', mac: '02:22:22:22:22:22', mtu: 1500 } });
});

t.test('rollback: a PF step rejected half way (trust) restores the fields already set; nothing moved', async (tt) => {
  const h = setup(tt);
  h.host.failWhen = (op) => (op.op === 'setVf' && op.trust !== undefined ? 95 : undefined);
  const error = await rejection(h.call('sriov', 'ADD', FULL));
  tt.match(error?.message, /sriov network "testnet" \(net1\): failed to set up pod interface "net1"/);
  tt.same(h.host.link('', 'enp3s0')!.vfs[0], { ...ORIGINAL, vf: 0 }, 'VLAN, MAC, rate and spoofchk restored');
  tt.ok(h.host.link('', 'enp3s0v0'), 'VF netdev still in the host');
});

t.test('rollback: IPAM failure after the move brings the VF back under its name with its settings', async (tt) => {
  const h = setup(tt);
  h.ipam.failOn = 'ADD';
  await rejection(h.call('sriov', 'ADD', { ...FULL, ipam: { type: 'host-local' } }));
  const back = h.host.link('', 'enp3s0v0');
  tt.ok(back, 'VF netdev back in the host');
  tt.equal(back?.mac, '02:22:22:22:22:22', 'its MAC restored');
  tt.same(h.host.link('', 'enp3s0')!.vfs[0], { ...ORIGINAL, vf: 0 }, 'PF-side settings restored');
  tt.same(h.host.namespaces.get(POD_NETNS)?.links, []);
});

t.test('DEL restores every field and returns the VF; a second DEL succeeds', async (tt) => {
  const h = setup(tt);
  const conf = { ...FULL, ipam: { type: 'host-local' } };
  await h.call('sriov', 'ADD', conf);
  h.host.link(POD_NETNS, 'net1')!.mtu = 9000; // the pod changed it
  await h.call('sriov', 'DEL', conf);
  tt.same(h.host.link('', 'enp3s0')!.vfs[0], { ...ORIGINAL, vf: 0 }, 'PF-side attributes restored');
  const back = h.host.link('', 'enp3s0v0');
  tt.equal(back?.mac, '02:22:22:22:22:22', 'MAC restored');
  tt.equal(back?.mtu, 1500, 'MTU restored');
  tt.same(h.ipam.commands(), ['host-local:ADD', 'host-local:DEL']);
  await h.call('sriov', 'DEL', conf);
  tt.ok(h.host.link('', 'enp3s0v0'), 'second DEL: nothing to do, success');
});

t.test('DEL after the pod netns died: the VF released under the pod ifname is found and restored', async (tt) => {
  const h = setup(tt);
  await h.call('sriov', 'ADD', FULL);
  h.host.removeNamespace(POD_NETNS);
  tt.ok(h.host.link('', 'net1'), 'the kernel put the VF in the host as net1');
  await h.call('sriov', 'DEL', FULL);
  tt.ok(h.host.link('', 'enp3s0v0'), 'renamed back');
  tt.equal(h.host.link('', 'enp3s0v0')?.mac, '02:22:22:22:22:22');
  tt.same(h.host.link('', 'enp3s0')!.vfs[0], { ...ORIGINAL, vf: 0 });
  await h.call('sriov', 'DEL', FULL, { netns: '' });
  tt.pass('DEL with CNI_NETNS empty after that succeeds');
});

t.test('DPDK mode (vfio-pci): PF-side attributes only; IPAM result returned, not applied; result MTU is the PF\'s', async (tt) => {
  const h = setup(tt);
  const conf = { cniVersion: '1.1.0', deviceID: VF1, vlan: 7, ipam: { type: 'host-local' } };
  const result = await h.call('sriov', 'ADD', conf) as Record<string, unknown>;
  tt.equal(h.host.link('', 'enp3s0')!.vfs[1]!.vlan, 7);
  tt.same(result['interfaces'], [{ name: 'net1', mtu: 9000, sandbox: POD_NETNS }], 'no MAC (admin MAC is zero), PF MTU');
  tt.same(result['ips'], [{ interface: 0, address: '10.1.0.5/24', gateway: '10.1.0.1' }]);
  tt.same(h.host.namespaces.get(POD_NETNS)?.links, [], 'nothing in the pod');
  await h.call('sriov', 'DEL', conf);
  tt.equal(h.host.link('', 'enp3s0')!.vfs[1]!.vlan, 0, 'VLAN restored');
});

t.test('DEL without state: a VF still in the pod (by its PCI parent) is returned to the host', async (tt) => {
  const h = setup(tt);
  await h.call('sriov', 'ADD', { deviceID: VF0 });
  for (const file of readdirSync(join(h.stateDir, 'sriov'))) (await import('node:fs')).rmSync(join(h.stateDir, 'sriov', file));
  await h.call('sriov', 'DEL', { deviceID: VF0 });
  tt.same(h.host.namespaces.get(POD_NETNS)?.links, [], 'VF left the pod');
  tt.ok(h.host.link('', 'enp3s0v0'), 'under a name derived from the PF and VF index');
});

t.test('DEL takes over a VF that sriov-cni attached, from sriov-cni\'s own cache file', async (tt) => {
  const h = setup(tt);
  // What sriov-cni v2.10.0 leaves: the VF configured through the PF and moved into the pod as net1.
  Object.assign(h.host.link('', 'enp3s0')!.vfs[0]!, { mac: '02:44:44:44:44:44', vlan: 42, trust: true });
  await h.host.run(new (await import('../../native/index.js')).HostBatch().move('enp3s0v0', undefined, POD_NETNS, { newName: 'net1' }));
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(join(h.stateDir, 'sriov-cni'), { recursive: true });
  writeFileSync(join(h.stateDir, 'sriov-cni', 'c0ffee-net1'), JSON.stringify({
    cniVersion: '1.0.0', name: 'testnet', type: 'sriov', ipam: {}, deviceID: VF0, VFID: 0, Master: 'enp3s0', MAC: '02:44:44:44:44:44', vlan: 42, vlanQoS: 0, vlanProto: '802.1q', trust: 'on',
    OrigVfState: { HostIFName: 'enp3s0v0', SpoofChk: true, Trust: false, AdminMAC: '02:11:11:11:11:11', EffectiveMAC: '02:22:22:22:22:22', Vlan: 0, VlanQoS: 0, VlanProto: 33024, MinTxRate: 0, MaxTxRate: 0, LinkState: 0, MTU: 1500 },
  }));
  await h.call('sriov', 'DEL', { deviceID: VF0 });
  tt.same(h.host.link('', 'enp3s0')!.vfs[0], { ...ORIGINAL, vf: 0 }, 'VLAN, admin MAC and trust restored');
  tt.equal(h.host.link('', 'enp3s0v0')?.mac, '02:22:22:22:22:22', 'the VF netdev is back under its host name');
  tt.same(readdirSync(join(h.stateDir, 'sriov-cni')), [], 'sriov-cni\'s cache file removed');
});

t.test('an untrusted VF whose driver refuses its own MAC change once the PF set one (igb) still gets the MAC', async (tt) => {
  const h = setup(tt);
  // igb: after IFLA_VF_MAC, the VF's own MAC change is refused unless the VF is trusted.
  h.host.failWhen = (op) => (op.op === 'setLink' && op.mac !== undefined && h.host.link('', 'enp3s0')!.vfs[0]!.mac !== ORIGINAL.mac ? 99 : undefined);
  await h.call('sriov', 'ADD', { deviceID: VF0, mac: '02:55:55:55:55:55', trust: 'off' });
  tt.equal(h.host.link(POD_NETNS, 'net1')?.mac, '02:55:55:55:55:55', 'netdev MAC');
  tt.equal(h.host.link('', 'enp3s0')!.vfs[0]!.mac, '02:55:55:55:55:55', 'admin MAC');
});

t.test('STATUS forwards to IPAM; GC succeeds without doing anything', async (tt) => {
  const h = setup(tt);
  await h.call('sriov', 'STATUS', { cniVersion: '1.1.0', deviceID: VF0, ipam: { type: 'host-local' } });
  await h.call('sriov', 'GC', { cniVersion: '1.1.0', deviceID: VF0, ipam: { type: 'host-local' } });
  tt.same(h.ipam.commands(), ['host-local:STATUS']);
});

t.test('admin MAC: sriov-cni\'s retry (up to 20 sets through the PF, 100 ms apart) until the PF reports it', async (tt) => {
  const h = setup(tt);
  let macSets = 0;
  // The first three sets fail with EBUSY, as a PF busy resetting the VF answers.
  h.host.failWhen = (op) => (op.op === 'setVf' && op.mac === FULL.mac && ++macSets <= 3 ? 16 : undefined);
  const started = Date.now();
  await h.call('sriov', 'ADD', FULL);
  tt.equal(macSets, 4, 'three failed attempts, the fourth took');
  tt.ok(Date.now() - started >= 300, 'the attempts are 100 ms apart');
  tt.equal(h.host.link('', 'enp3s0')!.vfs[0]!.mac, FULL.mac, 'admin MAC set');
  tt.equal(h.host.link(POD_NETNS, 'net1')?.mac, FULL.mac, 'the VF is in the pod with it');
});

t.test('admin MAC: a set the driver acknowledges but does not apply is retried until the read-back matches', async (tt) => {
  const h = setup(tt);
  const realGetLink = h.host.getLink.bind(h.host);
  let staleReads = 2;
  // The driver says yes but the PF keeps reporting the old MAC for the first two read-backs.
  h.host.getLink = async (link, netns) => {
    const info = await realGetLink(link, netns);
    if (info && link === 'enp3s0' && info.vfs[0]!.mac === FULL.mac && staleReads-- > 0) info.vfs[0]!.mac = ORIGINAL.mac;
    return info;
  };
  await h.call('sriov', 'ADD', FULL);
  const sets = h.host.journal.filter((entry) => entry.op.op === 'setVf' && (entry.op as { mac?: string }).mac === FULL.mac);
  tt.equal(sets.length, 3, 'set again after each read-back that did not show it');
  tt.equal(staleReads, -1, 'read back three times');
});

t.test('admin MAC: 20 failed attempts fail ADD, naming the MAC; everything already set is undone', async (tt) => {
  const h = setup(tt);
  h.host.failWhen = (op) => (op.op === 'setVf' && op.mac === FULL.mac ? 16 : undefined);
  const error = await rejection(h.call('sriov', 'ADD', FULL));
  tt.match(error?.message, /sriov network "testnet" \(net1\): failed to set up pod interface "net1" from the device "0000:03:10\.0": failed to set MAC address to 02:33:33:33:33:33 for VF 0 of enp3s0 after 20 attempts/);
  tt.equal(h.host.journal.filter((entry) => entry.op.op === 'setVf' && (entry.op as { mac?: string }).mac === FULL.mac).length, 20, 'exactly 20 attempts');
  tt.same(h.host.link('', 'enp3s0')!.vfs[0], { ...ORIGINAL, vf: 0 }, 'the VLAN set before the MAC is restored');
  tt.equal(h.host.link('', 'enp3s0v0')?.mac, '02:22:22:22:22:22', 'the VF netdev is in the host with its own MAC');
  tt.same(readdirSync(join(h.stateDir, 'sriov')), [], 'no state left');
});

t.test('announcements after ADD: one step in the pod netns with every IPAM address; none without IPAM or in DPDK mode', async (tt) => {
  const h = setup(tt);
  h.ipam.addResult = { cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/24', gateway: '10.1.0.1' }, { address: '2001:db8::5/64' }] };
  await h.call('sriov', 'ADD', { deviceID: VF0, mac: '02:66:66:66:66:66', ipam: { type: 'host-local' } });
  tt.same(h.host.announcements, [{ netns: POD_NETNS, link: 'net1', mac: '02:66:66:66:66:66', addresses: ['10.1.0.5', '2001:db8::5'] }], 'GARP + NA from the pod interface');
  const announceAt = h.host.journal.findIndex((entry) => entry.op.op === 'announce');
  const lastAddress = h.host.journal.map((entry) => entry.op.op).lastIndexOf('addAddress');
  tt.ok(announceAt > lastAddress, 'after the addresses are on the interface');
  await h.call('sriov', 'DEL', { deviceID: VF0, ipam: { type: 'host-local' } });
  h.host.announcements.length = 0;
  await h.call('sriov', 'ADD', { deviceID: VF0 }, { containerId: 'noipam' });
  await h.call('sriov', 'ADD', { deviceID: VF1, ipam: { type: 'host-local' } }, { containerId: 'dpdk' });
  tt.same(h.host.announcements, [], 'nothing announced without IPAM or in DPDK mode');
});

t.test('announcements: a failure to send is logged and ADD still succeeds, as the reference ignores it', async (tt) => {
  const h = setup(tt);
  h.host.failWhen = (op) => (op.op === 'announce' ? 1 : undefined);
  const result = await h.call('sriov', 'ADD', { deviceID: VF0, ipam: { type: 'host-local' } }) as Record<string, unknown>;
  tt.match(result['ips'], [{ address: '10.1.0.5/24' }]);
  tt.ok(h.host.link(POD_NETNS, 'net1')?.up, 'the VF is in the pod and up');
});
