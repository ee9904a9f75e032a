// rtnetlink facade: links, SR-IOV VFs, addresses, routes and link events, in any network namespace.
// Every call runs on a dedicated native thread (never the event loop or the libuv pool), which enters
// `where.netns` first when given and exits afterwards — setns moves only the calling thread, so it never runs on Node's main thread or a libuv pool thread.
import { isIP } from 'node:net';
import { nativeBinding, type RawMonitor, type RawLinkInfo, type RawLinkRef, type RawOp, type RawRoute, type RawAddress, type RawVfInfo } from './addon.js';
import { NativeError, invalidInput } from './errors.js';
import type {
  AddressInfo, IpvlanFlag, IpvlanMode, LinkEvent, LinkInfo, MacvlanMode, RouteInfo, RouteSpec, VfConfig, VfInfo, VlanProtocol, Where,
} from './netlink-types.js';

const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;
const operStateNames = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];
const vfLinkStates = ['auto', 'enable', 'disable'] as const;
const ETH_P_8021Q = 0x8100;
const ETH_P_8021AD = 0x88a8;

// ---------- input checks (each names the input and how to fix it) ----------

/** Kernel dev_valid_name(): 1–15 bytes, not "." or "..", no '/', ':' or whitespace. */
export function checkIfname(operation: string, field: string, name: unknown, netns?: string): string {
  if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > 15 || name === '.' || name === '..' || /[/:\s]/.test(name)) {
    throw invalidInput(operation, `${field} ${JSON.stringify(name)} is not a valid interface name (1–15 bytes, no '/', ':' or whitespace)`, undefined, netns);
  }
  return name;
}

export function checkLinkRef(operation: string, field: string, link: unknown, netns?: string): RawLinkRef {
  if (typeof link === 'number') {
    if (!Number.isInteger(link) || link <= 0 || link > 0x7fffffff) throw invalidInput(operation, `${field} ${link} is not a valid ifindex (positive integer)`, undefined, netns);
    return link;
  }
  return checkIfname(operation, field, link, netns);
}

export function checkNetnsPath(operation: string, field: string, path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0')) {
    throw invalidInput(operation, `${field} ${JSON.stringify(path)} must be an absolute path to a network namespace file (e.g. /run/netns/x, /proc/<pid>/ns/net)`);
  }
  return path;
}

export function checkMac(operation: string, field: string, mac: unknown, link?: string): string {
  if (typeof mac !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) {
    throw invalidInput(operation, `${field} ${JSON.stringify(mac)} is not a MAC address (six hex pairs separated by ':')`, link);
  }
  return mac.toLowerCase();
}

export function checkUint(operation: string, field: string, value: unknown, min: number, max: number, link?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidInput(operation, `${field} ${JSON.stringify(value)} must be an integer from ${min} to ${max}`, link);
  }
  return value;
}

interface ParsedCidr { address: string; prefixLength: number; family: 4 | 6 }

export function parseCidr(operation: string, field: string, cidr: unknown, link?: string): ParsedCidr {
  const text = typeof cidr === 'string' ? cidr : '';
  const slash = text.lastIndexOf('/');
  const address = slash > 0 ? text.slice(0, slash) : '';
  const lengthText = slash > 0 ? text.slice(slash + 1) : '';
  const family = isIP(address);
  const max = family === 6 ? 128 : 32;
  const prefixLength = /^\d{1,3}$/.test(lengthText) ? Number(lengthText) : NaN;
  if (family === 0 || !(prefixLength >= 0 && prefixLength <= max)) {
    throw invalidInput(operation, `${field} ${JSON.stringify(cidr)} is not an address with prefix length (e.g. "10.1.0.5/24" or "fd00::5/64")`, link);
  }
  return { address, prefixLength, family: family as 4 | 6 };
}

function whereNetns(operation: string, where: Where | undefined): string | undefined {
  return where?.netns === undefined ? undefined : checkNetnsPath(operation, 'netns', where.netns);
}

// ---------- running batches ----------

/** Each batch gets its own native thread; a burst of calls queues here instead of spawning thousands. */
const maxConcurrentBatches = 32;
let batchesRunning = 0;
const waitingForSlot: (() => void)[] = [];

async function withThreadSlot<T>(work: () => Promise<T>): Promise<T> {
  if (batchesRunning >= maxConcurrentBatches) await new Promise<void>((resolve) => waitingForSlot.push(resolve));
  else batchesRunning++;
  try {
    return await work();
  } finally {
    const next = waitingForSlot.shift();
    if (next) next(); // hand the slot over without releasing it
    else batchesRunning--;
  }
}

export interface BatchContext {
  operation: string;
  link?: string;
  netns?: string;
}

/**
 * Runs raw steps on one fresh native thread inside `netns` (undefined = the agent's own namespace),
 * in order, stopping at the first failure. Resolves with one result per step.
 */
export async function runSteps(ops: RawOp[], netns: string | undefined, context: BatchContext): Promise<unknown[]> {
  const outcome = await withThreadSlot(() => nativeBinding().runBatch(ops, netns));
  if (outcome.ok) return outcome.results;
  const failure = outcome.error;
  throw new NativeError({
    code: failure.code,
    operation: context.operation,
    ...(context.link !== undefined ? { link: context.link } : {}),
    ...(netns !== undefined ? { netns } : context.netns !== undefined ? { netns: context.netns } : {}),
    ...(failure.message ? { detail: failure.message } : {}),
  });
}

async function runOne(op: RawOp, netns: string | undefined, context: BatchContext): Promise<unknown> {
  const [result] = await runSteps([op], netns, context);
  return result;
}

// ---------- decoding ----------

function toVfInfo(raw: RawVfInfo): VfInfo {
  return {
    vf: raw.vf,
    mac: raw.mac,
    vlan: raw.vlan,
    qos: raw.qos,
    vlanProto: raw.vlanProtocol === ETH_P_8021AD ? '802.1ad' : '802.1Q',
    spoofchk: raw.spoofchk < 0 ? null : raw.spoofchk !== 0,
    trust: raw.trust < 0 ? null : raw.trust !== 0,
    linkState: vfLinkStates[raw.linkState] ?? 'auto',
    minTxRate: raw.minTxRate,
    maxTxRate: raw.maxTxRate,
  };
}

export function toLinkInfo(raw: RawLinkInfo): LinkInfo {
  return {
    index: raw.index,
    name: raw.name,
    flags: raw.flags,
    up: (raw.flags & IFF_UP) !== 0,
    operUp: raw.operState === 6 || (raw.operState === 0 && (raw.flags & IFF_LOWER_UP) !== 0),
    operState: operStateNames[raw.operState] ?? `operstate-${raw.operState}`,
    mtu: raw.mtu,
    mac: raw.mac,
    kind: raw.kind,
    ipvlanMode: raw.ipvlanMode === null || raw.ipvlanMode === undefined ? null : (ipvlanModeNames[raw.ipvlanMode] ?? null),
    alias: raw.alias,
    parentIndex: raw.parentIndex,
    masterIndex: raw.masterIndex,
    numVfs: raw.numVfs,
    vfs: raw.vfs.map(toVfInfo),
    parentDevName: raw.parentDevName,
  };
}

// ---------- links ----------

export async function listLinks(where?: Where): Promise<LinkInfo[]> {
  const netns = whereNetns('list links', where);
  const links = (await runOne({ op: 'listLinks' }, netns, { operation: 'list links' })) as RawLinkInfo[];
  return links.map(toLinkInfo);
}

/** One link by name or ifindex, with its VFs decoded. Throws ENODEV when absent. */
export async function getLink(nameOrIndex: string | number, where?: Where): Promise<LinkInfo> {
  const operation = 'get link';
  const netns = whereNetns(operation, where);
  const link = checkLinkRef(operation, 'link', nameOrIndex, netns);
  const raw = (await runOne({ op: 'getLink', link }, netns, { operation, link: String(nameOrIndex) })) as RawLinkInfo;
  return toLinkInfo(raw);
}

async function setLink(operation: string, name: string | number, changes: Omit<Extract<RawOp, { op: 'setLink' }>, 'op' | 'link'>, where?: Where): Promise<void> {
  const netns = whereNetns(operation, where);
  const link = checkLinkRef(operation, 'link', name, netns);
  await runOne({ op: 'setLink', link, ...changes }, netns, { operation, link: String(name) });
}

export async function setLinkUp(name: string | number, up: boolean, where?: Where): Promise<void> {
  await setLink(up ? 'set link up' : 'set link down', name, { up: up === true }, where);
}

export async function renameLink(name: string | number, newName: string, where?: Where): Promise<void> {
  const operation = 'rename link';
  await setLink(operation, name, { newName: checkIfname(operation, 'newName', newName) }, where);
}

export async function setLinkMac(name: string | number, mac: string, where?: Where): Promise<void> {
  const operation = 'set link MAC';
  await setLink(operation, name, { mac: checkMac(operation, 'mac', mac, String(name)) }, where);
}

export async function setLinkMtu(name: string | number, mtu: number, where?: Where): Promise<void> {
  const operation = 'set link MTU';
  await setLink(operation, name, { mtu: checkUint(operation, 'mtu', mtu, 68, 65535 * 4, String(name)) }, where);
}

export async function setLinkAlias(name: string | number, alias: string, where?: Where): Promise<void> {
  const operation = 'set link alias';
  if (typeof alias !== 'string' || Buffer.byteLength(alias) > 255 || alias.includes('\0')) {
    throw invalidInput(operation, `alias ${JSON.stringify(alias)} must be a string of at most 255 bytes`, String(name));
  }
  await setLink(operation, name, { alias }, where);
}

/** Enslaves `name` to bridge/bond `master`, or frees it when `master` is null. */
export async function setLinkMaster(name: string | number, master: string | number | null, where?: Where): Promise<void> {
  const operation = 'set link master';
  await setLink(operation, name, { master: master === null ? 0 : checkLinkRef(operation, 'master', master) }, where);
}

export async function deleteLink(name: string | number, where?: Where): Promise<void> {
  const operation = 'delete link';
  const netns = whereNetns(operation, where);
  const link = checkLinkRef(operation, 'link', name, netns);
  await runOne({ op: 'deleteLink', link }, netns, { operation, link: String(name) });
}

/**
 * Moves a link into `targetNetns` with one RTM_SETLINK carrying IFLA_NET_NS_FD (and IFLA_IFNAME when
 * renaming, which the kernel applies in the target, so a clash with a host name cannot happen).
 * The link arrives down; bring it up inside the target.
 */
export async function moveLinkToNetns(name: string | number, targetNetns: string | { fd: number }, opts: { newName?: string; netns?: string } = {}): Promise<void> {
  const operation = 'move link to netns';
  const netns = whereNetns(operation, opts);
  const link = checkLinkRef(operation, 'link', name, netns);
  // By path, or by an fd of a namespace file this process holds open (e.g. from a runtime handing one over).
  const target = typeof targetNetns === 'object' && targetNetns !== null
    ? { targetNetnsFd: checkUint(operation, 'targetNetns.fd', targetNetns.fd, 0, 0x7fffffff, String(name)) }
    : { targetNetns: checkNetnsPath(operation, 'targetNetns', targetNetns) };
  const newName = opts.newName === undefined ? undefined : checkIfname(operation, 'newName', opts.newName);
  await runOne({ op: 'setLink', link, ...target, ...(newName !== undefined ? { newName } : {}) }, netns, { operation, link: String(name) });
}

export async function createVeth(opts: { name: string; peerName: string; netns?: string; peerNetns?: string }): Promise<void> {
  const operation = 'create veth';
  const name = checkIfname(operation, 'name', opts.name);
  const peerName = checkIfname(operation, 'peerName', opts.peerName);
  const netns = opts.netns === undefined ? undefined : checkNetnsPath(operation, 'netns', opts.netns);
  const peerNetns = opts.peerNetns === undefined ? netns : checkNetnsPath(operation, 'peerNetns', opts.peerNetns);
  // Created from the agent's namespace with both ends placed by IFLA_NET_NS_FD: no thread enters a namespace.
  await runOne({
    op: 'newLink', kind: 'veth', name, peerName,
    ...(netns !== undefined ? { targetNetns: netns } : {}),
    ...(peerNetns !== undefined ? { peerNetns } : {}),
  }, undefined, { operation, link: name });
}

const macvlanModes: Record<MacvlanMode, number> = { private: 1, vepa: 2, bridge: 4, passthru: 8 };
const ipvlanModes: Record<IpvlanMode, number> = { l2: 0, l3: 1, l3s: 2 };
const ipvlanModeNames: Record<number, IpvlanMode> = { 0: 'l2', 1: 'l3', 2: 'l3s' };
const ipvlanFlags: Record<IpvlanFlag, number> = { bridge: 0, private: 1, vepa: 2 };

interface ChildLinkCommon { name: string; parent: string | number; targetNetns?: string; parentNetns?: string; mtu?: number }

function childLinkOp(operation: string, kind: 'macvlan' | 'ipvlan' | 'vlan', opts: ChildLinkCommon & { mac?: string }): { op: Extract<RawOp, { op: 'newLink' }>; netns: string | undefined } {
  const name = checkIfname(operation, 'name', opts.name);
  const netns = opts.parentNetns === undefined ? undefined : checkNetnsPath(operation, 'parentNetns', opts.parentNetns);
  const parent = checkLinkRef(operation, 'parent', opts.parent, netns);
  const op: Extract<RawOp, { op: 'newLink' }> = { op: 'newLink', kind, name, parent };
  if (opts.targetNetns !== undefined) op.targetNetns = checkNetnsPath(operation, 'targetNetns', opts.targetNetns);
  if (opts.mtu !== undefined) op.mtu = checkUint(operation, 'mtu', opts.mtu, 68, 65535 * 4, name);
  if (opts.mac !== undefined) op.mac = checkMac(operation, 'mac', opts.mac, name);
  return { op, netns };
}

/** A macvlan on `parent` (resolved in `parentNetns`), created directly in `targetNetns`. */
export async function createMacvlan(opts: ChildLinkCommon & { mode: MacvlanMode; mac?: string }): Promise<void> {
  const operation = 'create macvlan';
  const { op, netns } = childLinkOp(operation, 'macvlan', opts);
  const mode = macvlanModes[opts.mode];
  if (mode === undefined) throw invalidInput(operation, `mode ${JSON.stringify(opts.mode)} must be one of ${Object.keys(macvlanModes).join(', ')}`, op.name);
  op.macvlanMode = mode;
  await runOne(op, netns, { operation, link: op.name });
}

export async function createIpvlan(opts: ChildLinkCommon & { mode: IpvlanMode; flag?: IpvlanFlag }): Promise<void> {
  const { op, netns } = ipvlanOp(opts);
  await runOne(op, netns, { operation: 'create ipvlan', link: op.name });
}

/** The validated newLink step of createIpvlan, and the namespace the parent is resolved in. */
export function ipvlanOp(opts: ChildLinkCommon & { mode: IpvlanMode; flag?: IpvlanFlag }): { op: Extract<RawOp, { op: 'newLink' }>; netns: string | undefined } {
  const operation = 'create ipvlan';
  const { op, netns } = childLinkOp(operation, 'ipvlan', opts);
  const mode = ipvlanModes[opts.mode];
  const flag = ipvlanFlags[opts.flag ?? 'bridge'];
  if (mode === undefined) throw invalidInput(operation, `mode ${JSON.stringify(opts.mode)} must be one of ${Object.keys(ipvlanModes).join(', ')}`, op.name);
  if (flag === undefined) throw invalidInput(operation, `flag ${JSON.stringify(opts.flag)} must be one of ${Object.keys(ipvlanFlags).join(', ')}`, op.name);
  op.ipvlanMode = mode;
  op.ipvlanFlags = flag;
  return { op, netns };
}

export async function createVlan(opts: ChildLinkCommon & { vlanId: number; protocol?: VlanProtocol }): Promise<void> {
  const operation = 'create vlan';
  const { op, netns } = childLinkOp(operation, 'vlan', opts);
  op.vlanId = checkUint(operation, 'vlanId', opts.vlanId, 0, 4094, op.name);
  const protocol = opts.protocol ?? '802.1Q';
  if (protocol !== '802.1Q' && protocol !== '802.1ad') throw invalidInput(operation, `protocol ${JSON.stringify(protocol)} must be "802.1Q" or "802.1ad"`, op.name);
  op.vlanProtocol = protocol === '802.1ad' ? ETH_P_8021AD : ETH_P_8021Q;
  await runOne(op, netns, { operation, link: op.name });
}

export async function createBridge(opts: { name: string; netns?: string }): Promise<void> {
  const operation = 'create bridge';
  const name = checkIfname(operation, 'name', opts.name);
  const netns = opts.netns === undefined ? undefined : checkNetnsPath(operation, 'netns', opts.netns);
  await runOne({ op: 'newLink', kind: 'bridge', name }, netns, { operation, link: name });
}

export async function createDummy(opts: { name: string; netns?: string; mtu?: number }): Promise<void> {
  const operation = 'create dummy';
  const name = checkIfname(operation, 'name', opts.name);
  const netns = opts.netns === undefined ? undefined : checkNetnsPath(operation, 'netns', opts.netns);
  await runOne({ op: 'newLink', kind: 'dummy', name, ...(opts.mtu !== undefined ? { mtu: checkUint(operation, 'mtu', opts.mtu, 68, 65535 * 4, name) } : {}) }, netns, { operation, link: name });
}

// ---------- SR-IOV VFs ----------

/** Sets VF attributes through the PF in one RTM_SETLINK; only the given fields change. */
export async function setVf(pfName: string | number, vf: number, cfg: VfConfig, where?: Where): Promise<void> {
  const operation = 'set VF';
  const netns = whereNetns(operation, where);
  await runOne(setVfOp(pfName, vf, cfg, netns), netns, { operation, link: String(pfName) });
}

/** The validated setVf step: only the given fields are set. */
export function setVfOp(pfName: string | number, vf: number, cfg: VfConfig, netns?: string): Extract<RawOp, { op: 'setVf' }> {
  const operation = 'set VF';
  const link = checkLinkRef(operation, 'pf', pfName, netns);
  const pf = String(pfName);
  const op: Extract<RawOp, { op: 'setVf' }> = { op: 'setVf', link, vf: checkUint(operation, 'vf', vf, 0, 65535, pf) };
  if (cfg.mac !== undefined) op.mac = checkMac(operation, 'mac', cfg.mac, pf);
  if (cfg.vlan !== undefined || cfg.qos !== undefined || cfg.vlanProto !== undefined) {
    op.vlan = checkUint(operation, 'vlan', cfg.vlan ?? 0, 0, 4095, pf);
    op.qos = checkUint(operation, 'qos', cfg.qos ?? 0, 0, 7, pf);
    const proto = cfg.vlanProto ?? '802.1Q';
    if (proto !== '802.1Q' && proto !== '802.1ad') throw invalidInput(operation, `vlanProto ${JSON.stringify(proto)} must be "802.1Q" or "802.1ad"`, pf);
    op.vlanProtocol = proto === '802.1ad' ? ETH_P_8021AD : ETH_P_8021Q;
  }
  if (cfg.spoofchk !== undefined) op.spoofchk = cfg.spoofchk === true;
  if (cfg.trust !== undefined) op.trust = cfg.trust === true;
  if (cfg.linkState !== undefined) {
    const state = vfLinkStates.indexOf(cfg.linkState);
    if (state < 0) throw invalidInput(operation, `linkState ${JSON.stringify(cfg.linkState)} must be one of auto, enable, disable`, pf);
    op.linkState = state;
  }
  // IFLA_VF_RATE carries both rates; the addon keeps the current value of the one not given.
  if (cfg.minTxRate !== undefined) op.minTxRate = checkUint(operation, 'minTxRate', cfg.minTxRate, 0, 0xffffffff, pf);
  if (cfg.maxTxRate !== undefined) op.maxTxRate = checkUint(operation, 'maxTxRate', cfg.maxTxRate, 0, 0xffffffff, pf);
  return op;
}

// ---------- addresses ----------

export async function addAddress(link: string | number, cidr: string, where?: Where): Promise<void> {
  const operation = 'add address';
  const netns = whereNetns(operation, where);
  const ref = checkLinkRef(operation, 'link', link, netns);
  const { address, prefixLength } = parseCidr(operation, 'cidr', cidr, String(link));
  await runOne({ op: 'addAddress', link: ref, address, prefixLength }, netns, { operation, link: String(link) });
}

export async function deleteAddress(link: string | number, cidr: string, where?: Where): Promise<void> {
  const operation = 'delete address';
  const netns = whereNetns(operation, where);
  const ref = checkLinkRef(operation, 'link', link, netns);
  const { address, prefixLength } = parseCidr(operation, 'cidr', cidr, String(link));
  await runOne({ op: 'deleteAddress', link: ref, address, prefixLength }, netns, { operation, link: String(link) });
}

export async function listAddresses(link?: string | number, where?: Where): Promise<AddressInfo[]> {
  const operation = 'list addresses';
  const netns = whereNetns(operation, where);
  const ref = link === undefined ? undefined : checkLinkRef(operation, 'link', link, netns);
  const [rawLinks, rawAddresses] = (await runSteps([{ op: 'listLinks', withVfs: false }, { op: 'listAddresses' }], netns, { operation, ...(link !== undefined ? { link: String(link) } : {}) })) as [RawLinkInfo[], RawAddress[]];
  const names = new Map(rawLinks.map((l) => [l.index, l.name]));
  let wantedIndex: number | undefined;
  if (ref !== undefined) {
    wantedIndex = typeof ref === 'number' ? ref : rawLinks.find((l) => l.name === ref)?.index;
    if (wantedIndex === undefined || !names.has(wantedIndex)) {
      throw new NativeError({ code: 19 /* ENODEV */, operation, link: String(link), ...(netns !== undefined ? { netns } : {}), detail: 'no such link' });
    }
  }
  return rawAddresses
    .filter((a) => wantedIndex === undefined || a.index === wantedIndex)
    .map((a) => ({ link: names.get(a.index) ?? '', index: a.index, cidr: `${a.address}/${a.prefixLength}`, family: a.family, scope: a.scope }));
}

// ---------- routes ----------

export function routeOp(operation: string, kind: 'addRoute' | 'deleteRoute', spec: RouteSpec): Extract<RawOp, { op: 'addRoute' | 'deleteRoute' }> {
  const gwFamily = spec.gw === undefined ? 0 : isIP(spec.gw);
  if (spec.gw !== undefined && gwFamily === 0) throw invalidInput(operation, `gw ${JSON.stringify(spec.gw)} is not an IP address`);
  const dst = spec.dst === undefined ? undefined : parseCidr(operation, 'dst', spec.dst);
  const family = (dst?.family ?? (gwFamily || 4)) as 4 | 6;
  if (gwFamily !== 0 && gwFamily !== family) throw invalidInput(operation, `gw ${spec.gw} and dst ${spec.dst} are of different address families`);
  if (spec.gw === undefined && spec.dev === undefined) throw invalidInput(operation, 'a route needs gw, dev or both');
  const op: Extract<RawOp, { op: 'addRoute' | 'deleteRoute' }> = { op: kind, family, dstLength: dst?.prefixLength ?? 0 };
  if (dst) op.dst = dst.address;
  if (spec.gw !== undefined) op.gw = spec.gw;
  if (spec.dev !== undefined) op.dev = checkLinkRef(operation, 'dev', spec.dev);
  if (spec.table !== undefined) op.table = checkUint(operation, 'table', spec.table, 1, 0xffffffff);
  if (spec.priority !== undefined) op.priority = checkUint(operation, 'priority', spec.priority, 0, 0xffffffff);
  if (spec.scope !== undefined) op.scope = checkUint(operation, 'scope', spec.scope, 0, 255);
  if (spec.mtu !== undefined) op.mtu = checkUint(operation, 'mtu', spec.mtu, 68, 0xffffffff);
  if (spec.advmss !== undefined) op.advmss = checkUint(operation, 'advmss', spec.advmss, 1, 0xffffffff);
  return op;
}

export async function addRoute(spec: RouteSpec, where?: Where): Promise<void> {
  const operation = 'add route';
  const netns = whereNetns(operation, where);
  await runOne(routeOp(operation, 'addRoute', spec), netns, { operation, ...(spec.dev !== undefined ? { link: spec.dev } : {}) });
}

export async function deleteRoute(spec: RouteSpec, where?: Where): Promise<void> {
  const operation = 'delete route';
  const netns = whereNetns(operation, where);
  await runOne(routeOp(operation, 'deleteRoute', spec), netns, { operation, ...(spec.dev !== undefined ? { link: spec.dev } : {}) });
}

/** Routes of `table` (default: main, 254) and `family` (default: both). */
export async function listRoutes(filter: { table?: number; family?: 4 | 6 } = {}, where?: Where): Promise<RouteInfo[]> {
  const operation = 'list routes';
  const netns = whereNetns(operation, where);
  const table = filter.table ?? 254;
  const [rawLinks, rawRoutes] = (await runSteps([{ op: 'listLinks', withVfs: false }, { op: 'listRoutes', table, ...(filter.family ? { family: filter.family } : {}) }], netns, { operation })) as [RawLinkInfo[], RawRoute[]];
  const names = new Map(rawLinks.map((l) => [l.index, l.name]));
  return rawRoutes.map((r) => ({
    family: r.family,
    dst: r.dst === null ? (r.family === 6 ? '::/0' : '0.0.0.0/0') : `${r.dst}/${r.dstLength}`,
    gw: r.gw,
    dev: r.oif === null ? null : names.get(r.oif) ?? null,
    oif: r.oif,
    table: r.table,
    priority: r.priority,
    scope: r.scope,
    protocol: r.protocol,
    type: r.type,
    mtu: r.mtu,
    advmss: r.advmss,
  }));
}

// ---------- events ----------

export interface LinkMonitor {
  close(): void;
}

/**
 * Link events (RTMGRP_LINK) from `where.netns`, read on a dedicated native thread and delivered on the
 * event loop. After a kernel buffer overrun the monitor re-dumps all links as 'new' events, so a
 * consumer that keys state by name or index converges again. Keeps the process alive until closed.
 */
export function monitorLinks(onEvent: (event: LinkEvent) => void, where?: Where, onError?: (err: NativeError) => void): LinkMonitor {
  const operation = 'monitor links';
  const netns = whereNetns(operation, where);
  let monitor: RawMonitor;
  try {
    monitor = startMonitor(netns, operation, onEvent, onError);
  } catch (cause) {
    const code = typeof (cause as { code?: unknown }).code === 'number' ? (cause as { code: number }).code : 5 /* EIO */;
    throw new NativeError({ code, operation, ...(netns !== undefined ? { netns } : {}), detail: (cause as Error).message });
  }
  return { close: () => monitor.close() };
}

function startMonitor(netns: string | undefined, operation: string, onEvent: (event: LinkEvent) => void, onError?: (err: NativeError) => void): RawMonitor {
  return nativeBinding().monitorLinks(netns, (event) => {
    if (event.type === 'error') {
      const err = new NativeError({ code: event.code, operation, ...(netns !== undefined ? { netns } : {}), detail: event.message });
      if (onError) onError(err);
      else process.emitWarning(err.message);
      return;
    }
    onEvent({ type: event.type, link: toLinkInfo(event.link) });
  });
}
