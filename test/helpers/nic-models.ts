// Realistic NICs for the fake sysfs builder, with the IDs, drivers and sysfs shapes real hosts
// show: Intel E810 (ice/iavf), Intel X710 (i40e, two ports), Mellanox ConnectX-5 (mlx5_core with
// RDMA), AWS ENA, virtio-net, a VF on igb_uio without a PF, a PF without a driver, a non-network
// device, and entries that cannot be parsed.
import type { FakeAuxDevice, FakePciFunction } from './fake-sysfs.js';

function bdf(bus: string, device: number, fn: number): string {
  return `0000:${bus}:${device.toString(16).padStart(2, '0')}.${fn}`;
}

/** VF addresses the way the kernel lays them out after a PF: offset/stride over device.function. */
function vfAddress(bus: string, firstDevice: number, index: number): string {
  return bdf(bus, firstDevice + Math.floor(index / 8), index % 8);
}

export interface E810Options {
  bus?: string;
  pfNetdev?: string;
  numVfs?: number;
  /** VF indexes bound to vfio-pci instead of iavf (they have no netdev). */
  vfioVfs?: number[];
  numaNode?: number;
  iommuGroupBase?: number;
}

/** Intel E810-C (8086:1592, ice) with `numVfs` VFs (8086:1889, iavf; some on vfio-pci). */
export function intelE810(options: E810Options = {}): FakePciFunction[] {
  const bus = options.bus ?? '3b';
  const pfNetdev = options.pfNetdev ?? 'ens1f0';
  const numVfs = options.numVfs ?? 8;
  const vfio = new Set(options.vfioVfs ?? []);
  const group = options.iommuGroupBase ?? 40;
  const pf: FakePciFunction = {
    address: bdf(bus, 0, 0), vendor: '8086', device: '1592', driver: 'ice', numaNode: options.numaNode ?? 0,
    iommuGroup: group, netdevs: [pfNetdev], sriov: { totalVfs: 256, numVfs }, acpiIndex: '1',
  };
  const vfs: FakePciFunction[] = Array.from({ length: numVfs }, (_, index) => ({
    address: vfAddress(bus, 1, index), vendor: '8086', device: '1889', driver: vfio.has(index) ? 'vfio-pci' : 'iavf',
    numaNode: options.numaNode ?? 0, iommuGroup: group + 1 + index, netdevs: vfio.has(index) ? [] : [`${pfNetdev}v${index}`],
    vfOf: { pf: pf.address, vfIndex: index },
  }));
  return [pf, ...vfs];
}

/** Intel X710 (8086:1572, i40e), two ports: port 0 with `numVfs` VFs (8086:154c, iavf), port 1 with SR-IOV disabled. */
export function intelX710(options: { bus?: string; numVfs?: number; netdevs?: [string, string] } = {}): FakePciFunction[] {
  const bus = options.bus ?? '5e';
  const [port0, port1] = options.netdevs ?? ['ens2f0', 'ens2f1'];
  const numVfs = options.numVfs ?? 4;
  const pf0: FakePciFunction = { address: bdf(bus, 0, 0), vendor: '8086', device: '1572', driver: 'i40e', numaNode: 1, iommuGroup: 60, netdevs: [port0], sriov: { totalVfs: 64, numVfs } };
  const pf1: FakePciFunction = { address: bdf(bus, 0, 1), vendor: '8086', device: '1572', driver: 'i40e', numaNode: 1, iommuGroup: 61, netdevs: [port1], sriov: { totalVfs: 64, numVfs: 0 } };
  const vfs: FakePciFunction[] = Array.from({ length: numVfs }, (_, index) => ({
    address: vfAddress(bus, 2, index), vendor: '8086', device: '154c', driver: 'iavf', numaNode: 1, iommuGroup: 62 + index,
    netdevs: [`${port0}v${index}`], vfOf: { pf: pf0.address, vfIndex: index },
  }));
  return [pf0, pf1, ...vfs];
}

/** Mellanox ConnectX-5 (15b3:1017, mlx5_core) with VFs (15b3:1018, mlx5_core) that each have an RDMA device. */
export function mellanoxConnectX5(options: { bus?: string; numVfs?: number; pfNetdev?: string; linkType?: 'ether' | 'infiniband' } = {}): FakePciFunction[] {
  const bus = options.bus ?? '86';
  const pfNetdev = options.pfNetdev ?? 'enp134s0f0np0';
  const numVfs = options.numVfs ?? 2;
  const type = options.linkType === 'infiniband' ? 32 : 1;
  const pf: FakePciFunction = {
    address: bdf(bus, 0, 0), vendor: '15b3', device: '1017', driver: 'mlx5_core', numaNode: 1, iommuGroup: 80,
    netdevs: [{ name: pfNetdev, type }], rdma: ['mlx5_0'], sriov: { totalVfs: 8, numVfs },
  };
  const vfs: FakePciFunction[] = Array.from({ length: numVfs }, (_, index) => ({
    address: vfAddress(bus, 0, index + 2), vendor: '15b3', device: '1018', driver: 'mlx5_core', numaNode: 1, iommuGroup: 81 + index,
    netdevs: [{ name: `${pfNetdev}v${index}`, type }], rdma: [`mlx5_${index + 2}`], vfOf: { pf: pf.address, vfIndex: index },
    ...(type === 32 ? { pkeys: ['0xffff', '0x8001', '0x0000'] } : {}),
  }));
  return [pf, ...vfs];
}

/** Three mlx5 subfunctions on the ConnectX-5 PF at `parent`. */
export function mellanoxSubfunctions(parent = '0000:86:00.0'): FakeAuxDevice[] {
  return [1, 2, 3].map((sfnum) => ({
    name: `mlx5_core.sf.${sfnum}`, parent, driver: 'mlx5_core.sf_drv', sfnum, netdevs: [`enp134s0f0s${sfnum}`], rdma: [`mlx5_${10 + sfnum}`],
  }));
}

/** AWS ENA (1d0f:ec20, ena), no SR-IOV inside the instance: the primary ENI (default route) and a secondary one. */
export function awsEna(): FakePciFunction[] {
  return [
    { address: '0000:00:05.0', vendor: '1d0f', device: 'ec20', driver: 'ena', netdevs: ['ens5'], iommuGroup: 5 },
    { address: '0000:00:06.0', vendor: '1d0f', device: 'ec20', driver: 'ena', netdevs: ['ens6'], iommuGroup: 6 },
    { address: '0000:00:07.0', vendor: '1d0f', device: 'ec20', driver: 'vfio-pci', iommuGroup: 7, noIommu: true },
  ];
}

/** virtio-net (1af4:1041, virtio-pci) with its netdev under virtioN/net/. */
export function virtioNet(address = '0000:00:03.0', netdev = 'eth0', virtioIndex = 2): FakePciFunction {
  return { address, vendor: '1af4', device: '1041', driver: 'virtio-pci', netdevs: [{ name: netdev, virtio: virtioIndex }] };
}

/** An X710 VF on igb_uio as seen inside a VM: no physfn, no netdev, a UIO device. */
export function igbUioVfWithoutPf(address = '0000:00:09.0'): FakePciFunction {
  return { address, vendor: '8086', device: '154c', driver: 'igb_uio', uio: 'uio0', iommuGroup: 9 };
}

/** An X710 PF whose driver is not loaded (no `driver` link, no netdev). */
export function pfWithoutDriver(address = '0000:af:00.0'): FakePciFunction {
  return { address, vendor: '8086', device: '1572', sriov: { totalVfs: 64, numVfs: 0 } };
}

/** An NVMe SSD (class 010802): not a network device. */
export function nvmeDrive(address = '0000:02:00.0'): FakePciFunction {
  return { address, vendor: '144d', device: 'a808', class: '010802', driver: 'nvme', iommuGroup: 2 };
}

/** Processing accelerators (class 0x1200): two on vfio-pci and one without a driver. */
export function accelerators(): FakePciFunction[] {
  return [
    { address: '0000:3d:00.0', vendor: '8086', device: '0d5c', class: '120000', driver: 'vfio-pci', iommuGroup: 30 },
    { address: '0000:3d:00.1', vendor: '8086', device: '0d5c', class: '120000', driver: 'vfio-pci', iommuGroup: 31 },
    { address: '0000:3d:00.2', vendor: '8086', device: '0d5c', class: '120000', iommuGroup: 32 },
  ];
}

/** Entries discovery must survive: a garbage class, a missing vendor file, a garbage modalias. */
export function unparsableEntries(): FakePciFunction[] {
  return [
    { address: '0000:0a:00.0', vendor: '8086', device: '1572', driver: 'i40e', files: { class: 'garbage' } },
    { address: '0000:0a:00.1', vendor: '8086', device: '1572', driver: 'i40e', omit: ['vendor'] },
    { address: '0000:0a:00.2', vendor: '8086', device: '1572', driver: 'i40e', netdevs: ['ens9'], files: { modalias: '!!not-a-modalias' } },
  ];
}
