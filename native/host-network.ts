// Multi-step host work across namespaces, for the in-process CNI delegates.
//
// A HostBatch is built from validated builders (never raw ops): every step names the namespace it runs
// in (undefined = the agent's own) and carries the steps that undo it. HostNetwork.run executes the whole
// batch on ONE dedicated native thread, which enters each step's namespace in turn (the netns rule: never
// the event loop or a libuv pool thread); if a step fails, the undo steps of the steps that succeeded
// run in reverse order, best effort, and the error lists any undo that failed too.
import { isIP } from 'node:net';
import { nativeBinding, type RawHostStep, type RawLinkInfo, type RawLinkRef, type RawOp } from './addon.js';
import { NativeError, invalidInput } from './errors.js';
import {
  checkIfname, checkLinkRef, checkMac, checkNetnsPath, checkUint, ipvlanOp, listAddresses, listLinks, listRoutes, parseCidr,
  routeOp, setVfOp, toLinkInfo,
} from './netlink.js';
import type { AddressInfo, IpvlanMode, LinkInfo, RouteInfo, RouteSpec, VfConfig } from './netlink-types.js';
import { isNetnsPath } from './netns.js';
import { readSysctl } from './sysctl.js';

/**
 * The agent's own namespace as a move target, from any thread: /proc/self is the thread-group leader
 * (the main thread), which never leaves the agent's namespace.
 */
export const AGENT_NETNS_PATH = '/proc/self/ns/net';

/** One step and a human label naming what it does (used in errors). */
export interface HostStep {
  label: string;
  step: RawHostStep;
}

type Netns = string | undefined;
type UndoOp = RawOp & { netns?: string };

function nsField(netns: Netns): { netns?: string } {
  return netns === undefined ? {} : { netns };
}

function checkNetns(operation: string, netns: Netns): Netns {
  return netns === undefined ? undefined : checkNetnsPath(operation, 'netns', netns);
}

/** The validated steps of one multi-namespace change. Builders throw EINVAL before anything runs. */
export class HostBatch {
  readonly steps: HostStep[] = [];

  private push(label: string, op: RawOp, netns: Netns, undo: UndoOp[], bestEffort = false): this {
    const step: RawHostStep = { ...op, ...nsField(netns), ...(undo.length > 0 ? { undo } : {}), ...(bestEffort ? { bestEffort } : {}) };
    this.steps.push({ label, step });
    return this;
  }

  /** Marks the last step best effort: its failure is recorded in its result and the batch goes on. */
  bestEffort(): this {
    const last = this.steps[this.steps.length - 1];
    if (last) last.step.bestEffort = true;
    return this;
  }

  getLink(link: string | number, netns?: Netns): this {
    const ns = checkNetns('get link', netns);
    return this.push(`get link ${link}`, { op: 'getLink', link: checkLinkRef('get link', 'link', link, ns) }, ns, []);
  }

  listLinks(netns?: Netns): this {
    return this.push('list links', { op: 'listLinks', withVfs: false }, checkNetns('list links', netns), []);
  }

  /** Sets the link up or down; undo restores `undoUp` when given. */
  setUp(link: string | number, up: boolean, netns?: Netns, undoUp?: boolean): this {
    const operation = up ? 'set link up' : 'set link down';
    const ns = checkNetns(operation, netns);
    const ref = checkLinkRef(operation, 'link', link, ns);
    const undo: UndoOp[] = undoUp === undefined ? [] : [{ op: 'setLink', link: ref, up: undoUp }];
    return this.push(`${operation} ${link}`, { op: 'setLink', link: ref, up }, ns, undo);
  }

  /** Renames the link; undo renames it back to `undoName` when given. */
  rename(link: string, newName: string, netns?: Netns, undoName?: string): this {
    const operation = 'rename link';
    const ns = checkNetns(operation, netns);
    const ref = checkIfname(operation, 'link', link, ns);
    const name = checkIfname(operation, 'newName', newName, ns);
    const undo: UndoOp[] = undoName === undefined ? [] : [{ op: 'setLink', link: name, newName: checkIfname(operation, 'undoName', undoName, ns) }];
    return this.push(`rename ${link} to ${newName}`, { op: 'setLink', link: ref, newName: name }, ns, undo);
  }

  setMac(link: string | number, mac: string, netns?: Netns, undoMac?: string): this {
    const operation = 'set link MAC';
    const ns = checkNetns(operation, netns);
    const ref = checkLinkRef(operation, 'link', link, ns);
    const undo: UndoOp[] = undoMac === undefined ? [] : [{ op: 'setLink', link: ref, mac: checkMac(operation, 'undoMac', undoMac, String(link)) }];
    return this.push(`set MAC of ${link} to ${mac}`, { op: 'setLink', link: ref, mac: checkMac(operation, 'mac', mac, String(link)) }, ns, undo);
  }

  setMtu(link: string | number, mtu: number, netns?: Netns, undoMtu?: number): this {
    const operation = 'set link MTU';
    const ns = checkNetns(operation, netns);
    const ref = checkLinkRef(operation, 'link', link, ns);
    const undo: UndoOp[] = undoMtu === undefined ? [] : [{ op: 'setLink', link: ref, mtu: checkUint(operation, 'undoMtu', undoMtu, 68, 65535 * 4, String(link)) }];
    return this.push(`set MTU of ${link} to ${mtu}`, { op: 'setLink', link: ref, mtu: checkUint(operation, 'mtu', mtu, 68, 65535 * 4, String(link)) }, ns, undo);
  }

  /** Sets IFLA_IFALIAS ("" clears it); undo restores `undoAlias` when given. */
  setAlias(link: string | number, alias: string, netns?: Netns, undoAlias?: string): this {
    const operation = 'set link alias';
    const ns = checkNetns(operation, netns);
    const ref = checkLinkRef(operation, 'link', link, ns);
    for (const value of [alias, undoAlias]) {
      if (value !== undefined && (typeof value !== 'string' || Buffer.byteLength(value) > 255 || value.includes('\0'))) {
        throw invalidInput(operation, `alias ${JSON.stringify(value)} must be a string of at most 255 bytes`, String(link));
      }
    }
    const undo: UndoOp[] = undoAlias === undefined ? [] : [{ op: 'setLink', link: ref, alias: undoAlias }];
    return this.push(`set alias of ${link}`, { op: 'setLink', link: ref, alias }, ns, undo);
  }

  /**
   * Moves `link` from `from` to `to` (a namespace path; AGENT_NETNS_PATH for the agent's), renamed to
   * `newName` in the same message. Undo moves it back from `to` to `from` under its old name (`link`
   * must then be a name).
   */
  move(link: string | number, from: Netns, to: string, opts: { newName?: string; undo?: boolean } = {}): this {
    const operation = 'move link to netns';
    const ns = checkNetns(operation, from);
    const ref = checkLinkRef(operation, 'link', link, ns);
    const target = checkNetnsPath(operation, 'targetNetns', to);
    const newName = opts.newName === undefined ? undefined : checkIfname(operation, 'newName', opts.newName);
    const undo: UndoOp[] = [];
    if (opts.undo) {
      if (typeof ref !== 'string') throw invalidInput(operation, 'a move with undo needs the link by name, to restore that name', String(link));
      undo.push({ op: 'setLink', link: newName ?? ref, targetNetns: from ?? AGENT_NETNS_PATH, newName: ref, netns: to === AGENT_NETNS_PATH ? '' : to });
    }
    const op: RawOp = { op: 'setLink', link: ref, targetNetns: target, ...(newName !== undefined ? { newName } : {}) };
    return this.push(`move ${link} to ${to}${newName ? ` as ${newName}` : ''}`, op, ns, undo);
  }

  /** An ipvlan on `parent` (resolved in `parentNetns`), created directly in `targetNetns`; undo deletes it. */
  createIpvlan(opts: { name: string; parent: string | number; mode: IpvlanMode; mtu?: number; parentNetns?: string; targetNetns: string }): this {
    const { op, netns } = ipvlanOp(opts);
    return this.push(`create ipvlan ${opts.name} on ${opts.parent}`, op, netns, [{ op: 'deleteLink', link: op.name, netns: opts.targetNetns }]);
  }

  deleteLink(link: string | number, netns?: Netns): this {
    const ns = checkNetns('delete link', netns);
    return this.push(`delete link ${link}`, { op: 'deleteLink', link: checkLinkRef('delete link', 'link', link, ns) }, ns, []);
  }

  /** VF attributes through the PF (only the given fields); undo sets `undoCfg` when given. */
  setVf(pf: string | number, vf: number, cfg: VfConfig, netns?: Netns, undoCfg?: VfConfig): this {
    const ns = checkNetns('set VF', netns);
    const undo: UndoOp[] = undoCfg === undefined || Object.keys(undoCfg).length === 0 ? [] : [setVfOp(pf, vf, undoCfg, ns)];
    return this.push(`set VF ${vf} of ${pf} (${Object.keys(cfg).join(', ')})`, setVfOp(pf, vf, cfg, ns), ns, undo);
  }

  /** Adds an address; undo deletes it. */
  addAddress(link: string | number, cidr: string, netns?: Netns): this {
    const operation = 'add address';
    const ns = checkNetns(operation, netns);
    const ref: RawLinkRef = checkLinkRef(operation, 'link', link, ns);
    const { address, prefixLength } = parseCidr(operation, 'cidr', cidr, String(link));
    return this.push(`add address ${cidr} to ${link}`, { op: 'addAddress', link: ref, address, prefixLength }, ns, [{ op: 'deleteAddress', link: ref, address, prefixLength }]);
  }

  /** Adds a route; undo deletes it. */
  addRoute(spec: RouteSpec, netns?: Netns): this {
    const ns = checkNetns('add route', netns);
    const op = routeOp('add route', 'addRoute', spec);
    return this.push(`add route ${spec.dst ?? 'default'}${spec.gw ? ` via ${spec.gw}` : ''}${spec.dev ? ` dev ${spec.dev}` : ''}`, op, ns, [{ ...op, op: 'deleteRoute' }]);
  }

  /**
   * Announces `addresses` on `link` as sriov-cni does after ADD: waits up to 200 ms for the link to be up
   * and running, then sends a gratuitous ARP per IPv4 address and an unsolicited neighbour advertisement
   * (Override flag, own MAC) per IPv6 address, from sockets opened in the step's namespace. Nothing is
   * sent for an all-zero or broadcast MAC. Its result is a short text ("sent N of M"); nothing to undo.
   */
  announce(link: string | number, addresses: string[], netns?: Netns): this {
    const operation = 'announce addresses';
    const ns = checkNetns(operation, netns);
    const ref = checkLinkRef(operation, 'link', link, ns);
    if (!Array.isArray(addresses) || addresses.length > 256) throw invalidInput(operation, 'addresses must be an array of at most 256 IP addresses', String(link));
    for (const address of addresses) {
      if (typeof address !== 'string' || isIP(address) === 0) throw invalidInput(operation, `${JSON.stringify(address)} is not an IP address (no prefix length)`, String(link));
    }
    return this.push(`announce ${addresses.join(', ')} on ${link}`, { op: 'announce', link: ref, addresses: [...addresses] }, ns, []);
  }

  writeSysctl(key: string, value: string, netns?: Netns, undoValue?: string): this {
    const ns = checkNetns('write sysctl', netns);
    if (!/^net\/[A-Za-z0-9_./-]+$/.test(key) || key.includes('..')) throw invalidInput('write sysctl', `key ${JSON.stringify(key)} must be under net/ without '..'`);
    const undo: UndoOp[] = undoValue === undefined ? [] : [{ op: 'writeSysctl', key, value: undoValue }];
    return this.push(`write ${key}=${value}`, { op: 'writeSysctl', key, value }, ns, undo);
  }
}

/** A batch that failed: the step, its cause, and the undo steps that failed while rolling back. */
export class HostBatchError extends NativeError {
  constructor(readonly stepIndex: number, readonly step: string, cause: { code: number; detail?: string; netns?: string }, readonly undoFailures: string[]) {
    super({
      code: cause.code,
      operation: step,
      ...(cause.netns ? { netns: cause.netns } : {}),
      detail: [cause.detail, undoFailures.length > 0 ? `rollback also failed: ${undoFailures.join('; ')}` : ''].filter(Boolean).join('; ') || '',
    });
    this.name = 'HostBatchError';
  }
}

/** A best-effort step's failure, in place of its result. */
export interface StepFailure { error: { code: number; message: string } }

export function isStepFailure(value: unknown): value is StepFailure {
  return typeof value === 'object' && value !== null && 'error' in value && typeof (value as StepFailure).error?.code === 'number';
}

/** The host as the in-process delegates see it; nativeHostNetwork() is the real one, tests use a fake. */
export interface HostNetwork {
  /** Runs the batch; resolves with one result per step (LinkInfo for getLink, LinkInfo[] for listLinks). */
  run(batch: HostBatch): Promise<unknown[]>;
  /** null when absent (ENODEV) or when the namespace is gone. */
  getLink(link: string | number, netns?: Netns): Promise<LinkInfo | null>;
  listLinks(netns?: Netns): Promise<LinkInfo[]>;
  listAddresses(netns?: Netns): Promise<AddressInfo[]>;
  listRoutes(filter: { table?: number; family?: 4 | 6 }, netns?: Netns): Promise<RouteInfo[]>;
  readSysctl(key: string, netns?: Netns): Promise<string>;
  isNetns(path: string): Promise<boolean>;
}

function decodeResult(op: RawOp, result: unknown): unknown {
  if (isStepFailure(result)) return result;
  if (op.op === 'getLink') return toLinkInfo(result as RawLinkInfo);
  if (op.op === 'listLinks') return (result as RawLinkInfo[]).map(toLinkInfo);
  return result;
}

const ENODEV = 19;
const ENOENT = 2;

class NativeHostNetwork implements HostNetwork {
  async run(batch: HostBatch): Promise<unknown[]> {
    if (batch.steps.length === 0) return [];
    const outcome = await nativeBinding().runHostBatch(batch.steps.map((s) => s.step));
    if (outcome.ok) return outcome.results.map((result, index) => decodeResult(batch.steps[index]!.step, result));
    const index = outcome.error.opIndex;
    const failed = batch.steps[index];
    const undoFailures = (outcome.undoErrors ?? []).map((e) => `undo of "${batch.steps[e.opIndex]?.label ?? e.opIndex}": ${e.message || `errno ${e.code}`}`);
    throw new HostBatchError(index, failed?.label ?? `step ${index}`, { code: outcome.error.code, detail: outcome.error.message, ...(failed?.step.netns ? { netns: failed.step.netns } : {}) }, undoFailures);
  }

  async getLink(link: string | number, netns?: Netns): Promise<LinkInfo | null> {
    try {
      const [info] = await this.run(new HostBatch().getLink(link, netns));
      return info as LinkInfo;
    } catch (error) {
      if (error instanceof NativeError && (error.code === ENODEV || error.code === ENOENT)) return null;
      throw error;
    }
  }

  listLinks(netns?: Netns): Promise<LinkInfo[]> {
    return listLinks(netns === undefined ? undefined : { netns });
  }

  listAddresses(netns?: Netns): Promise<AddressInfo[]> {
    return listAddresses(undefined, netns === undefined ? undefined : { netns });
  }

  listRoutes(filter: { table?: number; family?: 4 | 6 }, netns?: Netns): Promise<RouteInfo[]> {
    return listRoutes(filter, netns === undefined ? undefined : { netns });
  }

  readSysctl(key: string, netns?: Netns): Promise<string> {
    return readSysctl(key, netns === undefined ? undefined : { netns });
  }

  isNetns(path: string): Promise<boolean> {
    return isNetnsPath(path);
  }
}

let shared: HostNetwork | undefined;

/** The real host network (one instance per process; it holds no state of its own). */
export function nativeHostNetwork(): HostNetwork {
  shared ??= new NativeHostNetwork();
  return shared;
}
