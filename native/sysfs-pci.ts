// Reads PCI functions and auxiliary devices from a sysfs tree. Every function takes the sysfs
// root, so a fake tree in a temp dir can stand in for /sys. Nothing here throws on an odd
// device: what cannot be read is null, and what looks wrong is listed in `problems`.
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { listDir, parseInteger, readDirSnapshots, readInteger, readLink, readLinkBase, readSmallText, type DirSnapshot } from './sysfs-read.js';

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

// Read in every netdev directory; phys_port_name only when a function has several netdevs.
const netdevFiles = ['type', 'operstate'] as const;

/**
 * Netdev records, sorted by name, from the netdev names under `netDir` and the `netdevFiles` text
 * of each (texts[i * 2] is names[i]'s type, texts[i * 2 + 1] its operstate).
 */
function netdevRecords(netDir: string, names: string[], texts: Array<string | null>): RawNetdev[] {
  const readPortName = names.length > 1;
  const records = names.map((name, index) => ({
    name,
    arpType: parseInteger(texts[index * netdevFiles.length] ?? null),
    operstate: texts[index * netdevFiles.length + 1] ?? null,
    physPortName: readPortName ? readSmallText(`${netDir}/${name}/phys_port_name`) : null,
  }));
  return records.length > 1 ? records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) : records;
}

function readNetdevs(netDir: string, names: string[]): RawNetdev[] {
  return netdevRecords(netDir, names, names.flatMap((name) => netdevFiles.map((file) => readSmallText(`${netDir}/${name}/${file}`))));
}

function readIommuGroup(sysfsRoot: string, entries: Set<string>, target: string | null, driver: string | null, problems: string[]): { group: string | null; noIommu: boolean } {
  if (!entries.has('iommu_group')) return { group: null, noIommu: false };
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

// What one directory read brings back for every PCI function (each only when it is an entry, so
// absent files cost no failing syscall); the order is the order of the snapshot's texts/links.
const functionFiles = ['uevent', 'numa_node', 'sriov_totalvfs', 'sriov_numvfs', 'acpi_index'] as const;
const functionLinks = ['iommu_group'] as const;
// The entries pciFunctionFrom looks at; the ~25 others of a function's directory are only counted.
const functionEntries = { names: ['driver', 'infiniband', 'iommu_group', 'net', 'physfn', 'sriov_numvfs', 'sriov_totalvfs', 'uio'], prefixes: ['virtio', 'vdpa'] };
const functionRequest = { files: functionFiles, links: functionLinks, linkPrefix: 'virtfn', subdir: { name: 'net', files: netdevFiles }, keepEntries: functionEntries };

/**
 * Everything discovery needs about each of these PCI functions, read with as few syscalls as
 * possible: their directories in one native call, then the rare extras (files missing from uevent,
 * virtio netdevs, InfiniBand, uio, vDPA) one by one.
 */
export function readPciFunctions(sysfsRoot: string, addresses: readonly string[]): RawPciFunction[] {
  const devicesDir = pciDevicesDir(sysfsRoot);
  const snapshots = readDirSnapshots(addresses.map((address) => `${devicesDir}/${address}`), functionRequest);
  return addresses.map((address, index) => pciFunctionFrom(sysfsRoot, `${devicesDir}/${address}`, address, snapshots[index] ?? null));
}

function pciFunctionFrom(sysfsRoot: string, deviceDir: string, address: string, snapshot: DirSnapshot | null): RawPciFunction {
  const problems: string[] = [];
  const entryList = snapshot?.entries ?? [];
  if ((snapshot?.entryCount ?? 0) === 0) problems.push('device directory is empty or unreadable');
  const entries = new Set(entryList);
  const [ueventText = null, numaText = null, totalVfsText = null, numVfsText = null, acpiIndex = null] = snapshot?.texts ?? [];

  // `uevent` carries IDs, class and driver in one read; the single files are the fallback.
  const uevent = parseUevent(ueventText);
  const fromUevent = uevent === null ? null : idsFromUevent(uevent);
  const vendorId = fromUevent?.vendorId ?? readHexId(`${deviceDir}/vendor`, 4);
  if (vendorId === null) problems.push('vendor is missing or not a hex ID');
  const deviceId = fromUevent?.deviceId ?? readHexId(`${deviceDir}/device`, 4);
  if (deviceId === null) problems.push('device is missing or not a hex ID');
  const classCode = fromUevent?.classCode ?? readHexId(`${deviceDir}/class`, 6);
  if (classCode === null) problems.push('class is missing or not a hex class code');

  const driver = fromUevent !== null ? uevent?.get('DRIVER') ?? null : entries.has('driver') ? readLinkBase(`${deviceDir}/driver`) : null;
  const numaNode = parseInteger(numaText);
  const { group: iommuGroup, noIommu } = readIommuGroup(sysfsRoot, entries, snapshot?.links[0] ?? null, driver, problems);

  const sriovTotalVfs = entries.has('sriov_totalvfs') ? parseInteger(totalVfsText) ?? 0 : null;
  const sriovNumVfs = entries.has('sriov_numvfs') ? parseInteger(numVfsText) ?? 0 : null;

  const virtfns: Array<[number, string]> = [];
  const prefixed = snapshot?.prefixed ?? [];
  for (let index = 0; index + 1 < prefixed.length; index += 2) {
    const vf = virtfnEntry.exec(prefixed[index] as string);
    if (vf?.[1] !== undefined) virtfns.push([Number(vf[1]), basename(prefixed[index + 1] as string)]);
  }
  virtfns.sort((a, b) => a[0] - b[0]);
  const netdevs: RawNetdev[] = [];
  let rdmaDevices: string[] = [];
  let uioDevice: string | null = null;
  for (const entry of entryList) {
    if (entry === 'net') {
      const net = snapshot?.subdir;
      if (net) netdevs.push(...netdevRecords(`${deviceDir}/net`, net.entries, net.texts));
    } else if (virtioEntry.test(entry)) {
      const netDir = `${deviceDir}/${entry}/net`;
      netdevs.push(...readNetdevs(netDir, listDir(netDir) ?? []));
    } else if (entry === 'infiniband') {
      rdmaDevices = (listDir(join(deviceDir, 'infiniband')) ?? []).sort();
    } else if (entry === 'uio') {
      uioDevice = (listDir(join(deviceDir, 'uio')) ?? []).filter((name) => uioEntry.test(name)).sort()[0] ?? null;
    }
  }

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
    acpiIndex,
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
