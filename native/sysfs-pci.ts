// Reads PCI functions and auxiliary devices from a sysfs tree. Every function takes the sysfs
// root, so a fake tree in a temp dir can stand in for /sys. Nothing here throws on an odd
// device: what cannot be read is null, and what looks wrong is listed in `problems`.
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { listDir, readInteger, readLink, readLinkBase, readSmallText } from './sysfs-read.js';

export interface RawNetdev {
  name: string;
  /** ARPHRD number from `type`, null when unreadable. */
  arpType: number | null;
  operstate: string | null;
  /** Only read when a function has several netdevs (switchdev representors), else null. */
  physPortName: string | null;
}

export interface RawVdpa {
  name: string;
  driver: string | null;
}

export interface RawPciFunction {
  address: string;
  /** 4 lower-case hex digits, or null when missing or malformed. */
  vendorId: string | null;
  deviceId: string | null;
  /** 6 lower-case hex digits, or null when missing or malformed. */
  classCode: string | null;
  driver: string | null;
  /** As sysfs says it (may be -1); null when missing or not a number. */
  numaNode: number | null;
  iommuGroup: string | null;
  noIommu: boolean;
  /** Present only on SR-IOV capable functions (PFs). */
  sriovTotalVfs: number | null;
  /** Null when the file is absent; an unparsable value counts as 0, as the reference plugin does. */
  sriovNumVfs: number | null;
  /** Whether the function has a `physfn` link (it is a VF). Read the target with readPhysfn(). */
  hasPhysfn: boolean;
  /** `virtfnN` links of a PF: VF index → VF address. */
  virtfns: Array<[number, string]>;
  netdevs: RawNetdev[];
  rdmaDevices: string[];
  uioDevice: string | null;
  acpiIndex: string | null;
  vdpa: RawVdpa | null;
  problems: string[];
}

export interface RawAuxDevice {
  name: string;
  parentAddress: string | null;
  driver: string | null;
  /** `sfnum` for subfunctions, else null. */
  sfNumber: number | null;
  netdevs: RawNetdev[];
  rdmaDevices: string[];
  problems: string[];
}

const virtfnEntry = /^virtfn(\d+)$/;
const virtioEntry = /^virtio\d+$/;
const uioEntry = /^uio\d+$/;

export function pciDevicesDir(sysfsRoot: string): string {
  return join(sysfsRoot, 'bus', 'pci', 'devices');
}

/** PCI function directory names under `bus/pci/devices`, sorted; [] when the bus is absent. */
export function listPciAddresses(sysfsRoot: string): string[] {
  return (listDir(pciDevicesDir(sysfsRoot)) ?? []).sort();
}

function readHexId(path: string, digits: number): string | null {
  const text = readSmallText(path);
  if (text === null) return null;
  const match = /^(?:0x)?([0-9a-fA-F]+)$/.exec(text);
  if (!match || match[1] === undefined || match[1].length > digits) return null;
  return match[1].toLowerCase().padStart(digits, '0');
}

function parseUevent(text: string | null): Map<string, string> | null {
  if (text === null) return null;
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const equals = line.indexOf('=');
    if (equals > 0) fields.set(line.slice(0, equals), line.slice(equals + 1));
  }
  return fields;
}

const ueventPciId = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/;
const ueventClass = /^[0-9a-fA-F]{1,6}$/;

/** IDs and class from a PCI `uevent`, or null when it lacks them (then the single files are read). */
function idsFromUevent(uevent: Map<string, string>): { vendorId: string; deviceId: string; classCode: string } | null {
  const id = ueventPciId.exec(uevent.get('PCI_ID') ?? '');
  const pciClass = uevent.get('PCI_CLASS') ?? '';
  if (!id?.[1] || !id[2] || !ueventClass.test(pciClass)) return null;
  return { vendorId: id[1].toLowerCase(), deviceId: id[2].toLowerCase(), classCode: pciClass.toLowerCase().padStart(6, '0') };
}

function readNetdevs(netDir: string, names: string[]): RawNetdev[] {
  const readPortName = names.length > 1;
  return names.sort().map((name) => {
    const dir = `${netDir}/${name}`;
    return {
      name,
      arpType: readInteger(`${dir}/type`),
      operstate: readSmallText(`${dir}/operstate`),
      physPortName: readPortName ? readSmallText(`${dir}/phys_port_name`) : null,
    };
  });
}

function readIommuGroup(deviceDir: string, sysfsRoot: string, entries: Set<string>, driver: string | null, problems: string[]): { group: string | null; noIommu: boolean } {
  if (!entries.has('iommu_group')) return { group: null, noIommu: false };
  const target = readLink(`${deviceDir}/iommu_group`);
  if (target === null) {
    problems.push('iommu_group is not a symlink');
    return { group: null, noIommu: false };
  }
  const group = basename(target);
  // Only vfio binds a device into a no-IOMMU group, and the `name` file is absent on ordinary
  // groups (a failed open per device is the costliest thing discovery would do), so ask only then.
  const noIommu = driver === 'vfio-pci' && readSmallText(`${sysfsRoot}/kernel/iommu_groups/${group}/name`) === 'vfio-noiommu';
  return { group, noIommu };
}

function readVdpa(deviceDir: string, entries: string[]): RawVdpa | null {
  const name = entries.find((entry) => entry.startsWith('vdpa'));
  if (name === undefined) return null;
  return { name, driver: readLinkBase(join(deviceDir, name, 'driver')) };
}

/** Everything discovery needs about one PCI function, read with as few syscalls as possible. */
export function readPciFunction(sysfsRoot: string, address: string): RawPciFunction {
  const deviceDir = `${pciDevicesDir(sysfsRoot)}/${address}`;
  const problems: string[] = [];
  const entryList = listDir(deviceDir) ?? [];
  if (entryList.length === 0) problems.push('device directory is empty or unreadable');
  // One readdir tells which optional files exist, so absent ones cost no failing syscall.
  const entries = new Set(entryList);

  // `uevent` carries IDs, class and driver in one read; the single files are the fallback.
  const uevent = entries.has('uevent') ? parseUevent(readSmallText(`${deviceDir}/uevent`)) : null;
  const fromUevent = uevent === null ? null : idsFromUevent(uevent);
  const vendorId = fromUevent?.vendorId ?? readHexId(`${deviceDir}/vendor`, 4);
  if (vendorId === null) problems.push('vendor is missing or not a hex ID');
  const deviceId = fromUevent?.deviceId ?? readHexId(`${deviceDir}/device`, 4);
  if (deviceId === null) problems.push('device is missing or not a hex ID');
  const classCode = fromUevent?.classCode ?? readHexId(`${deviceDir}/class`, 6);
  if (classCode === null) problems.push('class is missing or not a hex class code');

  const driver = fromUevent !== null ? uevent?.get('DRIVER') ?? null : entries.has('driver') ? readLinkBase(`${deviceDir}/driver`) : null;
  const numaNode = entries.has('numa_node') ? readInteger(`${deviceDir}/numa_node`) : null;
  const { group: iommuGroup, noIommu } = readIommuGroup(deviceDir, sysfsRoot, entries, driver, problems);

  const sriovTotalVfs = entries.has('sriov_totalvfs') ? readInteger(`${deviceDir}/sriov_totalvfs`) ?? 0 : null;
  const sriovNumVfs = entries.has('sriov_numvfs') ? readInteger(`${deviceDir}/sriov_numvfs`) ?? 0 : null;

  const virtfns: Array<[number, string]> = [];
  const netdevs: RawNetdev[] = [];
  let rdmaDevices: string[] = [];
  let uioDevice: string | null = null;
  for (const entry of entryList) {
    const vf = virtfnEntry.exec(entry);
    if (vf?.[1] !== undefined) {
      const vfAddress = readLinkBase(`${deviceDir}/${entry}`);
      if (vfAddress !== null) virtfns.push([Number(vf[1]), vfAddress]);
    } else if (entry === 'net' || virtioEntry.test(entry)) {
      const netDir = entry === 'net' ? `${deviceDir}/net` : `${deviceDir}/${entry}/net`;
      netdevs.push(...readNetdevs(netDir, listDir(netDir) ?? []));
    } else if (entry === 'infiniband') {
      rdmaDevices = (listDir(join(deviceDir, 'infiniband')) ?? []).sort();
    } else if (entry === 'uio') {
      uioDevice = (listDir(join(deviceDir, 'uio')) ?? []).filter((name) => uioEntry.test(name)).sort()[0] ?? null;
    }
  }
  virtfns.sort((a, b) => a[0] - b[0]);

  return {
    address,
    vendorId,
    deviceId,
    classCode,
    driver,
    numaNode,
    iommuGroup,
    noIommu,
    sriovTotalVfs,
    sriovNumVfs,
    hasPhysfn: entries.has('physfn'),
    virtfns,
    netdevs,
    rdmaDevices,
    uioDevice,
    acpiIndex: entries.has('acpi_index') ? readSmallText(`${deviceDir}/acpi_index`) : null,
    vdpa: readVdpa(deviceDir, entryList),
    problems,
  };
}

/**
 * PF address from a VF's `physfn` link. Discovery learns most VFs' PFs from the PFs' virtfnN
 * links already, so this is read only for the rest (saves one readlink per VF).
 */
export function readPhysfn(sysfsRoot: string, address: string): string | null {
  return readLinkBase(`${pciDevicesDir(sysfsRoot)}/${address}/physfn`);
}

/** Auxiliary devices (e.g. mlx5 subfunctions `mlx5_core.sf.2`) under `bus/auxiliary/devices`. */
export function listAuxDevices(sysfsRoot: string): RawAuxDevice[] {
  const busDir = join(sysfsRoot, 'bus', 'auxiliary', 'devices');
  return (listDir(busDir) ?? []).sort().map((name) => {
    const deviceDir = join(busDir, name);
    const problems: string[] = [];
    const target = readLink(deviceDir);
    // The bus entry links to `.../<parent PCI address>/<aux name>`.
    const parentAddress = target === null ? null : basename(dirname(target));
    if (parentAddress === null) problems.push('bus entry is not a symlink to its parent device');
    const entries = new Set(listDir(deviceDir) ?? []);
    const netDir = join(deviceDir, 'net');
    return {
      name,
      parentAddress,
      driver: entries.has('driver') ? readLinkBase(`${deviceDir}/driver`) : null,
      sfNumber: entries.has('sfnum') ? readInteger(join(deviceDir, 'sfnum')) : null,
      netdevs: entries.has('net') ? readNetdevs(netDir, listDir(netDir) ?? []) : [],
      rdmaDevices: entries.has('infiniband') ? (listDir(join(deviceDir, 'infiniband')) ?? []).sort() : [],
      problems,
    };
  });
}

/** InfiniBand partition keys of an RDMA device (non-zero entries of every port's pkey table). */
export function readIbPkeys(sysfsRoot: string, deviceDirName: string, rdmaDevice: string): string[] {
  const portsDir = join(pciDevicesDir(sysfsRoot), deviceDirName, 'infiniband', rdmaDevice, 'ports');
  const keys = new Set<string>();
  for (const port of listDir(portsDir) ?? []) {
    const pkeyDir = join(portsDir, port, 'pkeys');
    for (const index of listDir(pkeyDir) ?? []) {
      const value = readInteger(join(pkeyDir, index));
      if (value !== null && value !== 0) keys.add(`0x${value.toString(16).padStart(4, '0')}`);
    }
  }
  return [...keys].sort();
}

/** Whether a device node exists (e.g. `/dev/vhost-net`); used for `needVhostNet`. */
export function deviceNodeExists(devRoot: string, relativePath: string): boolean {
  return existsSync(join(devRoot, relativePath));
}
