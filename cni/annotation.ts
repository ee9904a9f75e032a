// Parses the pod annotation `k8s.v1.cni.cncf.io/networks` (comma form and JSON form, as the NPWG multi-net spec defines them)
// into validated selection elements. Errors name the item and the field.
import { isIP } from 'node:net';
import { CniCode, CniError } from './errors.js';
import { ifnameProblem } from './request.js';

export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';
export const NETWORK_STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status';
export const DEFAULT_NETWORK_ANNOTATION = 'v1.multus-cni.io/default-network';
export const RESOURCE_NAME_ANNOTATION = 'k8s.v1.cni.cncf.io/resourceName';

export interface PortMapping { hostPort: number; containerPort: number; protocol: string; hostIP?: string }
export interface Bandwidth { ingressRate?: number; ingressBurst?: number; egressRate?: number; egressBurst?: number }

export interface NetworkSelection {
  name: string;
  namespace: string;
  /** The annotation named the namespace (else it is the pod's); error messages explain which one was searched. */
  explicitNamespace?: boolean;
  interface?: string;
  ips?: string[];
  mac?: string;
  defaultRoute?: string[];
  portMappings?: PortMapping[];
  bandwidth?: Bandwidth;
  infinibandGuid?: string;
  cniArgs?: Record<string, unknown>;
  deviceId?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const GUID = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){7}$/;

function invalid(message: string): CniError {
  return new CniError(CniCode.invalidConfig, `annotation ${NETWORKS_ANNOTATION}: ${message}`);
}

function checkDnsLabel(value: string, what: string, item: string): void {
  if (!DNS_LABEL.test(value) || value.length > 253) {
    throw invalid(`${item}: ${what} "${value}" is not a DNS-1123 label (lower-case letters, digits and "-", starting and ending with a letter or digit)`);
  }
}

function checkIfname(value: string, item: string): void {
  const problem = ifnameProblem(value);
  if (problem) throw invalid(`${item}: interface name ${problem}`);
}

/** Parses `[<namespace>/]<name>[@<ifname>]`. */
export function parseShortItem(text: string, podNamespace: string): NetworkSelection {
  const item = `"${text}"`;
  const atParts = text.split('@');
  if (atParts.length > 2) throw invalid(`${item}: more than one "@"; expected [<namespace>/]<name>[@<ifname>]`);
  const slashParts = atParts[0]!.split('/');
  if (slashParts.length > 2) throw invalid(`${item}: more than one "/"; expected [<namespace>/]<name>[@<ifname>]`);
  const name = slashParts.length === 2 ? slashParts[1]! : slashParts[0]!;
  const namespace = slashParts.length === 2 ? slashParts[0]! : podNamespace;
  checkDnsLabel(name, 'network name', item);
  if (slashParts.length === 2) checkDnsLabel(namespace, 'namespace', item);
  const selection: NetworkSelection = { name, namespace };
  if (slashParts.length === 2) selection.explicitNamespace = true;
  if (atParts.length === 2) {
    checkIfname(atParts[1]!, item);
    selection.interface = atParts[1]!;
  }
  return selection;
}

function checkIpOrCidr(value: unknown, where: string): string {
  if (typeof value !== 'string') throw invalid(`${where}: expected an IP address or CIDR string, got ${JSON.stringify(value)}`);
  const [address, prefix, extra] = value.split('/');
  const family = isIP(address ?? '');
  const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
  if (family === 0 || !prefixOk || extra !== undefined) throw invalid(`${where}: "${value}" is not an IP address or CIDR`);
  return value;
}

function checkPort(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) throw invalid(`${where}: expected a port number 1-65535, got ${JSON.stringify(value)}`);
  return value;
}

function parsePortMappings(value: unknown, where: string): PortMapping[] {
  if (!Array.isArray(value)) throw invalid(`${where}: expected an array of {hostPort, containerPort, protocol}`);
  return value.map((entry, index) => {
    const at = `${where}[${index}]`;
    if (typeof entry !== 'object' || entry === null) throw invalid(`${at}: expected an object`);
    const raw = entry as Record<string, unknown>;
    const protocol = raw['protocol'] === undefined ? 'tcp' : String(raw['protocol']).toLowerCase();
    if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw invalid(`${at}.protocol: expected TCP, UDP or SCTP, got ${JSON.stringify(raw['protocol'])}`);
    const mapping: PortMapping = { hostPort: checkPort(raw['hostPort'], `${at}.hostPort`), containerPort: checkPort(raw['containerPort'], `${at}.containerPort`), protocol };
    if (raw['hostIP'] !== undefined) mapping.hostIP = checkIpOrCidr(raw['hostIP'], `${at}.hostIP`);
    return mapping;
  });
}

function parseBandwidth(value: unknown, where: string): Bandwidth {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${where}: expected an object with ingressRate/ingressBurst/egressRate/egressBurst`);
  const raw = value as Record<string, unknown>;
  const out: Bandwidth = {};
  for (const key of ['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'] as const) {
    const field = raw[key];
    if (field === undefined) continue;
    if (typeof field !== 'number' || !Number.isInteger(field) || field < 0) throw invalid(`${where}.${key}: expected a non-negative integer, got ${JSON.stringify(field)}`);
    out[key] = field;
  }
  if (out.ingressBurst !== undefined && out.ingressRate === undefined) throw invalid(`${where}: ingressBurst needs ingressRate`);
  if (out.egressBurst !== undefined && out.egressRate === undefined) throw invalid(`${where}: egressBurst needs egressRate`);
  return out;
}

/** An element's `ips`, `mac` and `infiniband-guid`, checked (also used for the same requests in a Multus cache entry). */
export function parseAddressRequests(element: Record<string, unknown>, where: string): Pick<NetworkSelection, 'ips' | 'mac' | 'infinibandGuid'> {
  const out: Pick<NetworkSelection, 'ips' | 'mac' | 'infinibandGuid'> = {};
  if (element['ips'] !== undefined) {
    if (!Array.isArray(element['ips']) || element['ips'].length === 0) throw invalid(`${where}.ips: expected a non-empty array of IP addresses or CIDRs`);
    out.ips = element['ips'].map((ip, ipIndex) => checkIpOrCidr(ip, `${where}.ips[${ipIndex}]`));
  }
  if (element['mac'] !== undefined) {
    if (typeof element['mac'] !== 'string' || !MAC.test(element['mac'])) throw invalid(`${where}.mac: expected a MAC address like "c2:11:22:33:44:55", got ${JSON.stringify(element['mac'])}`);
    out.mac = element['mac'];
  }
  if (element['infiniband-guid'] !== undefined) {
    if (typeof element['infiniband-guid'] !== 'string' || !GUID.test(element['infiniband-guid'])) throw invalid(`${where}.infiniband-guid: expected an 8-byte GUID like "c2:11:22:33:44:55:66:77"`);
    out.infinibandGuid = element['infiniband-guid'];
  }
  return out;
}

function parseJsonElement(raw: unknown, index: number, podNamespace: string): NetworkSelection {
  const where = `[${index}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(`${where}: expected an object with at least "name"`);
  const element = raw as Record<string, unknown>;
  if (typeof element['name'] !== 'string' || element['name'] === '') throw invalid(`${where}.name: required, the NetworkAttachmentDefinition name`);
  const selection: NetworkSelection = { name: element['name'], namespace: podNamespace };
  checkDnsLabel(selection.name, 'network name', `${where}.name`);
  if (element['namespace'] !== undefined && element['namespace'] !== '') {
    if (typeof element['namespace'] !== 'string') throw invalid(`${where}.namespace: expected a string`);
    checkDnsLabel(element['namespace'], 'namespace', `${where}.namespace`);
    selection.namespace = element['namespace'];
    selection.explicitNamespace = true;
  }
  const requestedInterface = element['interface'] ?? element['interfaceRequest'];
  if (requestedInterface !== undefined && requestedInterface !== '') {
    if (typeof requestedInterface !== 'string') throw invalid(`${where}.interface: expected a string`);
    checkIfname(requestedInterface, `${where}.interface`);
    selection.interface = requestedInterface;
  }
  Object.assign(selection, parseAddressRequests(element, where));
  if (element['default-route'] !== undefined) {
    if (!Array.isArray(element['default-route'])) throw invalid(`${where}.default-route: expected an array of gateway IPs`);
    selection.defaultRoute = element['default-route'].map((gateway, gatewayIndex) => {
      const text = checkIpOrCidr(gateway, `${where}.default-route[${gatewayIndex}]`);
      if (text.includes('/')) throw invalid(`${where}.default-route[${gatewayIndex}]: expected a gateway IP without prefix length, got "${text}"`);
      return text;
    });
  }
  if (element['portMappings'] !== undefined) selection.portMappings = parsePortMappings(element['portMappings'], `${where}.portMappings`);
  if (element['bandwidth'] !== undefined) selection.bandwidth = parseBandwidth(element['bandwidth'], `${where}.bandwidth`);
  if (element['cni-args'] !== undefined && element['cni-args'] !== null) {
    if (typeof element['cni-args'] !== 'object' || Array.isArray(element['cni-args'])) throw invalid(`${where}.cni-args: expected an object`);
    selection.cniArgs = element['cni-args'] as Record<string, unknown>;
  }
  if (element['deviceID'] !== undefined && element['deviceID'] !== '') {
    if (typeof element['deviceID'] !== 'string') throw invalid(`${where}.deviceID: expected a string`);
    selection.deviceId = element['deviceID'];
  }
  return selection;
}

/** Both forms; JSON is detected by any of `[`, `{`, `"` (as the NPWG client does). */
export function parseNetworksAnnotation(text: string, podNamespace: string): NetworkSelection[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let selections: NetworkSelection[];
  if (/[[{"]/.test(trimmed)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw invalid(`invalid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(parsed)) throw invalid('the JSON form must be an array of network selection objects');
    selections = parsed.map((element, index) => parseJsonElement(element, index, podNamespace));
  } else {
    selections = trimmed.split(',').map((item) => item.trim()).filter((item) => item !== '').map((item) => parseShortItem(item, podNamespace));
  }
  const gateways = selections.filter((selection) => selection.defaultRoute && selection.defaultRoute.length > 0);
  const families = gateways.flatMap((selection) => selection.defaultRoute!.map((gw) => isIP(gw)));
  if (families.filter((family) => family === 4).length > 1 || families.filter((family) => family === 6).length > 1) {
    throw invalid('default-route: at most one IPv4 and one IPv6 gateway per pod (ECMP default routes are not supported)');
  }
  return selections;
}
