// What one container gets for a set of devices of a pool: env vars, device nodes and mounts, in the
// shape the reference plugin uses so existing DPDK apps and CNIs that read them keep working:
//   PCIDEVICE_<PREFIX>_<NAME>       = comma-joined PCI addresses
//   PCIDEVICE_<PREFIX>_<NAME>_INFO  = {"<pci>": {"generic": {"deviceID": ...}, "vfio": {...}, ...}}
import type { ContainerAllocateResponse, DeviceSpec } from '../../config/grpc/kubelet-api.js';
import type { DiscoveredDevice, Pool } from '../model.js';
import type { VdpaDevice } from './vdpa-device.js';

const UIO_DRIVERS = new Set(['uio_pci_generic', 'igb_uio', 'uio']);
export const VHOST_NET = '/dev/vhost-net';
export const NET_TUN = '/dev/net/tun';

/** `PCIDEVICE_` + upper-cased `<prefix>_<name>` with every non-alphanumeric as `_` (shells cannot read `-`). */
export function poolEnvName(pool: Pool): string {
  return `PCIDEVICE_${`${pool.resourcePrefix}_${pool.name}`.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export interface AllocateContext {
  pool: Pool;
  vhostNetAvailable: boolean;
  /** RDMA character devices of an RDMA device name (sysfs lookup, injected for tests). */
  rdmaCharDevices: (rdmaDevice: string) => DeviceSpec[];
  /** The vDPA device on a PCI function (sysfs lookup, injected for tests). */
  vdpaDevice: (pciAddress: string) => VdpaDevice | null;
}

/** The vDPA device to hand over: only when the selector asks for this vDPA type and the device has it. */
export function selectedVdpa(device: DiscoveredDevice, context: AllocateContext): VdpaDevice | null {
  const selector = device.selectorIndex !== null ? context.pool.selectors[device.selectorIndex] : undefined;
  if (!selector?.vdpaType || device.vdpaType !== selector.vdpaType) return null;
  return context.vdpaDevice(device.pciAddress);
}

export interface DeviceResources {
  specs: DeviceSpec[];
  /** The device's entry in the `_INFO` JSON: provider name → key/value pairs. */
  info: Record<string, Record<string, string>>;
}

function vfioResources(device: DiscoveredDevice): DeviceResources {
  const specs: DeviceSpec[] = [{ hostPath: '/dev/vfio/vfio', containerPath: '/dev/vfio/vfio', permissions: 'rw' }];
  const vfio: Record<string, string> = { mount: '/dev/vfio/vfio' };
  if (device.iommuGroup !== null) {
    // No-IOMMU groups are /dev/vfio/noiommu-N on the host; DPDK inside expects /dev/vfio/N.
    const hostPath = device.noIommu ? `/dev/vfio/noiommu-${device.iommuGroup}` : `/dev/vfio/${device.iommuGroup}`;
    const containerPath = `/dev/vfio/${device.iommuGroup}`;
    specs.push({ hostPath, containerPath, permissions: 'rw' });
    vfio['dev-mount'] = containerPath;
  }
  return { specs, info: { vfio } };
}

/** Everything one device contributes; which providers apply follows the reference plugin. */
export function deviceResources(device: DiscoveredDevice, context: AllocateContext): DeviceResources {
  const specs: DeviceSpec[] = [];
  const info: Record<string, Record<string, string>> = { generic: { deviceID: device.pciAddress } };
  if (device.driver === 'vfio-pci') {
    const vfio = vfioResources(device);
    specs.push(...vfio.specs);
    Object.assign(info, vfio.info);
  } else if (device.uioDevice !== null || (device.driver !== null && UIO_DRIVERS.has(device.driver))) {
    if (device.uioDevice !== null) {
      const path = `/dev/${device.uioDevice}`;
      specs.push({ hostPath: path, containerPath: path, permissions: 'mrw' });
      info.uio = { mount: path };
    }
  }
  const selector = device.selectorIndex !== null ? context.pool.selectors[device.selectorIndex] : undefined;
  if (selector?.isRdma) {
    const rdma: Record<string, string> = {};
    for (const name of device.rdmaDevices) {
      for (const spec of context.rdmaCharDevices(name)) {
        specs.push(spec);
        const kind = /uverbs|umad|issm|rdma_cm/.exec(spec.containerPath)?.[0];
        if (kind) rdma[kind] = spec.containerPath;
      }
    }
    if (device.rdmaDevices.length > 0) rdma.rdma_dev = device.rdmaDevices.join(',');
    info.rdma = rdma;
  }
  if (selector?.vdpaType) {
    // As the reference: a char device only for the vhost type, and only if the device's type matches.
    const vdpa = selectedVdpa(device, context);
    info.vdpa = {};
    if (vdpa?.vhostPath && selector.vdpaType === 'vhost') {
      specs.push({ hostPath: vdpa.vhostPath, containerPath: vdpa.vhostPath, permissions: 'mrw' });
      info.vdpa = { mount: vdpa.vhostPath };
    }
  }
  if (selector?.needVhostNet && context.vhostNetAvailable) {
    specs.push({ hostPath: VHOST_NET, containerPath: VHOST_NET, permissions: 'rw' }, { hostPath: NET_TUN, containerPath: NET_TUN, permissions: 'rw' });
    info.vhost = { 'net-mount': VHOST_NET, 'tun-mount': NET_TUN };
  }
  const extra = { ...(context.pool.additionalInfo['*'] ?? {}), ...(context.pool.additionalInfo[device.pciAddress] ?? {}) };
  if (Object.keys(extra).length > 0) info.extra = extra;
  return { specs, info };
}

/** The response for one container; device specs are de-duplicated by host path (first wins). */
export function containerAllocateResponse(devices: DiscoveredDevice[], context: AllocateContext): ContainerAllocateResponse {
  const envName = poolEnvName(context.pool);
  const specs = new Map<string, DeviceSpec>();
  const info: Record<string, Record<string, Record<string, string>>> = {};
  for (const device of devices) {
    const resources = deviceResources(device, context);
    for (const spec of resources.specs) if (!specs.has(spec.hostPath)) specs.set(spec.hostPath, spec);
    info[device.pciAddress] = resources.info;
  }
  return {
    envs: { [envName]: devices.map((d) => d.pciAddress).join(','), [`${envName}_INFO`]: JSON.stringify(info) },
    mounts: [],
    devices: [...specs.values()],
    annotations: {},
    cdiDevices: [],
  };
}
