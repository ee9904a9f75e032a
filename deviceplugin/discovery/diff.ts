// What changed between two discovery snapshots, for hot reload: devices added, removed or
// changed (any field, pool included), and pools whose settings or device list changed.
import type { DiscoverySnapshot, SnapshotDiff } from '../model.js';

function byKey<T>(items: T[], key: (item: T) => string): Map<string, string> {
  return new Map(items.map((item) => [key(item), JSON.stringify(item)]));
}

function compare(before: Map<string, string>, after: Map<string, string>): { added: string[]; removed: string[]; changed: string[] } {
  const added = [...after.keys()].filter((key) => !before.has(key)).sort();
  const removed = [...before.keys()].filter((key) => !after.has(key)).sort();
  const changed = [...after.keys()].filter((key) => before.has(key) && before.get(key) !== after.get(key)).sort();
  return { added, removed, changed };
}

export function diffSnapshots(before: DiscoverySnapshot, after: DiscoverySnapshot): SnapshotDiff {
  const devices = compare(byKey(before.devices, (device) => device.pciAddress), byKey(after.devices, (device) => device.pciAddress));
  const pools = compare(byKey(before.pools, (pool) => pool.resourceName), byKey(after.pools, (pool) => pool.resourceName));
  const poolsChanged = [...new Set([...pools.added, ...pools.removed, ...pools.changed])].sort();
  return { added: devices.added, removed: devices.removed, changed: devices.changed, poolsChanged };
}
