// `nicplex discover`: load the device-plugin config, scan sysfs, and show where every network
// device went (its pool) or why it is in none.
import { ConfigError, formatProblem, loadDevicePluginConfig } from '../config/deviceplugin-config.js';
import { renderTable } from '../config/text-table.js';
import type { DiscoverArgs } from './discover-cli.js';
import { DiscoveryError, discover, reasons } from './discovery/index.js';
import type { DiscoveredDevice, DiscoverySnapshot } from './model.js';

/**
 * What the table and JSON show: every network device, every auxiliary device, anything a pool
 * took, and entries whose class could not be read (they may be NICs).
 */
export function shownDevices(snapshot: DiscoverySnapshot): DiscoveredDevice[] {
  return snapshot.devices.filter((device) => device.pool !== null || device.kind === 'aux' || device.classCode === '' || device.classCode.startsWith('02'));
}

function listSome(addresses: string[], limit = 4): string {
  return addresses.length <= limit ? addresses.join(', ') : `${addresses.slice(0, limit).join(', ')} and ${addresses.length - limit} more`;
}

/** Overlapping pools, one line per (pool, later pools) pair rather than one per device. */
function overlapNotes(shown: DiscoveredDevice[]): string[] {
  const groups = new Map<string, { pool: string; later: string[]; addresses: string[] }>();
  for (const device of shown) {
    const later = device.alsoMatchedBy ?? [];
    if (device.pool === null || later.length === 0) continue;
    const key = `${device.pool}\n${later.join(',')}`;
    const group = groups.get(key) ?? { pool: device.pool, later, addresses: [] };
    group.addresses.push(device.pciAddress);
    groups.set(key, group);
  }
  return [...groups.values()].map((group) =>
    `${group.addresses.length} device(s) also matched ${group.later.join(', ')}, which skip them (${reasons.claimedBy(group.pool)}): ${listSome(group.addresses)}`);
}

/** The record with pciAddress as its first key; scanned records already have it there and are not copied. */
function pciAddressFirst(device: DiscoveredDevice): DiscoveredDevice {
  for (const key in device) {
    if (key === 'pciAddress') return device;
    break;
  }
  const { pciAddress, ...rest } = device;
  return { pciAddress, ...rest };
}

export function discoverJson(snapshot: DiscoverySnapshot): string {
  const devices = shownDevices(snapshot).map(pciAddressFirst);
  const pools = snapshot.pools.map(({ resourceName, devices: members, ...rest }) => ({ resourceName, devices: [...members].sort(), ...rest }));
  return `${JSON.stringify({ devices, pools }, null, 2)}\n`;
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

function placement(device: DiscoveredDevice): string {
  if (device.pool !== null) return device.pool;
  return `none: ${device.excludedBecause ?? 'unknown'}`;
}

export function discoverTable(snapshot: DiscoverySnapshot): string {
  const shown = shownDevices(snapshot);
  const dash = (value: string | number | null | undefined) => (value === null || value === undefined || value === '' ? '-' : String(value));
  const rows = shown.map((device) => [
    device.pciAddress,
    device.vendorId === '' ? '-' : `${device.vendorId}:${device.deviceId}`,
    truncate(device.vendorName ?? dash(device.vendorId), 24),
    truncate(device.deviceName ?? dash(device.deviceId), 36),
    dash(device.driver),
    dash(device.pfAddress),
    device.vfIndex >= 0 ? String(device.vfIndex) : '-',
    device.netdevs.length > 0 ? device.netdevs.join(',') : '-',
    dash(device.numaNode),
    dash(device.iommuGroup),
    placement(device),
  ]);
  const sections = [
    shown.length === 0
      ? 'No PCI network devices found.'
      : renderTable(['PCI ADDRESS', 'ID', 'VENDOR', 'DEVICE', 'DRIVER', 'PF', 'VF', 'NETDEV', 'NUMA', 'IOMMU', 'POOL (or why none)'], rows),
  ];
  const poolRows = snapshot.pools.map((pool) => [pool.resourceName, pool.deviceType, String(pool.devices.length), pool.devices.join(' ') || '-']);
  sections.push(poolRows.length === 0 ? 'No pools configured.' : renderTable(['POOL', 'TYPE', 'COUNT', 'DEVICES'], poolRows));

  const notes = overlapNotes(shown);
  for (const device of shown) {
    // An unreadable device's reason already carries its problems.
    if (device.excludedBecause?.startsWith('unreadable')) continue;
    for (const problem of device.problems ?? []) notes.push(`${device.pciAddress}: ${problem}`);
  }
  const hidden = snapshot.devices.length - shown.length;
  if (hidden > 0) notes.push(`${hidden} other PCI device(s) are not network devices and matched no pool (not shown).`);
  if ((snapshot.defaultRouteNetdevs ?? []).length > 0) {
    notes.push(`default route via ${snapshot.defaultRouteNetdevs?.join(', ')} in this network namespace; NICs carrying it are never offered.`);
    if (shown.some((device) => device.excludedBecause === reasons.defaultRoute)) {
      notes.push('to see where such a NIC would go without its route, run the same command in a fresh netns: unshare --net nicplex discover ...');
    }
  }
  if (snapshot.pciIdsSource === null) notes.push('no pci.ids found (apt install pci.ids): showing hex IDs.');
  if (notes.length > 0) sections.push(notes.map((note) => `note: ${note}`).join('\n'));
  return `${sections.join('\n\n')}\n`;
}

export async function runDiscover(args: DiscoverArgs): Promise<number> {
  try {
    const { config, warnings } = await loadDevicePluginConfig(args.config, { defaultPrefix: args['resource-prefix'] });
    for (const warning of warnings) process.stderr.write(`warning: ${formatProblem(warning)}\n`);
    const pciIds = args['pci-ids'];
    const snapshot = await discover({
      sysfsRoot: args['sysfs-root'],
      procRoot: args['proc-root'],
      config,
      pciIdsPath: pciIds === undefined ? undefined : pciIds === 'none' ? null : pciIds,
    });
    process.stdout.write(args.output === 'json' ? discoverJson(snapshot) : discoverTable(snapshot));
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`nicplex discover: the config is invalid, nothing was scanned:\n${error.problems.map((problem) => `  error: ${formatProblem(problem)}`).join('\n')}\n`);
      return 1;
    }
    if (error instanceof DiscoveryError) {
      process.stderr.write(`nicplex discover: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
