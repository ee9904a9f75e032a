// Hand-made discovery snapshots for device-plugin server tests: devices and pools without a sysfs scan.
import type { DiscoveredDevice, DiscoverySnapshot, Pool, PoolSelectorFlags } from '../../deviceplugin/model.js';

export function fakeDevice(pciAddress: string, fields: Partial<DiscoveredDevice> = {}): DiscoveredDevice {
  return {
    pciAddress,
    vendorId: '8086',
    deviceId: '1889',
    vendorName: null,
    deviceName: null,
    classCode: '020000',
    driver: 'iavf',
    numaNode: 0,
    iommuGroup: null,
    noIommu: false,
    sriovTotalVfs: null,
    sriovNumVfs: null,
    pfAddress: null,
    vfIndex: -1,
    netdevs: [],
    pfNetdev: null,
    linkType: 'ether',
    linkUp: null,
    rdmaDevices: [],
    uioDevice: null,
    acpiIndex: null,
    pKeys: [],
    ddpProfile: null,
    vdpaType: null,
    auxType: null,
    pool: null,
    selectorIndex: null,
    excludedBecause: null,
    ...fields,
  } as DiscoveredDevice;
}

/** `count` VFs of PF `pf` (netdev `pfNetdev`) on `bus`, numbered from device 02. */
export function fakeVfs(pf: string, pfNetdev: string, bus: string, count: number, fields: Partial<DiscoveredDevice> = {}): DiscoveredDevice[] {
  return Array.from({ length: count }, (_, index) =>
    fakeDevice(`0000:${bus}:${(2 + Math.floor(index / 8)).toString(16).padStart(2, '0')}.${index % 8}`, {
      pfAddress: pf,
      pfNetdev,
      vfIndex: index,
      netdevs: [`${pfNetdev}v${index}`],
      ...fields,
    }));
}

export interface PoolSpec {
  name: string;
  prefix?: string;
  devices: DiscoveredDevice[];
  excludeTopology?: boolean;
  selectors?: Partial<PoolSelectorFlags>[];
  additionalInfo?: Record<string, Record<string, string>>;
  allocationPolicy?: 'pack' | 'spread';
}

/** A snapshot whose pools hold exactly the given devices (each device's pool/selector fields are set). */
export function fakeSnapshot(pools: PoolSpec[], extra: { vhostNetAvailable?: boolean; devices?: DiscoveredDevice[] } = {}): DiscoverySnapshot {
  const devices: DiscoveredDevice[] = [...(extra.devices ?? [])];
  const built: Pool[] = pools.map((spec) => {
    const prefix = spec.prefix ?? 'intel.com';
    const resourceName = `${prefix}/${spec.name}`;
    for (const device of spec.devices) devices.push({ ...device, pool: resourceName, selectorIndex: device.selectorIndex ?? 0 });
    return {
      resourceName,
      resourcePrefix: prefix,
      name: spec.name,
      deviceType: 'netDevice',
      excludeTopology: spec.excludeTopology ?? false,
      selectors: (spec.selectors ?? [{}]).map((s) => ({ isRdma: false, needVhostNet: false, vdpaType: null, ...s })),
      additionalInfo: spec.additionalInfo ?? {},
      devices: spec.devices.map((d) => d.pciAddress).sort(),
      ...(spec.allocationPolicy ? { allocationPolicy: spec.allocationPolicy } : {}),
    };
  });
  devices.sort((a, b) => (a.pciAddress < b.pciAddress ? -1 : 1));
  return { devices, pools: built, vhostNetAvailable: extra.vhostNetAvailable ?? false } as DiscoverySnapshot;
}
