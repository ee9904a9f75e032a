// The vDPA device on top of a PCI function (`<pci>/vdpaN/`) and, when it is bound to the vhost_vdpa
// bus driver, its character device (`vdpaN/vhost-vdpa-M/` → /dev/vhost-vdpa-M). Read at Allocate
// time so a rebind between discovery and Allocate is seen.
import { join } from 'node:path';
import { listDir } from '../../native/index.js';

export interface VdpaDevice {
  /** Name under /sys/bus/vdpa/devices (e.g. `vdpa0`), the device-info `parent-device`. */
  name: string;
  /** `/dev/vhost-vdpa-N`, or null when the device is not on the vhost driver. */
  vhostPath: string | null;
}

export function findVdpaDevice(sysfsRoot: string, pciAddress: string): VdpaDevice | null {
  const deviceDir = join(sysfsRoot, 'bus', 'pci', 'devices', pciAddress);
  const name = (listDir(deviceDir) ?? []).filter((entry) => /^vdpa\d+$/.test(entry)).sort()[0];
  if (name === undefined) return null;
  const vhost = (listDir(join(deviceDir, name)) ?? []).filter((entry) => /^vhost-vdpa-\d+$/.test(entry)).sort()[0];
  return { name, vhostPath: vhost === undefined ? null : `/dev/${vhost}` };
}
