import t from 'tap';
import { parseDevicePluginConfig, type SelectorConfig } from '../../config/deviceplugin-config.js';
import { discover } from '../../deviceplugin/discovery/index.js';
import { firstRejectingSelector, matchingSelectorIndex } from '../../deviceplugin/discovery/selectors.js';
import type { HostDevice } from '../../deviceplugin/model.js';
import { buildFakeHost, type FakePciFunction } from '../helpers/fake-sysfs.js';

function device(overrides: Partial<HostDevice>): HostDevice {
  return {
    pciAddress: '0000:3b:02.0', vendorId: '8086', deviceId: '154c', vendorName: null, deviceName: null, classCode: '020000',
    driver: 'iavf', numaNode: 0, iommuGroup: '10', noIommu: false, sriovTotalVfs: null, sriovNumVfs: null,
    pfAddress: '0000:3b:00.0', vfIndex: 0, netdevs: ['ens1f0v0'], pfNetdev: 'ens1f0', linkType: 'ether', linkUp: true,
    rdmaDevices: [], uioDevice: null, acpiIndex: null, pKeys: [], ddpProfile: null, vdpaType: null, auxType: null,
    ...overrides,
  };
}

/** One netDevice pool's selector objects, parsed through the real config loader. */
function selectors(selector: unknown): SelectorConfig[] {
  const { config } = parseDevicePluginConfig(JSON.stringify({ resourceList: [{ resourceName: 'p', selectors: selector }] }), 't.json', { defaultPrefix: 'intel.com' });
  return config.resourceList[0]?.selectors ?? [];
}

function selects(selector: unknown, candidate: HostDevice): boolean {
  return matchingSelectorIndex(candidate, selectors(selector)) !== null;
}

t.test('vendor, device, driver, pciAddress, linkType, acpiIndex and pKey selectors are exact-match set filters', async (t) => {
  const vf = device({ acpiIndex: '3', pKeys: ['0x8001'] });
  const cases: Array<[string, unknown, unknown]> = [
    ['vendors', ['8086', '15b3'], ['808']],
    ['devices', ['154c'], ['154']],
    ['drivers', ['iavf', 'vfio-pci'], ['iav']],
    ['pciAddresses', ['0000:3b:02.0'], ['0000:3b:02.1']],
    ['linkTypes', ['ether'], ['eth']],
    ['acpiIndexes', ['3'], ['30']],
    ['pKeys', ['0x8001'], ['0x8002']],
  ];
  for (const [key, matching, notMatching] of cases) {
    t.equal(selects({ [key]: matching }, vf), true, `${key} ${JSON.stringify(matching)} selects`);
    t.equal(selects({ [key]: notMatching }, vf), false, `${key} ${JSON.stringify(notMatching)} does not select`);
  }
  t.equal(selects({ drivers: ['iavf'] }, device({ driver: null })), false, 'an unbound device matches no driver');
  t.equal(selects({ acpiIndexes: ['3'] }, device({ acpiIndex: null })), false, 'no acpi_index matches nothing');
});

t.test('the auxTypes selector is an exact-match filter on aux devices', async (t) => {
  const { config } = parseDevicePluginConfig(JSON.stringify({ resourceList: [{ resourceName: 'sf', deviceType: 'auxNetDevice', selectors: { auxTypes: ['sf'] } }] }), 't.json', { defaultPrefix: 'intel.com' });
  const auxSelectors = config.resourceList[0]?.selectors ?? [];
  t.equal(matchingSelectorIndex(device({ auxType: 'sf' }), auxSelectors), 0);
  t.equal(matchingSelectorIndex(device({ auxType: 'eth' }), auxSelectors), null);
});

t.test('pfNames ["ens0","ens2f0#1","ens2f1#0,3-5,7"] selects all of ens0, VF 1 of ens2f0, VFs 0,3,4,5,7 of ens2f1', async (t) => {
  const selector = { pfNames: ['ens0', 'ens2f0#1', 'ens2f1#0,3-5,7'] };
  t.equal(selects(selector, device({ pfNetdev: 'ens0', vfIndex: -1, pfAddress: null })), true, 'ens0 itself (funcID -1)');
  for (const index of [0, 1, 5]) t.equal(selects(selector, device({ pfNetdev: 'ens0', vfIndex: index })), true, `ens0 VF ${index}`);
  t.equal(selects(selector, device({ pfNetdev: 'ens2f0', vfIndex: 1 })), true, 'ens2f0 VF 1');
  for (const index of [0, 2]) t.equal(selects(selector, device({ pfNetdev: 'ens2f0', vfIndex: index })), false, `ens2f0 VF ${index}`);
  t.equal(selects(selector, device({ pfNetdev: 'ens2f0', vfIndex: -1, pfAddress: null })), false, 'ens2f0 itself is not a VF in the range');
  for (const index of [0, 3, 4, 5, 7]) t.equal(selects(selector, device({ pfNetdev: 'ens2f1', vfIndex: index })), true, `ens2f1 VF ${index}`);
  for (const index of [1, 2, 6, 8]) t.equal(selects(selector, device({ pfNetdev: 'ens2f1', vfIndex: index })), false, `ens2f1 VF ${index}`);
  t.equal(selects(selector, device({ pfNetdev: 'eth0', vfIndex: -1, pfAddress: null })), false, 'PF eth0');
  t.equal(selects(selector, device({ pfNetdev: null })), false, 'a device with no PF name is dropped');
  t.equal(selects(selector, device({ pfNetdev: 'ENS0', vfIndex: 3 })), true, 'the PF name matches case-insensitively');
  t.equal(selects({ pfNames: ['ens1'] }, device({ pfNetdev: 'ens1f0' })), false, 'a bare name does not select a longer name');
  t.equal(selects({ pfNames: ['ens1f[01]#2'] }, device({ pfNetdev: 'ens1f1', vfIndex: 2 })), true, 'a regular expression names several PFs');
});

t.test('rootDevices ["0000:86:00.0","0000:86:00.1#1","0000:86:00.2#0-2,5,7"] behaves the same, keyed by PF address', async (t) => {
  const selector = { rootDevices: ['0000:86:00.0', '0000:86:00.1#1', '0000:86:00.2#0-2,5,7'] };
  t.equal(selects(selector, device({ pciAddress: '0000:86:00.0', pfAddress: null, vfIndex: -1 })), true, 'PF 86:00.0 itself');
  t.equal(selects(selector, device({ pfAddress: '0000:86:00.0', vfIndex: 9 })), true, 'any VF of 86:00.0');
  t.equal(selects(selector, device({ pfAddress: '0000:86:00.1', vfIndex: 1 })), true, 'VF 1 of 86:00.1');
  t.equal(selects(selector, device({ pfAddress: '0000:86:00.1', vfIndex: 0 })), false, 'VF 0 of 86:00.1');
  for (const index of [0, 1, 2, 5, 7]) t.equal(selects(selector, device({ pfAddress: '0000:86:00.2', vfIndex: index })), true, `86:00.2 VF ${index}`);
  for (const index of [3, 4, 6]) t.equal(selects(selector, device({ pfAddress: '0000:86:00.2', vfIndex: index })), false, `86:00.2 VF ${index}`);
  t.equal(selects(selector, device({ pciAddress: '0000:03:00.0', pfAddress: null, vfIndex: -1 })), false, 'another PF');
});

t.test('the ddpProfiles selector matches the device DDP profile string', async (t) => {
  t.equal(selects({ ddpProfiles: ['GTPv1-C/U IPv4/IPv6 payload'] }, device({ ddpProfile: 'GTPv1-C/U IPv4/IPv6 payload' })), true);
  t.equal(selects({ ddpProfiles: ['PPPoE'] }, device({ ddpProfile: 'GTPv1-C/U IPv4/IPv6 payload' })), false);
  t.equal(selects({ ddpProfiles: ['PPPoE'] }, device({ ddpProfile: null })), false, 'no known profile matches nothing');
});

t.test('isRdma keeps only RDMA-capable devices; vdpaType only devices with that vDPA type', async (t) => {
  t.equal(selects({ isRdma: true }, device({ rdmaDevices: ['mlx5_2'] })), true);
  t.equal(selects({ isRdma: true }, device({ rdmaDevices: [] })), false);
  t.equal(selects({ isRdma: false }, device({ rdmaDevices: [] })), true, 'isRdma false is no filter');
  t.equal(selects({ vdpaType: 'vhost' }, device({ vdpaType: 'vhost' })), true);
  t.equal(selects({ vdpaType: 'vhost' }, device({ vdpaType: 'virtio' })), false);
  t.equal(selects({ needVhostNet: true }, device({})), true, 'needVhostNet is a capability flag, not a filter');
});

t.test('selectors apply in the documented order and report the first one that rejects', async (t) => {
  const [selector] = selectors({ vendors: ['8086'], drivers: ['vfio-pci'], pfNames: ['ens9'], isRdma: true });
  t.equal(firstRejectingSelector(device({}), selector as SelectorConfig), 'drivers');
  t.equal(firstRejectingSelector(device({ driver: 'vfio-pci' }), selector as SelectorConfig), 'pfNames');
  t.equal(firstRejectingSelector(device({ driver: 'vfio-pci', pfNetdev: 'ens9' }), selector as SelectorConfig), 'isRdma');
  t.equal(firstRejectingSelector(device({ driver: 'vfio-pci', pfNetdev: 'ens9', rdmaDevices: ['mlx5_0'] }), selector as SelectorConfig), null);
});

t.test('within one pool the selector objects are tried in list order', async (t) => {
  const list = selectors([{ drivers: ['vfio-pci'] }, { vendors: ['8086'] }, {}]);
  t.equal(matchingSelectorIndex(device({ driver: 'vfio-pci' }), list), 0);
  t.equal(matchingSelectorIndex(device({}), list), 1);
  t.equal(matchingSelectorIndex(device({ vendorId: '15b3' }), list), 2);
});

t.test('on a fake sysfs: pfNames ranges pick exactly those VFs of real PF/VF links', async (t) => {
  const functions: FakePciFunction[] = [
    { address: '0000:3b:00.0', vendor: '8086', device: '1572', driver: 'i40e', netdevs: ['ens0'], sriov: { totalVfs: 64, numVfs: 0 } },
    { address: '0000:3b:00.1', vendor: '8086', device: '1572', driver: 'i40e', netdevs: ['ens2f1'], sriov: { totalVfs: 64, numVfs: 8 } },
    { address: '0000:3b:00.2', vendor: '8086', device: '1572', driver: 'i40e', netdevs: ['eth0'] },
  ];
  // VF addresses deliberately out of index order, so the index must come from the virtfnN links.
  const order = [5, 2, 7, 0, 6, 1, 4, 3];
  order.forEach((vfIndex, slot) => functions.push({
    address: `0000:3b:0a.${slot}`, vendor: '8086', device: '154c', driver: 'iavf', netdevs: [`ens2f1v${vfIndex}`], vfOf: { pf: '0000:3b:00.1', vfIndex },
  }));
  const host = buildFakeHost({ pci: functions });
  t.teardown(host.cleanup);
  const { config } = parseDevicePluginConfig(JSON.stringify({ resourceList: [{ resourceName: 'r', selectors: { pfNames: ['ens0', 'ens2f0#1', 'ens2f1#0,3-5,7'] } }] }), 't.json', { defaultPrefix: 'intel.com' });
  const snapshot = await discover({ sysfsRoot: host.sysfsRoot, procRoot: host.procRoot, devRoot: host.devRoot, config, pciIdsPath: null });
  const pool = snapshot.pools[0]?.devices ?? [];
  const selectedIndexes = snapshot.devices.filter((d) => pool.includes(d.pciAddress) && d.vfIndex >= 0).map((d) => d.vfIndex).sort();
  t.same(selectedIndexes, [0, 3, 4, 5, 7]);
  t.ok(pool.includes('0000:3b:00.0'), 'PF ens0 (no VFs enabled) itself');
  t.notOk(pool.includes('0000:3b:00.2'), 'PF eth0 is not selected');
  t.equal(snapshot.devices.find((d) => d.pciAddress === '0000:3b:00.1')?.excludedBecause, 'PF with VFs enabled');
});
