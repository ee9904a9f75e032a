// When a device is advertised Unhealthy. Decision (the issue leaves it open):
// - A VF follows its PF's netdev: the PF carries the physical link, while a free VF's own netdev is
//   normally administratively down until a CNI sets it up in a pod, so its state says nothing.
//   This also covers VFs bound to vfio-pci, which have no netdev at all.
// - Anything else (a PF offered whole, a VF inside a VM with no PF) follows its own netdevs.
// - As in the reference plugin, only a readable state that is not `up` makes a device down;
//   unknown link state (no netdev, unreadable) stays Healthy.
// - A device whose sysfs directory vanished is Unhealthy until rediscovery drops it.
import type { DiscoveredDevice } from '../model.js';
import type { LinkStateSource } from '../link-state.js';

/** The netdevs whose link state decides the device's health. */
export function healthNetdevs(device: DiscoveredDevice): string[] {
  if (device.pfAddress !== null) return device.pfNetdev ? [device.pfNetdev] : [];
  return device.netdevs;
}

export function isDeviceHealthy(device: DiscoveredDevice, linkState: LinkStateSource, vanished: ReadonlySet<string>): boolean {
  if (vanished.has(device.pciAddress)) return false;
  return healthNetdevs(device).every((netdev) => linkState.read(netdev) !== false);
}
