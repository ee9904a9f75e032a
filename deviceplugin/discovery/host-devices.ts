// Turns raw sysfs reads into device records: PF/VF relations, VF index, PF netdev, link type,
// link state. The VF index comes from one pass over every PF's `virtfnN` links (a map built
// once), not from re-reading all of a PF's links for each VF as the reference plugin does.
import type { PciNameLookup } from '../../native/index.js';
import { listAuxDevices, listPciAddresses, readIbPkeys, readPciFunctions, readPhysfn, type RawAuxDevice, type RawNetdev, type RawPciFunction } from '../../native/index.js';
import type { DiscoveredDevice } from '../model.js';

/**
 * A device as scanned, already shaped as the snapshot record: the pool fields start empty and
 * are filled in place by pool assignment (copying ~30-field records per device cost more than
 * reading sysfs did). pciAddress is the first key, as `discover --output json` shows it, so the
 * JSON needs no copy either.
 */
export interface ScannedDevice extends DiscoveredDevice {
  kind: 'pci' | 'aux';
  isSriovPf: boolean;
  problems: string[];
  alsoMatchedBy: string[];
}

// ARPHRD_* numbers from `/sys/class/net/<if>/type`, named as netlink's EncapType names them
// (which is what the reference plugin's `linkTypes` selector compares against).
const linkTypeNames = new Map<number, string>([
  [1, 'ether'], [24, 'ieee1394'], [32, 'infiniband'], [512, 'ppp'], [768, 'ipip'], [769, 'tunnel6'],
  [772, 'loopback'], [776, 'sit'], [778, 'gre'], [823, 'ip6gre'], [65534, 'none'],
]);

export function linkTypeName(arpType: number | null): string | null {
  if (arpType === null) return null;
  return linkTypeNames.get(arpType) ?? `arphrd-${arpType}`;
}

const uplinkPortName = /^p\d+$/;

/**
 * The netdev that names a PF. In switchdev mode the PF's `net/` also lists VF representors;
 * the uplink representor (phys_port_name `pN`) is the PF's name then.
 */
export function choosePfNetdev(netdevs: RawNetdev[]): RawNetdev | null {
  if (netdevs.length <= 1) return netdevs[0] ?? null;
  return netdevs.find((netdev) => netdev.physPortName !== null && uplinkPortName.test(netdev.physPortName)) ?? netdevs[0] ?? null;
}

function linkState(netdevs: RawNetdev[]): boolean | null {
  const states = netdevs.map((netdev) => netdev.operstate).filter((state): state is string => state !== null);
  return states.length === 0 ? null : states.every((state) => state === 'up');
}

function vdpaTypeOf(raw: RawPciFunction): string | null {
  if (raw.vdpa === null) return null;
  if (raw.vdpa.driver === 'vhost_vdpa') return 'vhost';
  if (raw.vdpa.driver === 'virtio_vdpa') return 'virtio';
  return null;
}

/** `mlx5_core.sf.2` → `sf`: the aux name is `<driver>.<type>.<N>` with N a non-negative integer. */
export function parseAuxType(name: string): string | null {
  const parts = name.split('.');
  if (parts.length < 3) return null;
  const last = parts[parts.length - 1] ?? '';
  const type = parts[parts.length - 2] ?? '';
  return /^\d+$/.test(last) && type !== '' ? type : null;
}

interface VfSlot {
  pfAddress: string;
  index: number;
}

function buildVfIndex(raws: RawPciFunction[]): Map<string, VfSlot> {
  const slots = new Map<string, VfSlot>();
  for (const raw of raws) {
    for (const [index, vfAddress] of raw.virtfns) slots.set(vfAddress, { pfAddress: raw.address, index });
  }
  return slots;
}

function pciDevice(sysfsRoot: string, raw: RawPciFunction, byAddress: Map<string, RawPciFunction>, vfSlots: Map<string, VfSlot>, names: PciNameLookup, options: ScanOptions): ScannedDevice {
  const problems = [...raw.problems];
  const slot = vfSlots.get(raw.address);
  const physfnAddress = slot === undefined && raw.hasPhysfn ? readPhysfn(sysfsRoot, raw.address) : null;
  const pfAddress = slot?.pfAddress ?? physfnAddress;
  const vfIndex = slot?.index ?? -1;
  if (physfnAddress !== null) {
    const why = byAddress.has(physfnAddress) ? 'but no virtfn link of that PF points back' : 'which is not on the PCI bus';
    problems.push(`physfn points to ${physfnAddress}, ${why}; VF index unknown`);
  }
  const pfRaw = pfAddress === null ? undefined : byAddress.get(pfAddress);
  // A function that is not a VF names itself (so `pfNames: ["ens0"]` also selects PF ens0).
  const pfNetdevRecord = pfAddress === null ? choosePfNetdev(raw.netdevs) : pfRaw ? choosePfNetdev(pfRaw.netdevs) : null;
  const ownNetdev = raw.netdevs[0] ?? null;
  // A VF on vfio-pci has no netdev; its link type is the PF's, as in the reference plugin.
  const linkType = linkTypeName(ownNetdev?.arpType ?? pfNetdevRecord?.arpType ?? null);
  const rdmaDevices = raw.rdmaDevices;
  const firstRdma = rdmaDevices[0];
  const pKeys = options.readPkeys && linkType === 'infiniband' && firstRdma !== undefined ? readIbPkeys(sysfsRoot, raw.address, firstRdma) : [];
  const vendorId = raw.vendorId ?? '';
  const deviceId = raw.deviceId ?? '';
  return {
    pciAddress: raw.address,
    kind: 'pci',
    vendorId,
    deviceId,
    vendorName: raw.vendorId === null ? null : names.vendorName(vendorId),
    deviceName: raw.vendorId === null || raw.deviceId === null ? null : names.deviceName(vendorId, deviceId),
    classCode: raw.classCode ?? '',
    driver: raw.driver,
    numaNode: raw.numaNode === null || raw.numaNode < 0 ? null : raw.numaNode,
    iommuGroup: raw.iommuGroup,
    noIommu: raw.noIommu,
    sriovTotalVfs: raw.sriovTotalVfs,
    sriovNumVfs: raw.sriovNumVfs,
    isSriovPf: raw.sriovTotalVfs !== null,
    pfAddress,
    vfIndex,
    netdevs: raw.netdevs.map((netdev) => netdev.name),
    pfNetdev: pfNetdevRecord?.name ?? null,
    linkType,
    linkUp: linkState(raw.netdevs),
    rdmaDevices,
    uioDevice: raw.uioDevice,
    acpiIndex: raw.acpiIndex,
    pKeys,
    ddpProfile: null,
    vdpaType: vdpaTypeOf(raw),
    auxType: null,
    problems,
    pool: null,
    selectorIndex: null,
    excludedBecause: null,
    alsoMatchedBy: [],
  };
}

function auxDevice(raw: RawAuxDevice, byAddress: Map<string, RawPciFunction>, names: PciNameLookup): ScannedDevice {
  const problems = [...raw.problems];
  const parent = raw.parentAddress === null ? undefined : byAddress.get(raw.parentAddress);
  if (raw.parentAddress !== null && parent === undefined) problems.push(`parent PCI device ${raw.parentAddress} is not on the PCI bus`);
  const auxType = parseAuxType(raw.name);
  if (auxType === null) problems.push(`name "${raw.name}" is not <driver>.<type>.<N> with a non-negative integer N`);
  const pfNetdev = parent ? choosePfNetdev(parent.netdevs) : null;
  const vendorId = parent?.vendorId ?? '';
  const deviceId = parent?.deviceId ?? '';
  return {
    pciAddress: raw.name,
    kind: 'aux',
    vendorId,
    deviceId,
    vendorName: vendorId === '' ? null : names.vendorName(vendorId),
    deviceName: vendorId === '' || deviceId === '' ? null : names.deviceName(vendorId, deviceId),
    classCode: parent?.classCode ?? '',
    driver: raw.driver,
    numaNode: parent?.numaNode === null || parent?.numaNode === undefined || parent.numaNode < 0 ? null : parent.numaNode,
    iommuGroup: null,
    noIommu: false,
    sriovTotalVfs: null,
    sriovNumVfs: null,
    isSriovPf: false,
    pfAddress: raw.parentAddress,
    vfIndex: raw.sfNumber ?? -1,
    netdevs: raw.netdevs.map((netdev) => netdev.name),
    pfNetdev: pfNetdev?.name ?? null,
    linkType: linkTypeName(raw.netdevs[0]?.arpType ?? pfNetdev?.arpType ?? null),
    linkUp: linkState(raw.netdevs),
    rdmaDevices: raw.rdmaDevices,
    uioDevice: null,
    acpiIndex: null,
    pKeys: [],
    ddpProfile: null,
    vdpaType: null,
    auxType,
    problems,
    pool: null,
    selectorIndex: null,
    excludedBecause: null,
    alsoMatchedBy: [],
  };
}

export interface ScanOptions {
  /**
   * Read InfiniBand partition keys. A pkey table has up to 128 entries per port, one file each,
   * so they are read only when some selector asks for pKeys.
   */
  readPkeys: boolean;
}

/** Every PCI function and auxiliary device under `sysfsRoot`, sorted by address/name. */
export function scanHostDevices(sysfsRoot: string, names: PciNameLookup, options: ScanOptions = { readPkeys: true }): ScannedDevice[] {
  const raws = readPciFunctions(sysfsRoot, listPciAddresses(sysfsRoot));
  const byAddress = new Map(raws.map((raw) => [raw.address, raw]));
  const vfSlots = buildVfIndex(raws);
  const devices = raws.map((raw) => pciDevice(sysfsRoot, raw, byAddress, vfSlots, names, options));
  for (const raw of listAuxDevices(sysfsRoot)) devices.push(auxDevice(raw, byAddress, names));
  return devices.sort((a, b) => (a.pciAddress < b.pciAddress ? -1 : a.pciAddress > b.pciAddress ? 1 : 0));
}
