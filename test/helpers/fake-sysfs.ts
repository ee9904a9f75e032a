// Builds a fake sysfs tree (plus a fake /proc and /dev) in a temp dir from a short description,
// laid out like the kernel's: devices under devices/pci0000:00/, bus/pci/devices/<BDF> and
// class/net/<if> as symlinks into it, `driver` → bus/pci/drivers/<name>, `iommu_group` →
// kernel/iommu_groups/<G>, `physfn`/`virtfnN` between PF and VFs, virtio netdevs under
// virtioN/net/, auxiliary devices under the parent with bus/auxiliary/devices links.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

export interface FakeNetdev {
  name: string;
  /** ARPHRD number; default 1 (ether). 32 is InfiniBand. */
  type?: number;
  operstate?: string;
  physPortName?: string;
  /** Put the netdev under `virtio<N>/net/` (virtio-net) instead of `net/`. */
  virtio?: number;
  address?: string;
}

export interface FakePciFunction {
  address: string;
  vendor: string;
  device: string;
  /** 6 hex digits; default 020000 (Ethernet). */
  class?: string;
  /** Bound driver; null or absent = unbound (no `driver` link). */
  driver?: string | null;
  /** Absent = `-1`; null = no numa_node file. */
  numaNode?: number | null;
  /** IOMMU group number; absent = none. `'file'` makes iommu_group a regular file (broken). */
  iommuGroup?: number | 'file';
  noIommu?: boolean;
  netdevs?: Array<string | FakeNetdev>;
  /** Makes this function an SR-IOV PF. numVfs may be a raw string to test bad values. */
  sriov?: { totalVfs: number; numVfs: number | string };
  /** Makes this function a VF of `pf` with VF index `vfIndex` (creates physfn and the PF's virtfnN). */
  vfOf?: { pf: string; vfIndex: number };
  rdma?: string[];
  /** InfiniBand pkeys of the first RDMA device, port 1. */
  pkeys?: string[];
  uio?: string;
  acpiIndex?: string;
  vdpa?: { name: string; driver: string };
  /** Raw attribute files to write or override (e.g. { class: 'garbage', modalias: '???' }). */
  files?: Record<string, string>;
  /** Attribute files to leave out (e.g. ['vendor']). */
  omit?: string[];
  /** false = write no `uevent` (readers must use vendor/device/class/driver instead). */
  uevent?: boolean;
}

export interface FakeAuxDevice {
  name: string;
  parent: string;
  driver?: string;
  sfnum?: number;
  netdevs?: Array<string | FakeNetdev>;
  rdma?: string[];
}

export interface FakeHostDescription {
  pci?: FakePciFunction[];
  aux?: FakeAuxDevice[];
  /** Netdevs with an IPv4 default route in the fake /proc/net/route. */
  ipv4DefaultRoutes?: string[];
  /** Netdevs with an IPv6 default route in the fake /proc/net/ipv6_route. */
  ipv6DefaultRoutes?: string[];
  /** Create /dev/vhost-net and /dev/net/tun in the fake /dev. */
  vhostNet?: boolean;
}

export interface FakeHost {
  root: string;
  sysfsRoot: string;
  procRoot: string;
  devRoot: string;
  cleanup(): void;
}

function write(path: string, content: string): void {
  writeFileSync(path, content.endsWith('\n') ? content : `${content}\n`);
}

function link(target: string, at: string): void {
  symlinkSync(relative(join(at, '..'), target), at);
}

function netdevSpec(netdev: string | FakeNetdev): FakeNetdev {
  return typeof netdev === 'string' ? { name: netdev } : netdev;
}

function makeNetdev(sysfsRoot: string, parentDir: string, spec: FakeNetdev): void {
  const netDir = spec.virtio === undefined ? join(parentDir, 'net') : join(parentDir, `virtio${spec.virtio}`, 'net');
  const dir = join(netDir, spec.name);
  mkdirSync(dir, { recursive: true });
  write(join(dir, 'type'), String(spec.type ?? 1));
  write(join(dir, 'operstate'), spec.operstate ?? 'up');
  write(join(dir, 'address'), spec.address ?? '02:00:00:00:00:01');
  if (spec.physPortName !== undefined) write(join(dir, 'phys_port_name'), spec.physPortName);
  link(dir, join(sysfsRoot, 'class', 'net', spec.name));
}

function pciDir(sysfsRoot: string, address: string): string {
  return join(sysfsRoot, 'devices', 'pci0000:00', address);
}

function makePciFunction(sysfsRoot: string, fn: FakePciFunction): void {
  const dir = pciDir(sysfsRoot, fn.address);
  mkdirSync(dir, { recursive: true });
  link(dir, join(sysfsRoot, 'bus', 'pci', 'devices', fn.address));
  const files: Record<string, string> = {
    vendor: `0x${fn.vendor}`,
    device: `0x${fn.device}`,
    class: `0x${fn.class ?? '020000'}`,
    modalias: `pci:v0000${fn.vendor.toUpperCase()}d0000${fn.device.toUpperCase()}sv00000000sd00000000bc02sc00i00`,
  };
  if (fn.numaNode !== null) files['numa_node'] = String(fn.numaNode ?? -1);
  if (fn.sriov) {
    files['sriov_totalvfs'] = String(fn.sriov.totalVfs);
    files['sriov_numvfs'] = String(fn.sriov.numVfs);
  }
  if (fn.acpiIndex !== undefined) files['acpi_index'] = fn.acpiIndex;
  // The kernel's uevent repeats IDs, class and driver. A description that overrides or leaves
  // out one of those files gets no uevent, so readers fall back to the single files.
  const overridden = [...Object.keys(fn.files ?? {}), ...(fn.omit ?? [])];
  if (fn.uevent !== false && !overridden.some((name) => ['vendor', 'device', 'class', 'uevent'].includes(name))) {
    const uevent = [
      ...(fn.driver ? [`DRIVER=${fn.driver}`] : []),
      `PCI_CLASS=${(fn.class ?? '020000').replace(/^0+(?=.)/, '').toUpperCase()}`,
      `PCI_ID=${fn.vendor.toUpperCase()}:${fn.device.toUpperCase()}`,
      `PCI_SLOT_NAME=${fn.address}`,
      `MODALIAS=${files['modalias']}`,
    ];
    files['uevent'] = uevent.join('\n');
  }
  Object.assign(files, fn.files ?? {});
  for (const name of fn.omit ?? []) delete files[name];
  for (const [name, content] of Object.entries(files)) write(join(dir, name), content);

  if (fn.driver) {
    const driverDir = join(sysfsRoot, 'bus', 'pci', 'drivers', fn.driver);
    mkdirSync(driverDir, { recursive: true });
    link(driverDir, join(dir, 'driver'));
  }
  if (fn.iommuGroup === 'file') {
    write(join(dir, 'iommu_group'), '7');
  } else if (fn.iommuGroup !== undefined) {
    const groupDir = join(sysfsRoot, 'kernel', 'iommu_groups', String(fn.iommuGroup));
    mkdirSync(groupDir, { recursive: true });
    if (fn.noIommu) write(join(groupDir, 'name'), 'vfio-noiommu');
    link(groupDir, join(dir, 'iommu_group'));
  }
  for (const netdev of fn.netdevs ?? []) makeNetdev(sysfsRoot, dir, netdevSpec(netdev));
  for (const [index, rdma] of (fn.rdma ?? []).entries()) {
    const rdmaDir = join(dir, 'infiniband', rdma);
    mkdirSync(rdmaDir, { recursive: true });
    if (index === 0 && fn.pkeys) {
      const pkeyDir = join(rdmaDir, 'ports', '1', 'pkeys');
      mkdirSync(pkeyDir, { recursive: true });
      fn.pkeys.forEach((key, keyIndex) => write(join(pkeyDir, String(keyIndex)), key));
    }
  }
  if (fn.uio !== undefined) mkdirSync(join(dir, 'uio', fn.uio), { recursive: true });
  if (fn.vdpa) {
    const vdpaDir = join(dir, fn.vdpa.name);
    mkdirSync(vdpaDir, { recursive: true });
    const driverDir = join(sysfsRoot, 'bus', 'vdpa', 'drivers', fn.vdpa.driver);
    mkdirSync(driverDir, { recursive: true });
    link(driverDir, join(vdpaDir, 'driver'));
  }
}

function linkVfs(sysfsRoot: string, functions: FakePciFunction[]): void {
  for (const fn of functions) {
    if (!fn.vfOf) continue;
    const vfDir = pciDir(sysfsRoot, fn.address);
    const pfDir = pciDir(sysfsRoot, fn.vfOf.pf);
    mkdirSync(pfDir, { recursive: true });
    link(pfDir, join(vfDir, 'physfn'));
    link(vfDir, join(pfDir, `virtfn${fn.vfOf.vfIndex}`));
  }
}

function makeAuxDevice(sysfsRoot: string, aux: FakeAuxDevice): void {
  const dir = join(pciDir(sysfsRoot, aux.parent), aux.name);
  mkdirSync(dir, { recursive: true });
  link(dir, join(sysfsRoot, 'bus', 'auxiliary', 'devices', aux.name));
  if (aux.sfnum !== undefined) write(join(dir, 'sfnum'), String(aux.sfnum));
  if (aux.driver) {
    const driverDir = join(sysfsRoot, 'bus', 'auxiliary', 'drivers', aux.driver);
    mkdirSync(driverDir, { recursive: true });
    link(driverDir, join(dir, 'driver'));
  }
  for (const netdev of aux.netdevs ?? []) makeNetdev(sysfsRoot, dir, netdevSpec(netdev));
  for (const rdma of aux.rdma ?? []) mkdirSync(join(dir, 'infiniband', rdma), { recursive: true });
}

function routeFiles(procRoot: string, description: FakeHostDescription): void {
  const netDir = join(procRoot, 'net');
  mkdirSync(netDir, { recursive: true });
  const ipv4 = ['Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT'];
  for (const iface of description.ipv4DefaultRoutes ?? []) {
    ipv4.push(`${iface}\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0`);
    ipv4.push(`${iface}\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0`);
  }
  write(join(netDir, 'route'), ipv4.join('\n'));
  const zeros = '0'.repeat(32);
  const ipv6 = [`${'0'.repeat(31)}1 80 ${zeros} 00 ${zeros} 00000000 00000002 00000000 80200001       lo`];
  for (const iface of description.ipv6DefaultRoutes ?? []) {
    ipv6.push(`${zeros} 00 ${zeros} 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003 ${iface.padStart(8)}`);
  }
  // The unreachable ::/0 on lo that every kernel has must not count as a default route.
  ipv6.push(`${zeros} 00 ${zeros} 00 ${zeros} ffffffff 00000001 00000000 00200200       lo`);
  write(join(netDir, 'ipv6_route'), ipv6.join('\n'));
}

/** Writes the tree into `parent` (default: a new temp dir). Call cleanup() (e.g. in t.teardown). */
export function buildFakeHost(description: FakeHostDescription, parent?: string): FakeHost {
  const root = parent ?? mkdtempSync(join(tmpdir(), 'nicplex-fake-sysfs-'));
  const sysfsRoot = join(root, 'sys');
  const procRoot = join(root, 'proc');
  const devRoot = join(root, 'dev');
  for (const dir of ['bus/pci/devices', 'bus/pci/drivers', 'class/net', 'devices/pci0000:00', 'kernel/iommu_groups']) {
    mkdirSync(join(sysfsRoot, dir), { recursive: true });
  }
  if ((description.aux ?? []).length > 0) mkdirSync(join(sysfsRoot, 'bus', 'auxiliary', 'devices'), { recursive: true });
  const functions = description.pci ?? [];
  for (const fn of functions) makePciFunction(sysfsRoot, fn);
  linkVfs(sysfsRoot, functions);
  for (const aux of description.aux ?? []) makeAuxDevice(sysfsRoot, aux);
  routeFiles(procRoot, description);
  mkdirSync(join(devRoot, 'net'), { recursive: true });
  if (description.vhostNet) {
    write(join(devRoot, 'vhost-net'), '');
    write(join(devRoot, 'net', 'tun'), '');
  }
  return { root, sysfsRoot, procRoot, devRoot, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
