// Which devices a pool of each device type may take at all, before selectors run, with the
// reason for every device that is ruled out. Same rules as the reference plugin: network-class
// PCI functions for netDevice, except those carrying the host's default route and PFs whose
// VFs are enabled (their VFs are offered instead); class 0x12 for accelerators, with no route or
// PF filter; subfunctions of network-class PCI parents for auxNetDevice.
import type { DeviceType } from '../../config/deviceplugin-config.js';
import type { ScannedDevice } from './host-devices.js';

export interface CandidateContext {
  /** Netdevs that carry a default route in the netns discovery runs in. */
  defaultRouteNetdevs: ReadonlySet<string>;
}

const networkClass = '02';
const acceleratorClass = '12';

export const reasons = {
  defaultRoute: 'default route',
  pfWithVfs: 'PF with VFs enabled',
  noDriver: 'no driver bound',
  noSelectorMatched: 'no selector matched',
  claimedBy: (pool: string) => `claimed by earlier pool ${pool}`,
} as const;

function unreadable(device: ScannedDevice): string | null {
  if (device.classCode === '' || device.vendorId === '' || device.deviceId === '') {
    return `unreadable device: ${device.problems.join('; ') || 'no vendor, device or class ID'}`;
  }
  return null;
}

/** The device type whose rules apply to this device, or null when no pool type can take it. */
export function naturalDeviceType(device: ScannedDevice): DeviceType | null {
  if (device.kind === 'aux') return 'auxNetDevice';
  if (device.classCode.startsWith(networkClass)) return 'netDevice';
  if (device.classCode.startsWith(acceleratorClass)) return 'accelerator';
  return null;
}

/** Null when a pool of `deviceType` may take the device; otherwise why not. */
export function exclusionFor(device: ScannedDevice, deviceType: DeviceType, context: CandidateContext): string | null {
  switch (deviceType) {
    case 'netDevice': {
      if (device.kind !== 'pci') return 'auxiliary device (only auxNetDevice pools take these)';
      const broken = unreadable(device);
      if (broken !== null) return broken;
      if (!device.classCode.startsWith(networkClass)) return `not a network device (class 0x${device.classCode})`;
      if (device.netdevs.some((netdev) => context.defaultRouteNetdevs.has(netdev))) return reasons.defaultRoute;
      if (device.isSriovPf && (device.sriovNumVfs ?? 0) > 0) return reasons.pfWithVfs;
      if (device.driver === null) return reasons.noDriver;
      return null;
    }
    case 'accelerator': {
      if (device.kind !== 'pci') return 'auxiliary device (only auxNetDevice pools take these)';
      const broken = unreadable(device);
      if (broken !== null) return broken;
      if (!device.classCode.startsWith(acceleratorClass)) return `not an accelerator (class 0x${device.classCode})`;
      if (device.driver === null) return reasons.noDriver;
      return null;
    }
    case 'auxNetDevice': {
      if (device.kind !== 'aux') return 'not an auxiliary device';
      if (device.auxType === null) return `unreadable auxiliary device: ${device.problems.join('; ')}`;
      if (!device.classCode.startsWith(networkClass)) return 'parent is not a network device';
      return null;
    }
  }
}

/** Why a device that landed in no pool is there, judged by the rules of its own kind. */
export function exclusionForUnpooled(device: ScannedDevice, context: CandidateContext): string {
  const type = naturalDeviceType(device);
  if (type === null) return unreadable(device) ?? `not a network device (class 0x${device.classCode})`;
  return exclusionFor(device, type, context) ?? reasons.noSelectorMatched;
}
