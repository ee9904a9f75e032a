import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parseDevicePluginConfig } from '../../config/deviceplugin-config.js';
import { diffSnapshots, discover } from '../../deviceplugin/discovery/index.js';
import type { DiscoveredDevice, DiscoverySnapshot } from '../../deviceplugin/model.js';
import { buildFakeHost, type FakeHostDescription } from '../helpers/fake-sysfs.js';
import { repoRoot } from '../helpers/paths.js';
import {
  accelerators, awsEna, igbUioVfWithoutPf, intelE810, intelX710, mellanoxConnectX5, mellanoxSubfunctions, nvmeDrive,
  pfWithoutDriver, unparsableEntries, virtioNet,
} from '../helpers/nic-models.js';

async function discoverOn(t: Test, description: FakeHostDescription, resourceList: unknown[] = [], pciIdsPath: string | null = null): Promise<DiscoverySnapshot> {
  const host = buildFakeHost(description);
  t.teardown(host.cleanup);
  const { config } = parseDevicePluginConfig(JSON.stringify({ resourceList }), 'test.json', { defaultPrefix: 'intel.com' });
  return discover({ sysfsRoot: host.sysfsRoot, procRoot: host.procRoot, devRoot: host.devRoot, config, pciIdsPath });
}

function byAddress(snapshot: DiscoverySnapshot, address: string): DiscoveredDevice {
  const found = snapshot.devices.find((device) => device.pciAddress === address);
  if (!found) throw new Error(`device ${address} not in the snapshot`);
  return found;
}

function poolDevices(snapshot: DiscoverySnapshot, resourceName: string): string[] {
  const pool = snapshot.pools.find((candidate) => candidate.resourceName === resourceName);
  if (!pool) throw new Error(`pool ${resourceName} missing`);
  return pool.devices;
}

const everyNetDevice = [{ resourceName: 'all', selectors: {} }];

t.test('discovery succeeds on an empty PCI bus', async (t) => {
  const snapshot = await discoverOn(t, {}, everyNetDevice);
  t.same(snapshot.devices, []);
  t.same(snapshot.pools.map((pool) => [pool.resourceName, pool.devices]), [['intel.com/all', []]]);
});

t.test('discovery succeeds with an unparsable modalias, a PF without VFs, a PF without driver, a PF with 1 VF, igb_uio VFs without PF', async (t) => {
  const snapshot = await discoverOn(t, {
    pci: [
      ...unparsableEntries(),
      { address: '0000:5e:00.0', vendor: '8086', device: '1572', driver: 'i40e', netdevs: ['ens2f0'], sriov: { totalVfs: 64, numVfs: 0 } },
      pfWithoutDriver('0000:af:00.0'),
      { address: '0000:d8:00.0', vendor: '8086', device: '1572', driver: 'i40e', netdevs: ['ens4f0'], sriov: { totalVfs: 64, numVfs: 1 } },
      { address: '0000:d8:02.0', vendor: '8086', device: '154c', driver: 'iavf', netdevs: ['ens4f0v0'], vfOf: { pf: '0000:d8:00.0', vfIndex: 0 } },
      igbUioVfWithoutPf('0000:00:09.0'),
      igbUioVfWithoutPf('0000:00:0a.0'),
    ],
  }, everyNetDevice);
  t.same(poolDevices(snapshot, 'intel.com/all'), ['0000:00:09.0', '0000:00:0a.0', '0000:0a:00.2', '0000:5e:00.0', '0000:d8:02.0']);
  t.equal(byAddress(snapshot, '0000:0a:00.2').excludedBecause, null, 'a garbage modalias does not matter');
  t.match(byAddress(snapshot, '0000:0a:00.1').excludedBecause, /^unreadable device: vendor is missing/);
  t.equal(byAddress(snapshot, '0000:af:00.0').excludedBecause, 'no driver bound');
  t.equal(byAddress(snapshot, '0000:d8:00.0').excludedBecause, 'PF with VFs enabled');
  const uioVf = byAddress(snapshot, '0000:00:09.0');
  t.match(uioVf, { driver: 'igb_uio', uioDevice: 'uio0', pfAddress: null, vfIndex: -1, netdevs: [], pfNetdev: null });
});

t.test('of a PF with numvfs=32, an unparsable class and one good device, one candidate remains', async (t) => {
  const functions = [
    { address: '0000:01:00.0', vendor: '8086', device: '1572', driver: 'i40e', netdevs: ['ens1'], sriov: { totalVfs: 64, numVfs: 32 } },
    { address: '0000:01:00.1', vendor: '8086', device: '1572', driver: 'i40e', files: { class: 'garbage' } },
    { address: '0000:01:00.2', vendor: '8086', device: '1572', driver: 'i40e', netdevs: ['ens3'] },
  ];
  const snapshot = await discoverOn(t, { pci: functions }, everyNetDevice);
  t.same(poolDevices(snapshot, 'intel.com/all'), ['0000:01:00.2']);
  t.equal(byAddress(snapshot, '0000:01:00.0').excludedBecause, 'PF with VFs enabled');
  t.match(byAddress(snapshot, '0000:01:00.1').excludedBecause, /^unreadable device: class is missing or not a hex class code/);
});

t.test('accelerator pools keep every class-0x12 match, with no default-route or PF filter', async (t) => {
  const snapshot = await discoverOn(t, { pci: [...accelerators(), virtioNet()], ipv4DefaultRoutes: ['eth0'] }, [
    { resourceName: 'fpga', deviceType: 'accelerator', selectors: { vendors: ['8086'] } },
    { resourceName: 'redhat_acc', deviceType: 'accelerator', selectors: { vendors: ['1af4'] } },
  ]);
  t.same(poolDevices(snapshot, 'intel.com/fpga'), ['0000:3d:00.0', '0000:3d:00.1']);
  t.equal(byAddress(snapshot, '0000:3d:00.2').excludedBecause, 'no driver bound');
  t.same(poolDevices(snapshot, 'intel.com/redhat_acc'), [], 'a network device is not an accelerator');
});

t.test('auxNetDevice pools discover subfunctions per PCI parent (one parent → 3 aux devices)', async (t) => {
  const snapshot = await discoverOn(t, { pci: mellanoxConnectX5({ numVfs: 0 }), aux: mellanoxSubfunctions('0000:86:00.0') }, [
    { resourceName: 'sf', resourcePrefix: 'nvidia.com', deviceType: 'auxNetDevice', selectors: { vendors: ['15b3'], pfNames: ['enp134s0f0np0'], auxTypes: ['sf'], isRdma: true } },
    ...everyNetDevice,
  ]);
  t.same(poolDevices(snapshot, 'nvidia.com/sf'), ['mlx5_core.sf.1', 'mlx5_core.sf.2', 'mlx5_core.sf.3']);
  t.match(byAddress(snapshot, 'mlx5_core.sf.2'), { kind: 'aux', auxType: 'sf', pfAddress: '0000:86:00.0', pfNetdev: 'enp134s0f0np0', vfIndex: 2, netdevs: ['enp134s0f0s2'], rdmaDevices: ['mlx5_12'] });
  t.notOk(poolDevices(snapshot, 'intel.com/all').some((address) => address.startsWith('mlx5_core')), 'netDevice pools never take aux devices');
});

t.test('a pool whose selector list is empty gets no devices', async (t) => {
  const snapshot = await discoverOn(t, { pci: [virtioNet()] }, [{ resourceName: 'none', selectors: [] }]);
  t.same(poolDevices(snapshot, 'intel.com/none'), []);
  t.equal(byAddress(snapshot, '0000:00:03.0').excludedBecause, 'no selector matched');
});

t.test('a device without a driver link is listed with driver null and the reason, never offered', async (t) => {
  const snapshot = await discoverOn(t, { pci: [pfWithoutDriver('0000:af:00.0')] }, [{ resourceName: 'x710', selectors: { vendors: ['8086'] } }]);
  t.match(byAddress(snapshot, '0000:af:00.0'), { driver: null, pool: null, excludedBecause: 'no driver bound' });
  t.same(poolDevices(snapshot, 'intel.com/x710'), []);
});

t.test('a missing or negative numa_node means no NUMA node; excludeTopology is carried on the pool', async (t) => {
  const snapshot = await discoverOn(t, {
    pci: [
      { address: '0000:01:00.0', vendor: '8086', device: '1572', driver: 'i40e', numaNode: null },
      { address: '0000:01:00.1', vendor: '8086', device: '1572', driver: 'i40e', numaNode: -1 },
      { address: '0000:01:00.2', vendor: '8086', device: '1572', driver: 'i40e', numaNode: 1 },
      { address: '0000:01:00.3', vendor: '8086', device: '1572', driver: 'i40e', files: { numa_node: 'junk' } },
    ],
  }, [{ resourceName: 'a', excludeTopology: true, selectors: {} }]);
  t.same(['0000:01:00.0', '0000:01:00.1', '0000:01:00.2', '0000:01:00.3'].map((address) => byAddress(snapshot, address).numaNode), [null, null, 1, null]);
  t.equal(snapshot.pools[0]?.excludeTopology, true);
});

t.test('a VF is still added when its PF name is unavailable', async (t) => {
  const snapshot = await discoverOn(t, {
    pci: [
      { address: '0000:3b:00.0', vendor: '8086', device: '1592', driver: 'ice', sriov: { totalVfs: 8, numVfs: 1 } },
      { address: '0000:3b:01.0', vendor: '8086', device: '1889', driver: 'iavf', netdevs: ['vf0'], vfOf: { pf: '0000:3b:00.0', vfIndex: 0 } },
    ],
  }, [{ resourceName: 'e810', selectors: { devices: ['1889'] } }]);
  t.match(byAddress(snapshot, '0000:3b:01.0'), { pfNetdev: null, pfAddress: '0000:3b:00.0', vfIndex: 0, pool: 'intel.com/e810' });
});

t.test('link type falls back to the PF link type when the VF has no netdev (vfio-pci)', async (t) => {
  const snapshot = await discoverOn(t, { pci: mellanoxConnectX5({ numVfs: 2, linkType: 'infiniband' }).map((fn) => (fn.address === '0000:86:00.3' ? { ...fn, driver: 'vfio-pci', netdevs: [] } : fn)) }, [
    { resourceName: 'ib', selectors: { linkTypes: ['infiniband'] } },
  ]);
  t.match(byAddress(snapshot, '0000:86:00.3'), { netdevs: [], linkType: 'infiniband', pool: 'intel.com/ib' });
  t.match(byAddress(snapshot, '0000:86:00.2'), { linkType: 'infiniband', pKeys: [] }, 'pkeys are not read when no selector asks');
});

t.test('InfiniBand pkeys are read from the pkey table when a pKeys selector asks, and select by value', async (t) => {
  const snapshot = await discoverOn(t, { pci: mellanoxConnectX5({ numVfs: 2, linkType: 'infiniband' }) }, [
    { resourceName: 'pkey', selectors: { pKeys: ['0x8001'] } },
  ]);
  t.same(byAddress(snapshot, '0000:86:00.2').pKeys, ['0x8001', '0xffff']);
  t.same(poolDevices(snapshot, 'intel.com/pkey'), ['0000:86:00.2', '0000:86:00.3']);
});

t.test('RDMA devices come from infiniband/ and the isRdma selector uses them', async (t) => {
  const snapshot = await discoverOn(t, { pci: [...mellanoxConnectX5({ numVfs: 2 }), ...intelX710({ numVfs: 2 })] }, [
    { resourceName: 'rdma', resourcePrefix: 'nvidia.com', selectors: { isRdma: true } },
  ]);
  t.same(poolDevices(snapshot, 'nvidia.com/rdma'), ['0000:86:00.2', '0000:86:00.3']);
  t.same(byAddress(snapshot, '0000:86:00.2').rdmaDevices, ['mlx5_2']);
  t.same(snapshot.pools[0]?.selectors, [{ isRdma: true, needVhostNet: false, vdpaType: null }]);
});

t.test('when two pools match a device only the first keeps it; the later one is recorded', async (t) => {
  const snapshot = await discoverOn(t, { pci: intelE810({ numVfs: 4 }) }, [
    { resourceName: 'first', selectors: { drivers: ['iavf'] } },
    { resourceName: 'second', selectors: { vendors: ['8086'], devices: ['1889'] } },
  ]);
  t.same(poolDevices(snapshot, 'intel.com/first'), ['0000:3b:01.0', '0000:3b:01.1', '0000:3b:01.2', '0000:3b:01.3']);
  t.same(poolDevices(snapshot, 'intel.com/second'), []);
  t.same(byAddress(snapshot, '0000:3b:01.0').alsoMatchedBy, ['intel.com/second']);
});

t.test('PF has no physfn, a VF physfn gives its PF, sriov_totalvfs marks a PF, a bad sriov_numvfs counts as 0', async (t) => {
  const snapshot = await discoverOn(t, {
    pci: [
      ...intelE810({ numVfs: 2 }),
      { address: '0000:5e:00.0', vendor: '8086', device: '1572', driver: 'i40e', netdevs: ['ens9'], sriov: { totalVfs: 64, numVfs: 'garbage' } },
    ],
  }, everyNetDevice);
  t.match(byAddress(snapshot, '0000:3b:00.0'), { isSriovPf: true, pfAddress: null, vfIndex: -1, sriovTotalVfs: 256, sriovNumVfs: 2 });
  t.match(byAddress(snapshot, '0000:3b:01.1'), { isSriovPf: false, pfAddress: '0000:3b:00.0', vfIndex: 1, pfNetdev: 'ens1f0' });
  t.match(byAddress(snapshot, '0000:5e:00.0'), { sriovNumVfs: 0, pool: 'intel.com/all' });
});

t.test('the VF index comes from the PF virtfnN links, even when addresses are not in index order', async (t) => {
  const functions = [{ address: '0000:3b:00.0', vendor: '8086', device: '1592', driver: 'ice', netdevs: ['ens1f0'], sriov: { totalVfs: 8, numVfs: 3 } }];
  const slots: Array<[string, number]> = [['0000:3b:01.0', 2], ['0000:3b:01.1', 0], ['0000:3b:01.2', 1]];
  const vfs = slots.map(([address, vfIndex]) => ({ address, vendor: '8086', device: '1889', driver: 'iavf', vfOf: { pf: '0000:3b:00.0', vfIndex } }));
  const snapshot = await discoverOn(t, { pci: [...functions, ...vfs] });
  t.same(slots.map(([address]) => byAddress(snapshot, address).vfIndex), [2, 0, 1]);
});

t.test('a physfn link whose PF is not on the bus leaves the VF listed with index -1 and a problem', async (t) => {
  const snapshot = await discoverOn(t, { pci: [{ address: '0000:3b:01.0', vendor: '8086', device: '1889', driver: 'iavf', vfOf: { pf: '0000:3b:00.0', vfIndex: 0 } }] }, everyNetDevice);
  const vf = byAddress(snapshot, '0000:3b:01.0');
  t.equal(vf.pfAddress, '0000:3b:00.0');
  t.equal(vf.vfIndex, -1);
  t.match(vf.problems?.[0], /physfn points to 0000:3b:00.0/);
});

t.test('link is up only when every netdev of the device is up', async (t) => {
  const snapshot = await discoverOn(t, {
    pci: [
      { address: '0000:01:00.0', vendor: '8086', device: '1572', driver: 'i40e', netdevs: [{ name: 'a0', operstate: 'up' }, { name: 'a1', operstate: 'up' }] },
      { address: '0000:01:00.1', vendor: '8086', device: '1572', driver: 'i40e', netdevs: [{ name: 'b0', operstate: 'up' }, { name: 'b1', operstate: 'down' }] },
      { address: '0000:01:00.2', vendor: '8086', device: '1572', driver: 'vfio-pci' },
    ],
  });
  t.same(['0000:01:00.0', '0000:01:00.1', '0000:01:00.2'].map((address) => byAddress(snapshot, address).linkUp), [true, false, null]);
});

t.test('a non-symlink iommu_group is reported and leaves no group; a no-IOMMU group is detected', async (t) => {
  const snapshot = await discoverOn(t, {
    pci: [
      { address: '0000:01:00.0', vendor: '8086', device: '1572', driver: 'vfio-pci', iommuGroup: 'file' },
      ...awsEna(),
    ],
  }, everyNetDevice);
  t.match(byAddress(snapshot, '0000:01:00.0'), { iommuGroup: null, problems: ['iommu_group is not a symlink'] });
  t.match(byAddress(snapshot, '0000:00:07.0'), { iommuGroup: '7', noIommu: true });
  t.match(byAddress(snapshot, '0000:00:05.0'), { iommuGroup: '5', noIommu: false });
});

t.test('a device whose netdev carries the IPv4 default route is excluded as "default route"', async (t) => {
  const snapshot = await discoverOn(t, { pci: awsEna(), ipv4DefaultRoutes: ['ens5'] }, [{ resourceName: 'ena', resourcePrefix: 'amazon.com', selectors: { vendors: ['1d0f'] } }]);
  t.equal(byAddress(snapshot, '0000:00:05.0').excludedBecause, 'default route');
  t.same(poolDevices(snapshot, 'amazon.com/ena'), ['0000:00:06.0', '0000:00:07.0']);
  t.same(snapshot.defaultRouteNetdevs, ['ens5']);
});

t.test('an IPv6-only default route also excludes the NIC; the unreachable ::/0 on lo does not count', async (t) => {
  const snapshot = await discoverOn(t, { pci: [virtioNet('0000:00:03.0', 'eth0'), virtioNet('0000:00:04.0', 'eth1', 3)], ipv6DefaultRoutes: ['eth1'] }, everyNetDevice);
  t.equal(byAddress(snapshot, '0000:00:04.0').excludedBecause, 'default route');
  t.equal(byAddress(snapshot, '0000:00:03.0').pool, 'intel.com/all');
  t.same(snapshot.defaultRouteNetdevs, ['eth1']);
});

t.test('in switchdev mode the PF name is the uplink representor; an aux device takes its parent netdev', async (t) => {
  const pf = {
    address: '0000:86:00.0', vendor: '15b3', device: '101d', driver: 'mlx5_core', sriov: { totalVfs: 8, numVfs: 1 },
    netdevs: [{ name: 'eth_rep0', physPortName: 'pf0vf0' }, { name: 'enp134s0f0np0', physPortName: 'p0' }],
  };
  const vf = { address: '0000:86:00.2', vendor: '15b3', device: '101e', driver: 'mlx5_core', netdevs: ['enp134s0f0v0'], vfOf: { pf: pf.address, vfIndex: 0 } };
  const snapshot = await discoverOn(t, { pci: [pf, vf], aux: [{ name: 'mlx5_core.sf.4', parent: pf.address, sfnum: 4 }] });
  t.equal(byAddress(snapshot, vf.address).pfNetdev, 'enp134s0f0np0');
  t.equal(byAddress(snapshot, 'mlx5_core.sf.4').pfNetdev, 'enp134s0f0np0');
});

t.test('the aux type is parsed from driver.type.N, N a non-negative integer', async (t) => {
  const parent = '0000:86:00.0';
  const snapshot = await discoverOn(t, {
    pci: mellanoxConnectX5({ numVfs: 0 }),
    aux: [{ name: 'mlx5_core.sf.0', parent }, { name: 'mlx5_core.eth.1', parent }, { name: 'mlx5_core.sf.x', parent }, { name: 'mlx5_core', parent }],
  }, [{ resourceName: 'sf', deviceType: 'auxNetDevice', selectors: { auxTypes: ['sf'] } }]);
  t.same(['mlx5_core.sf.0', 'mlx5_core.eth.1', 'mlx5_core.sf.x', 'mlx5_core'].map((name) => byAddress(snapshot, name).auxType), ['sf', 'eth', null, null]);
  t.same(poolDevices(snapshot, 'intel.com/sf'), ['mlx5_core.sf.0']);
  t.match(byAddress(snapshot, 'mlx5_core.sf.x').excludedBecause, /unreadable auxiliary device/);
});

t.test('model: Intel E810 with iavf and vfio-pci VFs splits into a netdevice and a DPDK pool by pfNames ranges', async (t) => {
  const snapshot = await discoverOn(t, { pci: intelE810({ numVfs: 8, vfioVfs: [6, 7] }) }, [
    { resourceName: 'e810_netdevice', selectors: { vendors: ['8086'], devices: ['1889'], drivers: ['iavf'], pfNames: ['ens1f0#0-5'] } },
    { resourceName: 'e810_dpdk', selectors: { vendors: ['8086'], devices: ['1889'], drivers: ['vfio-pci'], pfNames: ['ens1f0#6-7'] } },
  ]);
  t.equal(poolDevices(snapshot, 'intel.com/e810_netdevice').length, 6);
  t.same(poolDevices(snapshot, 'intel.com/e810_dpdk'), ['0000:3b:01.6', '0000:3b:01.7']);
  t.match(byAddress(snapshot, '0000:3b:01.6'), { driver: 'vfio-pci', netdevs: [], linkType: 'ether', iommuGroup: '47', numaNode: 0 });
  t.equal(byAddress(snapshot, '0000:3b:00.0').excludedBecause, 'PF with VFs enabled');
});

t.test('model: Intel X710, port 1 without VFs is offered itself; port 0 only through its VFs', async (t) => {
  const snapshot = await discoverOn(t, { pci: intelX710({ numVfs: 4 }) }, [
    { resourceName: 'x710_vfs', selectors: { rootDevices: ['5e:00.0'] } },
    { resourceName: 'x710_port1', selectors: { pfNames: ['ens2f1'] } },
  ]);
  t.same(poolDevices(snapshot, 'intel.com/x710_vfs'), ['0000:5e:02.0', '0000:5e:02.1', '0000:5e:02.2', '0000:5e:02.3']);
  t.same(poolDevices(snapshot, 'intel.com/x710_port1'), ['0000:5e:00.1']);
  t.equal(byAddress(snapshot, '0000:5e:00.0').excludedBecause, 'PF with VFs enabled');
});

t.test('model: virtio-net netdev is found under virtioN/net/; a non-network device is listed as such', async (t) => {
  const snapshot = await discoverOn(t, { pci: [virtioNet('0000:00:03.0', 'eth0', 2), nvmeDrive()] }, [{ resourceName: 'virtio', selectors: { vendors: ['1af4'] } }]);
  t.match(byAddress(snapshot, '0000:00:03.0'), { netdevs: ['eth0'], pfNetdev: 'eth0', linkType: 'ether', driver: 'virtio-pci', pool: 'intel.com/virtio' });
  t.equal(byAddress(snapshot, '0000:02:00.0').excludedBecause, 'not a network device (class 0x010802)');
});

t.test('vendor and device names come from the given pci.ids; without one, names are null', async (t) => {
  const host = buildFakeHost({ pci: [virtioNet(), ...awsEna()] });
  t.teardown(host.cleanup);
  const idsPath = join(host.root, 'pci.ids');
  writeFileSync(idsPath, '# test\n1af4  Red Hat, Inc.\n\t1041  Virtio 1.0 network device\n1d0f  Amazon.com, Inc.\n\tec20  Elastic Network Adapter (ENA)\nC 02  Network controller\n');
  const { config } = parseDevicePluginConfig('{"resourceList":[]}', 't.json', { defaultPrefix: 'intel.com' });
  const named = await discover({ sysfsRoot: host.sysfsRoot, procRoot: host.procRoot, devRoot: host.devRoot, config, pciIdsPath: idsPath });
  t.match(byAddress(named, '0000:00:03.0'), { vendorName: 'Red Hat, Inc.', deviceName: 'Virtio 1.0 network device' });
  t.match(byAddress(named, '0000:00:05.0'), { vendorName: 'Amazon.com, Inc.', deviceName: 'Elastic Network Adapter (ENA)' });
  t.equal(named.pciIdsSource, idsPath);
  const bare = await discover({ sysfsRoot: host.sysfsRoot, procRoot: host.procRoot, devRoot: host.devRoot, config, pciIdsPath: join(host.root, 'missing.ids') });
  t.match(byAddress(bare, '0000:00:03.0'), { vendorName: null, deviceName: null, vendorId: '1af4', deviceId: '1041' });
  t.equal(bare.pciIdsSource, null);
});

t.test('vhost-net is available only when both /dev/vhost-net and /dev/net/tun exist', async (t) => {
  t.equal((await discoverOn(t, { vhostNet: true })).vhostNetAvailable, true);
  t.equal((await discoverOn(t, {})).vhostNetAvailable, false);
});

t.test('a vDPA device on a VF gives its type from the vDPA driver', async (t) => {
  const snapshot = await discoverOn(t, { pci: [{ address: '0000:65:00.2', vendor: '15b3', device: '101e', driver: 'mlx5_core', vdpa: { name: 'vdpa0', driver: 'vhost_vdpa' } }] }, [
    { resourceName: 'vdpa', selectors: { vdpaType: 'vhost' } },
  ]);
  t.match(byAddress(snapshot, '0000:65:00.2'), { vdpaType: 'vhost', pool: 'intel.com/vdpa' });
});

t.test('a sysfs root without bus/ is a clear error, not an empty result', async (t) => {
  const { config } = parseDevicePluginConfig('{"resourceList":[]}', 't.json', { defaultPrefix: 'intel.com' });
  await t.rejects(discover({ sysfsRoot: '/nonexistent-sysfs', config }), /has no bus\/ directory/);
});

t.test('diffSnapshots reports added, removed and changed devices and the pools that changed', async (t) => {
  const resources = [{ resourceName: 'vfs', selectors: { drivers: ['iavf'] } }, { resourceName: 'dpdk', selectors: { drivers: ['vfio-pci'] } }];
  const before = await discoverOn(t, { pci: intelE810({ numVfs: 3 }) }, resources);
  const after = await discoverOn(t, { pci: intelE810({ numVfs: 2, vfioVfs: [1] }).concat(virtioNet()) }, resources);
  const diff = diffSnapshots(before, after);
  t.same(diff.added, ['0000:00:03.0']);
  t.same(diff.removed, ['0000:3b:01.2']);
  t.same(diff.changed, ['0000:3b:00.0', '0000:3b:01.1']);
  t.same(diff.poolsChanged, ['intel.com/dpdk', 'intel.com/vfs']);
  t.same(diffSnapshots(after, after), { added: [], removed: [], changed: [], poolsChanged: [] });
});

t.test('the pool records per selector object whether it wants RDMA or vhost-net, and each device which object took it', async (t) => {
  const snapshot = await discoverOn(t, { pci: intelE810({ numVfs: 2, vfioVfs: [1] }), vhostNet: true }, [
    { resourceName: 'mixed', selectors: [{ drivers: ['iavf'], needVhostNet: true }, { drivers: ['vfio-pci'] }] },
  ]);
  t.same(snapshot.pools[0]?.selectors, [{ isRdma: false, needVhostNet: true, vdpaType: null }, { isRdma: false, needVhostNet: false, vdpaType: null }]);
  t.equal(byAddress(snapshot, '0000:3b:01.0').selectorIndex, 0);
  t.equal(byAddress(snapshot, '0000:3b:01.1').selectorIndex, 1);
  t.equal(snapshot.vhostNetAvailable, true);
});

t.test('discovery never throws on odd bus entries: a dangling link and a plain file are listed as unreadable', async (t) => {
  const host = buildFakeHost({ pci: [virtioNet()] });
  t.teardown(host.cleanup);
  const bus = join(host.sysfsRoot, 'bus', 'pci', 'devices');
  symlinkSync('../../../devices/pci0000:00/0000:00:1f.0', join(bus, '0000:00:1f.0'));
  writeFileSync(join(bus, 'garbage'), 'x');
  mkdirSync(join(host.sysfsRoot, 'bus', 'auxiliary', 'devices'), { recursive: true });
  symlinkSync('nowhere', join(host.sysfsRoot, 'bus', 'auxiliary', 'devices', 'mlx5_core.sf.9'));
  const { config } = parseDevicePluginConfig(JSON.stringify({ resourceList: everyNetDevice }), 't.json', { defaultPrefix: 'intel.com' });
  const snapshot = await discover({ sysfsRoot: host.sysfsRoot, procRoot: host.procRoot, devRoot: host.devRoot, config, pciIdsPath: null });
  t.same(snapshot.pools[0]?.devices, ['0000:00:03.0']);
  t.match(byAddress(snapshot, '0000:00:1f.0'), { pool: null, excludedBecause: /^unreadable device: device directory is empty or unreadable/ });
  t.match(byAddress(snapshot, 'garbage'), { pool: null, excludedBecause: /^unreadable device/ });
  t.match(byAddress(snapshot, 'mlx5_core.sf.9'), { kind: 'aux', pool: null, problems: [/parent PCI device .* is not on the PCI bus/] });
});

t.test('the shipped example configs load without warnings and fill their pools on the matching NIC models', async (t) => {
  const cases: Array<[string, FakeHostDescription, Record<string, number>]> = [
    ['deviceplugin-intel-e810.json', { pci: intelE810({ numVfs: 8, vfioVfs: [6, 7] }) }, { 'intel.com/e810_netdevice': 6, 'intel.com/e810_dpdk': 2 }],
    ['deviceplugin-intel-x710.json', { pci: intelX710({ numVfs: 4 }) }, { 'intel.com/x710_vfs': 4, 'intel.com/x710_port1': 1 }],
    ['deviceplugin-mellanox-connectx.json', { pci: mellanoxConnectX5({ numVfs: 2, pfNetdev: 'enp59s0f0np0' }), aux: mellanoxSubfunctions() }, { 'nvidia.com/cx5_rdma': 2, 'nvidia.com/cx5_sf': 3 }],
    ['deviceplugin-aws-ena.json', { pci: awsEna(), ipv4DefaultRoutes: ['ens5'] }, { 'amazon.com/ena_netdevice': 1, 'amazon.com/ena_dpdk': 1 }],
    ['deviceplugin-host-virtio.json', { pci: [virtioNet()] }, { 'nicplex.io/virtio_net': 1, 'nicplex.io/redhat_any': 0, 'intel.com/intel_sriov_netdevice': 0 }],
  ];
  for (const [file, description, expected] of cases) {
    const text = readFileSync(join(repoRoot, 'config', 'examples', file), 'utf8');
    const { config, warnings } = parseDevicePluginConfig(text, file, { defaultPrefix: 'intel.com' });
    t.same(warnings, [], `${file} has no warnings`);
    const host = buildFakeHost(description);
    t.teardown(host.cleanup);
    const snapshot = await discover({ sysfsRoot: host.sysfsRoot, procRoot: host.procRoot, devRoot: host.devRoot, config, pciIdsPath: null });
    t.same(Object.fromEntries(snapshot.pools.map((pool) => [pool.resourceName, pool.devices.length])), expected, file);
  }
});

t.test('reading IDs, class and driver from uevent gives the same snapshot as reading the single files', async (t) => {
  const functions = [...intelE810({ numVfs: 3, vfioVfs: [2] }), virtioNet(), pfWithoutDriver(), nvmeDrive(), ...accelerators()];
  const resources = [{ resourceName: 'all', selectors: {} }, { resourceName: 'acc', deviceType: 'accelerator', selectors: {} }];
  const withUevent = await discoverOn(t, { pci: functions }, resources);
  const withoutUevent = await discoverOn(t, { pci: functions.map((fn) => ({ ...fn, uevent: false })) }, resources);
  t.same(withoutUevent.devices, withUevent.devices);
  t.same(withoutUevent.pools, withUevent.pools);
  t.equal(withUevent.pools[0]?.devices.length, 4, 'three VFs and virtio');
  t.equal(withUevent.pools[1]?.devices.length, 2, 'the two bound accelerators');
});
