// network-status entries (the NPWG multi-net spec's k8s.v1.cni.cncf.io/network-status) and the default-route rewrite of cached results.
import type { NetworkStatusEntry } from './cluster.js';
import type { PlannedAttachment } from './plan.js';
import type { CniResult } from './version.js';

function bareAddress(cidr: string): string {
  return cidr.split('/')[0] ?? cidr;
}

function isDefaultDestination(dst: string): boolean {
  return dst === '0.0.0.0/0' || dst === '::/0';
}

/** One entry per sandbox interface of the result (NAD client `CreateNetworkStatuses`). */
export function networkStatusEntries(attachment: PlannedAttachment, result: CniResult, deviceInfo: unknown): NetworkStatusEntry[] {
  const interfaces = result.interfaces ?? [];
  const sandboxed = interfaces.map((iface, index) => ({ iface, index })).filter(({ iface }) => iface.sandbox);
  const gateways = attachment.defaultRoute && attachment.defaultRoute.length > 0
    ? attachment.defaultRoute
    : (result.routes ?? []).filter((route) => isDefaultDestination(route.dst) && route.gw).map((route) => route.gw!);
  const base = (): NetworkStatusEntry => ({ name: attachment.networkName });
  const finish = (entry: NetworkStatusEntry, ips: string[]): NetworkStatusEntry => {
    if (ips.length > 0) entry.ips = ips;
    if (attachment.isDefault) entry.default = true;
    if (result.dns && Object.keys(result.dns).length > 0) entry.dns = { ...result.dns };
    if (gateways.length > 0) entry.gateway = gateways;
    if (deviceInfo !== undefined) entry['device-info'] = deviceInfo;
    return entry;
  };
  if (sandboxed.length === 0) {
    const entry = base();
    entry.interface = attachment.ifname;
    return [finish(entry, (result.ips ?? []).map((ip) => bareAddress(ip.address)))];
  }
  return sandboxed.map(({ iface, index }) => {
    const entry = base();
    entry.interface = iface.name;
    if (iface.mac) entry.mac = iface.mac;
    if (iface.mtu !== undefined) entry.mtu = iface.mtu;
    const ips = interfaces.length === 1 ? result.ips ?? [] : (result.ips ?? []).filter((ip) => ip.interface === index || ip.interface === undefined);
    return finish(entry, ips.map((ip) => bareAddress(ip.address)));
  });
}

/** "Add eth0 [10.1.1.5/24] from ns/net" — the AddedInterface event text Multus uses. */
export function addedInterfaceMessages(attachment: PlannedAttachment, result: CniResult): string[] {
  const sandboxed = (result.interfaces ?? []).map((iface, index) => ({ iface, index })).filter(({ iface }) => iface.sandbox);
  const targets = sandboxed.length > 0 ? sandboxed : [{ iface: { name: attachment.ifname }, index: -1 }];
  return targets.map(({ iface, index }) => {
    const ips = (result.ips ?? []).filter((ip) => index < 0 || targets.length === 1 || ip.interface === index).map((ip) => ip.address);
    return `Add ${iface.name} [${ips.join(',')}] from ${attachment.networkName}`;
  });
}

/**
 * When an annotation element asks for `default-route`, every other attachment's default routes are dropped
 * from its result and the requested gateways become the default routes of that attachment's result.
 */
export function applyDefaultRouteRequests(entries: Array<{ attachment: PlannedAttachment; result: CniResult }>): void {
  const requesting = entries.filter(({ attachment }) => attachment.defaultRoute && attachment.defaultRoute.length > 0);
  if (requesting.length === 0) return;
  for (const { attachment, result } of entries) {
    const requested = attachment.defaultRoute ?? [];
    result.routes = (result.routes ?? []).filter((route) => !isDefaultDestination(route.dst));
    for (const gateway of requested) result.routes.push({ dst: gateway.includes(':') ? '::/0' : '0.0.0.0/0', gw: gateway });
  }
}
