// CNI spec versions and result conversion between them (libcni pkg/types/{020,040,100} rules).
// Internally every result is held in the 1.x shape; callers get it back in their own version.
import { isJsonObject as isObject } from '../config/cni-json.js';
import { CniCode, CniError } from './errors.js';

export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const CURRENT_VERSION = '1.1.0';

export interface CniInterface { name: string; mac?: string; mtu?: number; sandbox?: string; socketPath?: string; pciID?: string }
export interface CniIpConfig { address: string; gateway?: string; interface?: number }
export interface CniRoute { dst: string; gw?: string; mtu?: number; advmss?: number; priority?: number; table?: number; scope?: number }
export interface CniDns { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] }
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

export function assertSupportedVersion(version: unknown, where: string): string {
  if (typeof version !== 'string' || version === '') {
    throw new CniError(CniCode.decodeFailure, `${where}: "cniVersion" is missing; expected one of ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new CniError(CniCode.incompatibleVersion, `${where}: not supported version "${version}"; expected one of ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  return version;
}

/**
 * The version a delegate config (NAD `spec.config`, `delegates[i]`, a file on disk) without `cniVersion` is
 * run with. Multus passes such a config through unchanged; libcni then hands the plugin `"cniVersion": ""`,
 * which the plugin's skel (pkg/version ConfigDecoder) reads as 0.1.0, and libcni's own plugin validation
 * assumes 0.1.0 for an empty version too. nicplex writes 0.1.0 explicitly, so the plugin answers with the
 * same 0.1.0 (`ip4`) result it gives under Multus.
 */
export const ASSUMED_DELEGATE_VERSION = '0.1.0';

/** A delegate config's `cniVersion`: absent or "" means {@link ASSUMED_DELEGATE_VERSION}; anything else must be supported. */
export function delegateVersion(version: unknown, where: string): string {
  if (version === undefined || version === '') return ASSUMED_DELEGATE_VERSION;
  if (typeof version !== 'string') {
    throw new CniError(CniCode.decodeFailure, `${where}: "cniVersion" must be a string such as "1.0.0" (got ${JSON.stringify(version)}); expected one of ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  return assertSupportedVersion(version, where);
}

/** Orders versions numerically ("0.10.0" > "0.9.0"); returns <0, 0, >0. */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let index = 0; index < 3; index++) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

function isLegacy(version: string): boolean {
  return compareVersions(version, '0.3.0') < 0;
}


function addressFamily(cidr: string): 4 | 6 {
  return cidr.includes(':') ? 6 : 4;
}

function routesFrom(value: unknown): CniRoute[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isObject).filter((route) => typeof route['dst'] === 'string').map((route) => {
    const out: CniRoute = { dst: route['dst'] as string };
    if (typeof route['gw'] === 'string') out.gw = route['gw'];
    for (const key of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) {
      if (typeof route[key] === 'number') out[key] = route[key] as number;
    }
    return out;
  });
}

/**
 * Parses a result (or prevResult) of any supported version into the 1.x shape. The version is taken
 * from the object's own `cniVersion`, else from `fallbackVersion` (delegates answer in their config's version).
 */
export function parseResult(value: unknown, fallbackVersion: string): CniResult {
  if (!isObject(value)) throw new CniError(CniCode.decodeFailure, `expected a CNI result object, got ${JSON.stringify(value)}`);
  const version = assertSupportedVersion(typeof value['cniVersion'] === 'string' ? value['cniVersion'] : fallbackVersion, 'CNI result');
  const result: CniResult = { cniVersion: version };
  if (isLegacy(version)) {
    const ips: CniIpConfig[] = [];
    const routes: CniRoute[] = [];
    for (const key of ['ip4', 'ip6'] as const) {
      const block = value[key];
      if (!isObject(block)) continue;
      if (typeof block['ip'] === 'string') {
        const ip: CniIpConfig = { address: block['ip'] };
        if (typeof block['gateway'] === 'string') ip.gateway = block['gateway'];
        ips.push(ip);
      }
      routes.push(...routesFrom(block['routes']));
    }
    if (ips.length > 0) result.ips = ips;
    if (routes.length > 0) result.routes = routes;
  } else {
    if (Array.isArray(value['interfaces'])) {
      result.interfaces = value['interfaces'].filter(isObject).map((raw) => {
        const out: CniInterface = { name: String(raw['name'] ?? '') };
        if (typeof raw['mac'] === 'string') out.mac = raw['mac'];
        if (typeof raw['mtu'] === 'number') out.mtu = raw['mtu'];
        if (typeof raw['sandbox'] === 'string') out.sandbox = raw['sandbox'];
        if (typeof raw['socketPath'] === 'string') out.socketPath = raw['socketPath'];
        if (typeof raw['pciID'] === 'string') out.pciID = raw['pciID'];
        return out;
      });
    }
    if (Array.isArray(value['ips'])) {
      result.ips = value['ips'].filter(isObject).filter((raw) => typeof raw['address'] === 'string').map((raw) => {
        const out: CniIpConfig = { address: raw['address'] as string };
        if (typeof raw['gateway'] === 'string') out.gateway = raw['gateway'];
        if (typeof raw['interface'] === 'number') out.interface = raw['interface'];
        return out;
      });
    }
    const routes = routesFrom(value['routes']);
    if (routes.length > 0 || Array.isArray(value['routes'])) result.routes = routes;
  }
  if (isObject(value['dns'])) {
    const dns: CniDns = {};
    const raw = value['dns'];
    if (Array.isArray(raw['nameservers'])) dns.nameservers = raw['nameservers'].map(String);
    if (typeof raw['domain'] === 'string') dns.domain = raw['domain'];
    if (Array.isArray(raw['search'])) dns.search = raw['search'].map(String);
    if (Array.isArray(raw['options'])) dns.options = raw['options'].map(String);
    result.dns = dns;
  }
  return result;
}

/** Renders a 1.x-shaped result in `version`'s wire format. */
export function formatResult(result: CniResult, version: string): Record<string, unknown> {
  assertSupportedVersion(version, 'requested result version');
  const is11 = compareVersions(version, '1.1.0') >= 0;
  const dns = result.dns ?? {};
  if (isLegacy(version)) {
    const first4 = result.ips?.find((ip) => addressFamily(ip.address) === 4);
    const first6 = result.ips?.find((ip) => addressFamily(ip.address) === 6);
    if (!first4 && !first6) throw new CniError(CniCode.incompatibleVersion, `cannot convert the result to CNI ${version}: no valid IP addresses`);
    const out: Record<string, unknown> = { cniVersion: version };
    for (const [key, ip, family] of [['ip4', first4, 4], ['ip6', first6, 6]] as const) {
      if (!ip) continue;
      const block: Record<string, unknown> = { ip: ip.address };
      if (ip.gateway) block['gateway'] = ip.gateway;
      const routes = (result.routes ?? []).filter((route) => addressFamily(route.dst) === family).map((route) => (route.gw ? { dst: route.dst, gw: route.gw } : { dst: route.dst }));
      if (routes.length > 0) block['routes'] = routes;
      out[key] = block;
    }
    out['dns'] = dns;
    return out;
  }
  const modern = compareVersions(version, '1.0.0') >= 0;
  const out: Record<string, unknown> = { cniVersion: version };
  if (result.interfaces) {
    out['interfaces'] = result.interfaces.map((iface) => {
      const entry: Record<string, unknown> = { name: iface.name };
      if (iface.mac !== undefined) entry['mac'] = iface.mac;
      if (is11 && iface.mtu !== undefined) entry['mtu'] = iface.mtu;
      if (iface.sandbox !== undefined) entry['sandbox'] = iface.sandbox;
      if (is11 && iface.socketPath !== undefined) entry['socketPath'] = iface.socketPath;
      if (is11 && iface.pciID !== undefined) entry['pciID'] = iface.pciID;
      return entry;
    });
  }
  if (result.ips) {
    out['ips'] = result.ips.map((ip) => {
      const entry: Record<string, unknown> = {};
      if (!modern) entry['version'] = String(addressFamily(ip.address));
      if (ip.interface !== undefined) entry['interface'] = ip.interface;
      entry['address'] = ip.address;
      if (ip.gateway !== undefined) entry['gateway'] = ip.gateway;
      return entry;
    });
  }
  if (result.routes) {
    out['routes'] = result.routes.map((route) => {
      const entry: Record<string, unknown> = { dst: route.dst };
      if (route.gw !== undefined) entry['gw'] = route.gw;
      if (is11) for (const key of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) if (route[key] !== undefined) entry[key] = route[key];
      return entry;
    });
  }
  out['dns'] = dns;
  return out;
}

/** The empty result Multus returns when the pod vanished before ADD (IP 0.0.0.0, caller's version). */
export function emptyResult(version: string): CniResult {
  return { cniVersion: version, ips: [{ address: '0.0.0.0/32' }] };
}
