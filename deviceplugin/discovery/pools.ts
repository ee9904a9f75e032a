// Puts devices into pools: pools are tried in config order and a device stays in the first pool
// whose selectors take it. Later pools that would also take it are remembered, so the
// operator can see the overlap instead of guessing.
import type { DevicePluginConfig, ResourceConfig } from '../../config/deviceplugin-config.js';
import type { Pool } from '../model.js';
import { exclusionFor, type CandidateContext } from './candidates.js';
import type { ScannedDevice } from './host-devices.js';
import { matchingSelectorIndex } from './selectors.js';

export interface Placement {
  pool: string;
  selectorIndex: number;
  alsoMatchedBy: string[];
}

export interface PoolAssignment {
  pools: Pool[];
  /** By device address; absent when no pool took the device. */
  placements: Map<string, Placement>;
}

function emptyPool(resource: ResourceConfig): Pool {
  return {
    resourceName: resource.fullName,
    resourcePrefix: resource.resourcePrefix,
    name: resource.resourceName,
    deviceType: resource.deviceType,
    excludeTopology: resource.excludeTopology,
    selectors: resource.selectors.map((selector) => ({ isRdma: selector.isRdma, needVhostNet: selector.needVhostNet, vdpaType: selector.vdpaType })),
    additionalInfo: resource.additionalInfo,
    devices: [],
  };
}

export function assignPools(devices: ScannedDevice[], config: DevicePluginConfig, context: CandidateContext): PoolAssignment {
  const placements = new Map<string, Placement>();
  const pools = config.resourceList.map((resource) => {
    const pool = emptyPool(resource);
    for (const device of devices) {
      if (exclusionFor(device, resource.deviceType, context) !== null) continue;
      const selectorIndex = matchingSelectorIndex(device, resource.selectors);
      if (selectorIndex === null) continue;
      const earlier = placements.get(device.pciAddress);
      if (earlier) {
        earlier.alsoMatchedBy.push(resource.fullName);
        continue;
      }
      placements.set(device.pciAddress, { pool: resource.fullName, selectorIndex, alsoMatchedBy: [] });
      pool.devices.push(device.pciAddress);
    }
    pool.devices.sort();
    return pool;
  });
  return { pools, placements };
}
