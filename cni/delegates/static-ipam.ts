// The `static` IPAM plugin (containernetworking/plugins plugins/ipam/static) in-process, for the built-in
// delegates: the same result for the same stdin and CNI_ARGS, without exec'ing a Go binary twice per
// attachment. Addresses come from `ipam.addresses`, plus CNI_ARGS `IP=` (with `GATEWAY=` for those),
// replaced by `args.cni.ips`, replaced by `runtimeConfig.ips`; routes and dns are passed through. DEL,
// STATUS and GC do nothing; CHECK wants each configured address in prevResult. Addresses and gateways are
// printed the way Go prints them (IPv4-mapped IPv6 as IPv4, RFC 5952 IPv6, host bits kept).
// Routes keep `mtu`, `advmss`, `priority`, `table` and `scope` as the current upstream plugin does
// (containernetworking/plugins v1.1.1, Debian 12's, drops them).
import { isIPv6 } from 'node:net';
import { isJsonObject } from '../../config/cni-json.js';
import { CniCode, CniError } from '../errors.js';
import type { PluginInvocation } from '../exec.js';
import { compareVersions, formatResult, parseResult, type CniDns, type CniResult, type CniRoute } from '../version.js';

/** An IP as Go's net.IP holds it after canonicalisation: 4 bytes for IPv4 (and IPv4-mapped IPv6), else 16. */
type IpBytes = number[];

interface Cidr { ip: IpBytes; prefix: number; maskBits: 32 | 128 }

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function parseIpv4(text: string): IpBytes | undefined {
  const match = IPV4.exec(text);
  return match ? match.slice(1, 5).map(Number) : undefined;
}

function parseIpv6(text: string): IpBytes | undefined {
  if (text.includes('%') || !isIPv6(text)) return undefined;
  const halves = text.split('::');
  const groupsOf = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      const v4 = parseIpv4(piece);
      if (v4) out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      else out.push(Number.parseInt(piece, 16));
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length > 1 ? groupsOf(halves[1]!) : [];
  const groups = halves.length > 1 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  if (groups.length !== 8) return undefined;
  return groups.flatMap((group) => [group >> 8, group & 0xff]);
}

/** net.ParseIP followed by canonicalizeIP (To4 when it is IPv4 or IPv4-mapped). */
function parseIp(text: string): IpBytes | undefined {
  const v4 = parseIpv4(text);
  if (v4) return v4;
  const v6 = parseIpv6(text);
  if (!v6) return undefined;
  return v6.slice(0, 10).every((byte) => byte === 0) && v6[10] === 0xff && v6[11] === 0xff ? v6.slice(12) : v6;
}

/** net.ParseCIDR: the prefix is decimal digits (leading zeros allowed) within the literal's family. */
function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const v4 = parseIpv4(address);
  const ip = v4 ?? parseIp(address);
  if (!ip || !/^\d+$/.test(prefixText)) return undefined;
  const maskBits = v4 ? 32 : 128;
  const prefix = Number(prefixText);
  if (prefix > maskBits) return undefined;
  return { ip, prefix, maskBits };
}

function formatIp(ip: IpBytes): string {
  if (ip.length === 4) return ip.join('.');
  const groups = Array.from({ length: 8 }, (_, index) => (ip[index * 2]! << 8) | ip[index * 2 + 1]!);
  // Go compresses the first longest run of two or more zero groups.
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8;) {
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end === start ? start + 1 : end;
  }
  const hex = (list: number[]) => list.map((group) => group.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/** IPNet.String(): the address as given (host bits kept), the prefix seen from its canonical length. */
function formatCidr(cidr: Cidr): string {
  const prefix = cidr.ip.length === 4 && cidr.maskBits === 128 ? Math.max(0, cidr.prefix - 96) : cidr.prefix;
  return `${formatIp(cidr.ip)}/${prefix}`;
}

function contains(cidr: Cidr, ip: IpBytes): boolean {
  if (ip.length !== cidr.ip.length) return false;
  const prefix = cidr.ip.length === 4 && cidr.maskBits === 128 ? Math.max(0, cidr.prefix - 96) : cidr.prefix;
  for (let bit = 0; bit < prefix; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((cidr.ip[bit >> 3]! & mask) !== (ip[bit >> 3]! & mask)) return false;
  }
  return true;
}

interface StaticAddress { text: string; cidr?: Cidr; gateway?: IpBytes }

interface StaticConf { cniVersion: string; addresses: StaticAddress[]; routes?: CniRoute[]; dns: CniDns }

const fail = (message: string): never => {
  throw new CniError(CniCode.internal, message);
};

function parseGatewayField(value: unknown, where: string): IpBytes | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return fail(`${where}: expected an IP address string, got ${JSON.stringify(value)}`);
  return parseIp(value) ?? fail(`invalid IP address: ${value}`);
}

function stringList(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string')) return fail(`${where}: expected a list of strings`);
  return value as string[];
}

function parseRoutes(value: unknown): CniRoute[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) return fail('ipam.routes: expected a list of routes');
  return value.map((raw, index) => {
    if (!isJsonObject(raw)) return fail(`ipam.routes[${index}]: expected an object`);
    const dst = typeof raw['dst'] === 'string' ? parseCidr(raw['dst']) : undefined;
    if (!dst) return fail(`invalid CIDR address: ${String(raw['dst'] ?? '')}`);
    const route: CniRoute = { dst: formatCidr(dst) };
    const gw = parseGatewayField(raw['gw'], `ipam.routes[${index}].gw`);
    if (gw) route.gw = formatIp(gw);
    for (const key of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) {
      const field = raw[key];
      if (field === undefined || field === null) continue;
      if (typeof field !== 'number' || !Number.isInteger(field)) return fail(`ipam.routes[${index}].${key}: expected an integer`);
      if (field !== 0) route[key] = field;
    }
    return route;
  });
}

function parseDns(value: unknown): CniDns {
  if (value === undefined || value === null) return {};
  if (!isJsonObject(value)) return fail('ipam.dns: expected an object');
  const dns: CniDns = {};
  const nameservers = stringList(value['nameservers'], 'ipam.dns.nameservers');
  if (nameservers.length > 0) dns.nameservers = nameservers;
  if (typeof value['domain'] === 'string' && value['domain'] !== '') dns.domain = value['domain'];
  const search = stringList(value['search'], 'ipam.dns.search');
  if (search.length > 0) dns.search = search;
  const options = stringList(value['options'], 'ipam.dns.options');
  if (options.length > 0) dns.options = options;
  return dns;
}

/** types.LoadArgs into {IgnoreUnknown, IP, GATEWAY}: every pair is K=V, unknown keys need IgnoreUnknown. */
function parseCniArgs(cniArgs: string): { ip?: string; gateway?: string } {
  if (cniArgs === '') return {};
  const out: { ip?: string; gateway?: string } = {};
  const unknown: string[] = [];
  let ignoreUnknown = false;
  for (const pair of cniArgs.split(';')) {
    const kv = pair.split('=');
    if (kv.length !== 2) fail(`ARGS: invalid pair ${JSON.stringify(pair)}`);
    const [key, value] = kv as [string, string];
    if (key === 'IP') out.ip = value;
    else if (key === 'GATEWAY') out.gateway = value;
    else if (key === 'IgnoreUnknown') {
      const lower = value.toLowerCase();
      if (lower === '1' || lower === 'true') ignoreUnknown = true;
      else if (lower === '0' || lower === 'false') ignoreUnknown = false;
      else fail(`ARGS: error parsing value of pair ${JSON.stringify(pair)}: boolean unmarshal error: invalid input ${lower}`);
    } else unknown.push(pair);
  }
  if (unknown.length > 0 && !ignoreUnknown) fail(`ARGS: unknown args [${unknown.map((pair) => JSON.stringify(pair)).join(' ')}]`);
  return out;
}

/** LoadIPAMConfig: the addresses from all four sources, validated, in the conf's version. */
function loadStaticConf(stdin: Record<string, unknown>, cniArgs: string): StaticConf {
  const cniVersion = typeof stdin['cniVersion'] === 'string' ? stdin['cniVersion'] : '';
  const ipam = stdin['ipam'];
  if (ipam === undefined || ipam === null) fail('IPAM config missing \'ipam\' key');
  if (!isJsonObject(ipam)) return fail('ipam: expected an object');
  const rawAddresses = ipam['addresses'] ?? [];
  if (!Array.isArray(rawAddresses)) fail('ipam.addresses: expected a list of {"address", "gateway"}');
  let addresses: StaticAddress[] = (rawAddresses as unknown[]).map((raw, index) => {
    if (!isJsonObject(raw)) return fail(`ipam.addresses[${index}]: expected an object`);
    const text = raw['address'];
    if (text !== undefined && typeof text !== 'string') return fail(`ipam.addresses[${index}].address: expected a CIDR string`);
    const gateway = parseGatewayField(raw['gateway'], `ipam.addresses[${index}].gateway`);
    return { text: text ?? '', ...(gateway ? { gateway } : {}) };
  });
  const args = parseCniArgs(cniArgs);
  if (args.ip !== undefined && args.ip !== '') {
    for (const item of args.ip.split(',')) {
      const text = item.trim();
      const cidr = parseCidr(text) ?? fail(`the 'ip' field is expected to be in CIDR notation, got: '${text}'`);
      addresses.push({ text, cidr });
    }
  }
  if (args.gateway !== undefined && args.gateway !== '') {
    for (const item of args.gateway.split(',')) {
      const gateway = parseIp(item.trim()) ?? fail(`invalid gateway address: ${item}`);
      // As upstream: only addresses parsed so far (those from CNI_ARGS IP=) can match a gateway.
      for (const address of addresses) if (address.cidr && contains(address.cidr, gateway)) address.gateway = gateway;
    }
  }
  const replacing = (list: string[]) => list.map((text) => ({ text, cidr: parseCidr(text) ?? fail(`an entry in the 'ips' field is NOT in CIDR notation, got: '${text}'`) }));
  const argsBlock = isJsonObject(stdin['args']) && isJsonObject(stdin['args']['cni']) ? stdin['args']['cni'] : undefined;
  const argsIps = stringList(argsBlock?.['ips'], 'args.cni.ips');
  if (argsIps.length > 0) addresses = replacing(argsIps);
  const runtimeIps = stringList(isJsonObject(stdin['runtimeConfig']) ? stdin['runtimeConfig']['ips'] : undefined, 'runtimeConfig.ips');
  if (runtimeIps.length > 0) addresses = replacing(runtimeIps);
  let v4 = 0;
  let v6 = 0;
  for (const address of addresses) {
    address.cidr ??= parseCidr(address.text) ?? fail(`the 'address' field is expected to be in CIDR notation, got: '${address.text}'`);
    if (address.cidr.ip.length === 4) v4++;
    else v6++;
  }
  const before030 = !/^\d+\.\d+\.\d+$/.test(cniVersion) || compareVersions(cniVersion, '0.3.0') < 0;
  if ((v4 > 1 || v6 > 1) && before030) fail(`CNI version ${cniVersion} does not support more than 1 address per family`);
  const routes = parseRoutes(ipam['routes']);
  return { cniVersion, addresses, ...(routes ? { routes } : {}), dns: parseDns(ipam['dns']) };
}

function resultOf(conf: StaticConf): CniResult {
  const result: CniResult = { cniVersion: conf.cniVersion, dns: conf.dns };
  if (conf.addresses.length > 0) {
    result.ips = conf.addresses.map((address) => ({ address: formatCidr(address.cidr!), ...(address.gateway ? { gateway: formatIp(address.gateway) } : {}) }));
  }
  if (conf.routes && conf.routes.length > 0) result.routes = conf.routes;
  return result;
}

/** CHECK: each configured address must be in prevResult, with its gateway when it has one. */
function check(conf: StaticConf, stdin: Record<string, unknown>, ifname: string): void {
  if (stdin['prevResult'] === undefined || stdin['prevResult'] === null) fail('Required prevResult missing');
  const previous = parseResult(stdin['prevResult'], conf.cniVersion);
  for (const address of conf.addresses) {
    const wanted = formatIp(address.cidr!.ip);
    for (const ip of previous.ips ?? []) {
      const seen = parseCidr(ip.address);
      if (!seen || formatIp(seen.ip) !== wanted) continue;
      if (!address.gateway) break;
      const gateway = ip.gateway === undefined ? undefined : parseIp(ip.gateway);
      if (gateway && formatIp(gateway) === formatIp(address.gateway)) break;
      fail(`static: Failed to match addr ${wanted} on interface ${ifname}`);
    }
  }
}

/** Runs `static` for one invocation; returns what the binary would print (undefined for an empty stdout). */
export function runStaticIpam(invocation: PluginInvocation): Record<string, unknown> | undefined {
  const stdin = invocation.stdin;
  switch (invocation.command) {
    case 'ADD': {
      const conf = loadStaticConf(stdin, invocation.cniArgs);
      if (conf.addresses.length === 0 && /^0\.[12]\./.test(conf.cniVersion)) fail('cannot convert: no valid IP addresses');
      return formatResult(resultOf(conf), conf.cniVersion);
    }
    case 'CHECK':
      check(loadStaticConf(stdin, invocation.cniArgs), stdin, invocation.ifname);
      return undefined;
    case 'DEL':
    case 'STATUS':
    case 'GC':
      return undefined;
    default:
      throw new CniError(CniCode.invalidEnvironment, `static: unknown CNI_COMMAND "${invocation.command}"`);
  }
}
