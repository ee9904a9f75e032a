// The discovery snapshot: what the host has, and which pool each device fell into.
// This is the contract between discovery (producer) and the kubelet-facing server (consumer);
// fields may be added, never renamed or removed without updating both sides.

export type DeviceType = 'netDevice' | 'accelerator' | 'auxNetDevice';

/** One PCI function (or auxiliary device) as read from sysfs. */
export interface HostDevice {
  /** Canonical `dddd:bb:dd.f`, lower-case; for auxiliary devices the aux device name. */
  pciAddress: string;
  /** 4 lower-case hex digits, no `0x`. */
  vendorId: string;
  deviceId: string;
  /** From pci.ids when available, else null. */
  vendorName: string | null;
  deviceName: string | null;
  /** 6 lower-case hex digits, no `0x` (e.g. `020000`). */
  classCode: string;
  /** Bound driver name, or null when unbound. */
  driver: string | null;
  /** NUMA node, or null when sysfs says -1, is missing or unreadable. */
  numaNode: number | null;
  /** IOMMU group number as a string, or null. */
  iommuGroup: string | null;
  /** True when the IOMMU group is a vfio no-IOMMU group (`/dev/vfio/noiommu-N`). */
  noIommu: boolean;
  /** SR-IOV: present on PFs only. */
  sriovTotalVfs: number | null;
  sriovNumVfs: number | null;
  /** PF address when this is a VF, else null. */
  pfAddress: string | null;
  /** VF index on its PF (0-based), or -1 when not a VF. */
  vfIndex: number;
  /** Netdev names of this function (includes virtio's `virtioN/net/`). */
  netdevs: string[];
  /** Netdev name of the PF (for VFs), or of the device itself for PFs; null when unknown. */
  pfNetdev: string | null;
  /** `ether`, `infiniband`, ... from `/sys/class/net/<if>/type`, falling back to the PF's; null when unknown. */
  linkType: string | null;
  /** True only when every netdev of the device reports operstate `up`; null when it has no readable netdev. */
  linkUp: boolean | null;
  /** RDMA device names (e.g. `mlx5_0`). */
  rdmaDevices: string[];
  /** `uioN` when bound to a UIO driver, else null. */
  uioDevice: string | null;
  acpiIndex: string | null;
  /** IB partition keys (`0x8001`), read only when a configured selector uses `pKeys`; else empty. */
  pKeys: string[];
  /** DDP profile name, when known. */
  ddpProfile: string | null;
  /** vDPA driver type (`vhost` / `virtio`) when the device has a vDPA device, else null. */
  vdpaType: string | null;
  /** Auxiliary devices only: the aux type (e.g. `sf`), else null. */
  auxType: string | null;
}

/** Why a device is in no pool. Human-readable, stable strings (shown by `nicplex discover`). */
export type ExclusionReason = string;

export interface DiscoveredDevice extends HostDevice {
  /** Full resource name (`prefix/name`) of the pool holding this device, or null. */
  pool: string | null;
  /** Index of the selector object within the pool that matched it, or null. */
  selectorIndex: number | null;
  /** Set when `pool` is null. */
  excludedBecause: ExclusionReason | null;
  /** `pci` for a PCI function, `aux` for an auxiliary device (subfunction). */
  kind?: 'pci' | 'aux';
  /** True for an SR-IOV capable function (it has `sriov_totalvfs`). */
  isSriovPf?: boolean;
  /** Later pools whose selectors also matched this device; the first pool in config order keeps it. */
  alsoMatchedBy?: string[];
  /** What could not be read or parsed for this device (discovery never throws on an odd device). */
  problems?: string[];
}

export interface PoolSelectorFlags {
  isRdma: boolean;
  needVhostNet: boolean;
  vdpaType: string | null;
}

export interface Pool {
  /** `prefix/name`. */
  resourceName: string;
  resourcePrefix: string;
  /** The bare `resourceName` from the config. */
  name: string;
  deviceType: DeviceType;
  excludeTopology: boolean;
  /** Per selector object, in config order. */
  selectors: PoolSelectorFlags[];
  /** `additionalInfo` from the config: `"*"` and per-PCI maps of string to string. */
  additionalInfo: Record<string, Record<string, string>>;
  /** Sorted PCI addresses of the devices in this pool. */
  devices: string[];
  /** GetPreferredAllocation within a NUMA node: few PFs (`pack`) or many (`spread`); absent = the plugin's default. */
  allocationPolicy?: 'pack' | 'spread';
}

export interface DiscoverySnapshot {
  /** Every device discovery looked at, sorted by address. */
  devices: DiscoveredDevice[];
  /** Every configured pool, empty ones included, in config order. */
  pools: Pool[];
  /** Whether `/dev/vhost-net` and `/dev/net/tun` exist on the host. */
  vhostNetAvailable: boolean;
  /** Netdevs that carried a default route (IPv4 or IPv6) in the netns discovery ran in. */
  defaultRouteNetdevs?: string[];
  /** The pci.ids file names came from, or null when names were not looked up. */
  pciIdsSource?: string | null;
}

export interface SnapshotDiff {
  added: string[];
  removed: string[];
  /** Devices whose record changed (driver, netdev, link state, pool, ...). */
  changed: string[];
  /** Pools (by full resource name) whose device list or settings changed, appeared or vanished. */
  poolsChanged: string[];
}
