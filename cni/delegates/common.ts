// What the three in-process delegates share: the request they get, errors that name the network, the
// key and the fix, IPAM by exec (same stdin and CNI_* as the reference plugins), the reference
// ConfigureIface as host-batch steps, per-attachment state files, and CHECK against a cached result.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../config/atomic-file.js';
import { isJsonObject, type JsonObject } from '../../config/cni-json.js';
import { AGENT_NETNS_PATH, HostBatch, type HostNetwork, type LinkInfo } from '../../native/index.js';
import { checkIfname } from '../../native/index.js';
import { DelegateConfigError } from '../../config/delegates/errors.js';
import { CniCode, CniError } from '../errors.js';
import type { PluginExecutor, PluginInvocation } from '../exec.js';
import type { Logger } from '../log.js';
import { compareVersions, formatResult, parseResult, SUPPORTED_VERSIONS, type CniResult } from '../version.js';

/** Long-lived parts every built-in delegate uses (built once by the agent, once per call in thin mode). */
export interface DelegateServices {
  host: HostNetwork;
  /** Root of sysfs (a fake tree in unit tests). */
  sysfsRoot: string;
  /** Per-attachment state files live under here, one directory per delegate type. */
  stateDir: string;
  log: Logger;
  /**
   * The namespace the delegates treat as the host (where devices come from and return to); undefined =
   * the agent's own. Tests point it at a private namespace.
   */
  hostNetns?: string | undefined;
  /** sriov-cni's cache directory (/var/lib/cni/sriov): DEL takes over VFs the Go binary attached. */
  sriovCniCacheDir?: string | undefined;
  /** Serializes work on one key (an attachment, a VF) within this process. */
  lock<T>(key: string, work: () => Promise<T>): Promise<T>;
}

export interface DelegateRequest {
  invocation: PluginInvocation;
  /** The plugin's stdin (whole conf incl. runtimeConfig, prevResult, injected deviceID). */
  conf: JsonObject;
  /** Runs IPAM plugins by exec, the way the reference plugins do. */
  exec: PluginExecutor;
  services: DelegateServices;
}

export interface BuiltinDelegate {
  readonly type: string;
  run(request: DelegateRequest): Promise<unknown>;
}

/** The host namespace as a move target. */
export function hostTarget(request: DelegateRequest): string {
  return request.services.hostNetns ?? AGENT_NETNS_PATH;
}

/**
 * A delegate from its command handlers. STATUS forwards to IPAM when `statusViaIpam`; GC and anything
 * else succeed without doing anything, as in the references.
 */
export function defineDelegate(type: string, handlers: {
  add(request: DelegateRequest): Promise<unknown>;
  del(request: DelegateRequest): Promise<void>;
  check(request: DelegateRequest): Promise<void>;
  statusViaIpam: boolean;
}): BuiltinDelegate {
  return {
    type,
    async run(request) {
      switch (request.invocation.command) {
        case 'ADD':
          return handlers.add(request);
        case 'DEL':
          return handlers.del(request);
        case 'CHECK':
          return handlers.check(request);
        case 'STATUS': {
          const ipam = ipamType(request);
          if (handlers.statusViaIpam && ipam) await ipamRun(request, ipam, 'STATUS');
          return undefined;
        }
        case 'VERSION':
          return versionAnswer(request);
        default:
          return undefined;
      }
    },
  };
}

/** The conf's `dns` in the result (host-device and ipvlan discard IPAM's). */
export function withConfDns(request: DelegateRequest, result: CniResult): CniResult {
  const dns = optionalObject(request.conf, 'dns');
  if (dns) result.dns = dns as CniResult['dns'] & object;
  else delete result.dns;
  return result;
}

// ---- errors ---------------------------------------------------------------------------------------

/** An error that names the network, the key and how to fix it, keeping the cause. */
export function confError(request: DelegateRequest, key: string, problem: string, fix: string, code: number = CniCode.invalidConfig, cause?: unknown): CniError {
  const name = typeof request.conf['name'] === 'string' ? request.conf['name'] : '';
  const error = new CniError(code, `${request.invocation.type} network "${name}": ${key ? `"${key}" ` : ''}${problem}${fix ? `; ${fix}` : ''}`, cause instanceof Error ? cause.message : undefined);
  if (cause !== undefined) Object.defineProperty(error, 'cause', { value: cause, enumerable: false });
  return error;
}

/** Runs a config parser; its DelegateConfigError becomes a CNI error naming the network. */
export function parseConf<T>(request: DelegateRequest, parse: (raw: JsonObject) => T): T {
  try {
    return parse(request.conf);
  } catch (error) {
    if (error instanceof DelegateConfigError) throw confError(request, error.key, error.problem, error.fix, error.kind === 'decode' ? CniCode.decodeFailure : CniCode.invalidConfig, error);
    throw error;
  }
}

/** A host/kernel step failed: name the network and what was being done. */
export function hostError(request: DelegateRequest, doing: string, cause: unknown, fix = ''): CniError {
  const name = typeof request.conf['name'] === 'string' ? request.conf['name'] : '';
  const error = new CniError(CniCode.internal, `${request.invocation.type} network "${name}" (${request.invocation.ifname}): ${doing}: ${(cause as Error).message ?? String(cause)}${fix ? `; ${fix}` : ''}`);
  Object.defineProperty(error, 'cause', { value: cause, enumerable: false });
  return error;
}

// ---- config reading -------------------------------------------------------------------------------

export function optionalObject(object: JsonObject, key: string): JsonObject | undefined {
  const value = object[key];
  return isJsonObject(value) ? value : undefined;
}

/** CNI_ARGS as key/value pairs; unknown keys fail unless IgnoreUnknown is set, as libcni's LoadArgs. */
export function cniArgs(request: DelegateRequest, known: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const text = request.invocation.cniArgs;
  if (!text) return out;
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    if (equals <= 0) throw confError(request, 'CNI_ARGS', `has an invalid pair "${pair}"`, 'use KEY=VALUE pairs separated by ";"', CniCode.invalidEnvironment);
    out.set(pair.slice(0, equals), pair.slice(equals + 1));
  }
  const ignore = /^(1|true)$/i.test(out.get('IgnoreUnknown') ?? '');
  const unknown = [...out.keys()].filter((key) => key !== 'IgnoreUnknown' && !known.includes(key) && !/^K8S_POD_/.test(key));
  if (unknown.length > 0 && !ignore) throw confError(request, 'CNI_ARGS', `has unknown args [${unknown.join(' ')}]`, 'add IgnoreUnknown=1 or drop them', CniCode.invalidEnvironment);
  return out;
}

export function cniVersionOf(request: DelegateRequest): string {
  const version = request.conf['cniVersion'];
  return typeof version === 'string' && version !== '' ? version : '1.1.0';
}

// ---- namespaces -----------------------------------------------------------------------------------

export type NetnsState = 'present' | 'empty' | 'gone';

/** Whether CNI_NETNS is usable: a namespace file, empty, or gone (missing, or not nsfs any more). */
export async function netnsState(request: DelegateRequest): Promise<NetnsState> {
  const path = request.invocation.netns;
  if (path === '') return 'empty';
  return (await request.services.host.isNetns(path)) ? 'present' : 'gone';
}

export async function requireNetns(request: DelegateRequest): Promise<string> {
  const path = request.invocation.netns;
  if (path === '' || !(await request.services.host.isNetns(path))) {
    throw confError(request, 'CNI_NETNS', `failed to open netns "${path}": not a network namespace`, 'the runtime must create the pod namespace before ADD', CniCode.invalidNetns);
  }
  return path;
}

export function checkedIfname(request: DelegateRequest): string {
  try {
    return checkIfname('CNI', 'CNI_IFNAME', request.invocation.ifname);
  } catch (cause) {
    throw confError(request, 'CNI_IFNAME', `"${request.invocation.ifname}" is not a valid interface name`, 'use 1-15 characters without "/", ":" or spaces', CniCode.invalidEnvironment, cause);
  }
}

// ---- IPAM by exec ---------------------------------------------------------------------------------

export function ipamType(request: DelegateRequest): string | undefined {
  const ipam = optionalObject(request.conf, 'ipam');
  const type = ipam?.['type'];
  return typeof type === 'string' && type !== '' ? type : undefined;
}

function ipamInvocation(request: DelegateRequest, type: string, command: string): PluginInvocation {
  return { ...request.invocation, type, command, stdin: request.conf };
}

/** IPAM ADD: the abbreviated result in the 1.x shape (the caller's version injected when absent). */
export async function ipamAdd(request: DelegateRequest, type: string): Promise<CniResult> {
  const raw = await request.exec.run(ipamInvocation(request, type, 'ADD'));
  return parseResult(raw, cniVersionOf(request));
}

export async function ipamRun(request: DelegateRequest, type: string, command: 'DEL' | 'CHECK' | 'STATUS' | 'GC'): Promise<void> {
  await request.exec.run(ipamInvocation(request, type, command));
}

/** IPAM DEL after a failed ADD; its own failure is logged, the ADD error is what the caller sees. */
export async function ipamRollback(request: DelegateRequest, type: string): Promise<void> {
  try {
    await ipamRun(request, type, 'DEL');
  } catch (error) {
    request.services.log.warn(`${request.invocation.type}: IPAM DEL during rollback failed: ${(error as Error).message}`);
  }
}

// ---- ConfigureIface -------------------------------------------------------------------------------

/**
 * The reference ConfigureIface as steps in `netns`: IPv6 enabled (and keep_addr_on_down) before the
 * first IPv6 address, every address of an `ips[]` entry pointing at `ifname`, link up, then each route
 * with the first gateway of its family when it names none. Every step undoes itself on a later failure.
 */
export function configureIface(request: DelegateRequest, batch: HostBatch, result: CniResult, ifname: string, netns: string): void {
  const interfaces = result.interfaces ?? [];
  if (interfaces.length === 0) throw confError(request, '', 'no interfaces to configure', '');
  const gateways: { 4?: string; 6?: string } = {};
  let ipv6Ready = false;
  for (const ip of result.ips ?? []) {
    if (ip.interface === undefined) continue;
    if (interfaces[ip.interface]?.name !== ifname) throw confError(request, 'ips', `failed to add IP addr ${ip.address} to "${ifname}": invalid interface index`, '');
    const family = ip.address.includes(':') ? 6 : 4;
    if (family === 6 && !ipv6Ready) {
      batch.writeSysctl('net/ipv6/conf/lo/disable_ipv6', '0', netns);
      batch.writeSysctl(`net/ipv6/conf/${ifname}/disable_ipv6`, '0', netns);
      batch.writeSysctl(`net/ipv6/conf/${ifname}/keep_addr_on_down`, '1', netns);
      ipv6Ready = true;
    }
    batch.addAddress(ifname, ip.address, netns);
    if (ip.gateway && gateways[family] === undefined) gateways[family] = ip.gateway;
  }
  batch.setUp(ifname, true, netns, false);
  for (const route of result.routes ?? []) {
    const family = route.dst.includes(':') ? 6 : 4;
    const gw = route.gw ?? gateways[family];
    batch.addRoute({
      dst: route.dst,
      ...(gw ? { gw } : {}),
      dev: ifname,
      ...(route.priority !== undefined ? { priority: route.priority } : {}),
      ...(route.table !== undefined ? { table: route.table } : {}),
      ...(route.scope !== undefined ? { scope: route.scope } : {}),
    }, netns);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs ConfigureIface (plus `extra` steps first, e.g. sysctls) and, when the result has an IPv6 gateway,
 * waits for duplicate address detection as the reference does: every 50 ms for up to 5 s until each
 * IPv6 address of the link has its local route (the kernel adds it once the address is no longer tentative).
 */
export async function applyIpConfig(request: DelegateRequest, result: CniResult, ifname: string, netns: string, doing: string, batch = new HostBatch()): Promise<void> {
  configureIface(request, batch, result, ifname, netns);
  const host = request.services.host;
  await host.run(batch).catch((error: unknown) => { throw hostError(request, doing, error); });
  if (!(result.ips ?? []).some((ip) => ip.address.includes(':') && ip.gateway)) return;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const link = await host.getLink(ifname, netns);
    if (!link) return;
    const ipv6 = (await host.listAddresses(netns)).filter((address) => address.index === link.index && address.family === 6).map((address) => address.cidr.split('/')[0]);
    const local = new Set((await host.listRoutes({ table: 255, family: 6 }, netns)).map((route) => route.dst.split('/')[0]));
    if (ipv6.every((address) => local.has(address))) return;
    await sleep(50);
  }
  request.services.log.warn(`${request.invocation.type}: IPv6 addresses of ${ifname} still tentative after 5 s`);
}

/** Every `ips[]` entry points at interface 0 (the one interface a main plugin reports). */
export function pointIpsAt(result: CniResult, index = 0): void {
  for (const ip of result.ips ?? []) ip.interface = index;
}

export function formatFor(request: DelegateRequest, result: CniResult): Record<string, unknown> {
  const version = cniVersionOf(request);
  return formatResult({ ...result, cniVersion: version }, version);
}

export function versionAnswer(request: DelegateRequest): Record<string, unknown> {
  return { cniVersion: cniVersionOf(request), supportedVersions: [...SUPPORTED_VERSIONS] };
}

// ---- state files ----------------------------------------------------------------------------------

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** JSON state per (container, ifname), written atomically, under `<stateDir>/<type>/`. */
export class AttachmentState<T> {
  readonly path: string;

  constructor(request: DelegateRequest) {
    const { containerId, ifname, type } = request.invocation;
    if (!CONTAINER_ID.test(containerId) || containerId.length > 256) {
      throw confError(request, 'CNI_CONTAINERID', `"${containerId}" is not a valid container ID`, 'use letters, digits, "_", "." and "-"', CniCode.invalidEnvironment);
    }
    checkedIfname(request);
    this.path = join(request.services.stateDir, type, `${containerId}-${ifname}.json`);
  }

  async read(): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      return undefined;
    }
  }

  async write(state: T): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(state)}\n`, { mode: 0o600, createDir: true });
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }
}

// ---- CHECK ----------------------------------------------------------------------------------------

function prevResultOf(request: DelegateRequest): CniResult | undefined {
  const prev = request.conf['prevResult'];
  return prev === undefined ? undefined : parseResult(prev, cniVersionOf(request));
}

export function requirePrevResult(request: DelegateRequest): CniResult {
  if (compareVersions(cniVersionOf(request), '0.4.0') < 0) throw confError(request, 'cniVersion', 'CHECK needs cniVersion 0.4.0 or later', '', CniCode.incompatibleVersion);
  const prev = prevResultOf(request);
  if (!prev) throw confError(request, 'prevResult', 'Required prevResult missing', 'CHECK needs the ADD result');
  return prev;
}

/** The chained prevResult, if any (ipvlan reuses its IPs and its single interface as master). */
export function chainedPrevResult(request: DelegateRequest): CniResult | undefined {
  try {
    return prevResultOf(request);
  } catch (cause) {
    throw confError(request, 'prevResult', `could not parse prevResult: ${(cause as Error).message}`, '', CniCode.decodeFailure, cause);
  }
}

/** The reference CHECK of a container interface: sandbox, link, MAC, addresses and routes. */
export async function checkContainerInterface(request: DelegateRequest, expected: CniResult, netns: string, extra?: (link: LinkInfo) => void): Promise<void> {
  const ifname = request.invocation.ifname;
  const index = (expected.interfaces ?? []).findIndex((iface) => iface.name === ifname && iface.sandbox === netns);
  const iface = index >= 0 ? expected.interfaces![index]! : (expected.interfaces ?? []).find((entry) => entry.name === ifname);
  if (!iface) throw confError(request, 'prevResult', `has no interface "${ifname}"`, 'run ADD again');
  if (iface.sandbox !== netns) throw confError(request, 'prevResult', `Sandbox in prevResult ${iface.sandbox ?? ''} doesn't match configured netns: ${netns}`, '');
  const host = request.services.host;
  const link = await host.getLink(ifname, netns);
  if (!link) throw confError(request, '', `Container Interface name in prevResult: ${ifname} not found in netns`, 'delete and re-add the pod network', CniCode.internal);
  if (iface.mac && link.mac?.toLowerCase() !== iface.mac.toLowerCase()) {
    throw confError(request, '', `Interface ${ifname} Mac ${iface.mac} doesn't match container Mac: ${link.mac ?? ''}`, '', CniCode.internal);
  }
  extra?.(link);
  const addresses = (await host.listAddresses(netns)).filter((address) => address.index === link.index).map((address) => address.cidr);
  for (const ip of expected.ips ?? []) {
    if (ip.interface !== index && index >= 0 && ip.interface !== undefined) continue;
    if (!addresses.includes(ip.address)) throw confError(request, '', `Interface ${ifname} does not have the address ${ip.address}`, '', CniCode.internal);
  }
  const routes = [...(await host.listRoutes({ family: 4 }, netns)), ...(await host.listRoutes({ family: 6 }, netns))];
  for (const route of expected.routes ?? []) {
    const found = routes.some((actual) => actual.dst === route.dst && (!route.gw || actual.gw === route.gw));
    if (!found) throw confError(request, '', `route ${route.dst}${route.gw ? ` via ${route.gw}` : ''} not found in the container`, '', CniCode.internal);
  }
}
