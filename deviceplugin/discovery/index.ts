// Discovery: scan sysfs, apply the candidate rules, put devices in pools, return a snapshot.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DevicePluginConfig } from '../../config/deviceplugin-config.js';
import { defaultPciIdsPaths, noPciNames, openPciIds } from '../../native/index.js';
import { readDefaultRouteNetdevs } from '../../native/index.js';
import { deviceNodeExists } from '../../native/index.js';
import type { DiscoverySnapshot } from '../model.js';
import { exclusionForUnpooled } from './candidates.js';
import { scanHostDevices } from './host-devices.js';
import { assignPools } from './pools.js';

export { diffSnapshots } from './diff.js';
export { reasons } from './candidates.js';

export interface DiscoverOptions {
  sysfsRoot: string;
  config: DevicePluginConfig;
  /** Where `net/route` and `net/ipv6_route` are read; default `/proc` (the caller's netns). */
  procRoot?: string;
  /** Where `vhost-net` and `net/tun` are looked for; default `/dev`. */
  devRoot?: string;
  /** A pci.ids file; undefined = the system's; null = do not look names up. */
  pciIdsPath?: string | null;
}

export class DiscoveryError extends Error {}

export function discoverSync(options: DiscoverOptions): DiscoverySnapshot {
  if (!existsSync(join(options.sysfsRoot, 'bus'))) {
    throw new DiscoveryError(`sysfs root ${options.sysfsRoot} has no bus/ directory; pass the sysfs mount (usually /sys) with --sysfs-root`);
  }
  const names = options.pciIdsPath === null ? noPciNames : openPciIds(options.pciIdsPath === undefined ? defaultPciIdsPaths : [options.pciIdsPath]);
  const routes = readDefaultRouteNetdevs(options.procRoot ?? '/proc');
  const context = { defaultRouteNetdevs: new Set([...routes.ipv4, ...routes.ipv6]) };
  const readPkeys = options.config.resourceList.some((resource) => resource.selectors.some((selector) => selector.pKeys.length > 0));
  const scanned = scanHostDevices(options.sysfsRoot, names, { readPkeys });
  const { pools, placements } = assignPools(scanned, options.config, context);
  for (const device of scanned) {
    const placement = placements.get(device.pciAddress);
    if (placement) {
      device.pool = placement.pool;
      device.selectorIndex = placement.selectorIndex;
      device.alsoMatchedBy = placement.alsoMatchedBy;
    } else {
      device.excludedBecause = exclusionForUnpooled(device, context);
    }
  }
  const devRoot = options.devRoot ?? '/dev';
  return {
    devices: scanned,
    pools,
    vhostNetAvailable: deviceNodeExists(devRoot, 'vhost-net') && deviceNodeExists(devRoot, 'net/tun'),
    defaultRouteNetdevs: [...context.defaultRouteNetdevs].sort(),
    pciIdsSource: names.source,
  };
}

/** Never throws on an odd device (it is listed with a reason); throws DiscoveryError when the root is not a sysfs tree. */
export async function discover(options: DiscoverOptions): Promise<DiscoverySnapshot> {
  return discoverSync(options);
}
