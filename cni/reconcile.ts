// Startup reconcile: what a crash, a reboot or a DEL that never came left behind, released. Three parts:
// a snapshot of nicplex's files and the host's links (effects, read-only), a plan that decides from the
// snapshot alone what to release (pure), and its execution (effects, through the same DEL code paths a
// runtime's DEL takes). The agent runs it before it serves; `nicplex reconcile` runs it once in thin mode;
// CNI GC uses the same plan with the runtime's valid attachments instead of "the netns still exists".
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parseTempFileName } from '../config/atomic-file.js';
import type { MultusNetConf } from '../config/multus-config.js';
import type { LinkInfo } from '../native/index.js';
import { readCache } from './cache.js';
import type { PluginExecutor } from './exec.js';
import type { Logger } from './log.js';
import { containerIdProblem, ifnameProblem, type PodRef } from './request.js';

// ---- snapshot -------------------------------------------------------------------------------------

export interface CacheEntry {
  containerId: string;
  /** found: a nicplex cache; other: Multus's format or unreadable (kept: neither records a usable netns). */
  kind: 'found' | 'other';
  netns: string;
  ifname: string;
  pod?: PodRef | undefined;
  /** Attachment ifnames of the plan (to match delegate state files). */
  ifnames: string[];
}

export interface DelegateStateFile {
  type: string;
  /** File name `<containerID>-<ifname>.json`. */
  name: string;
  path: string;
  /** host-device: the device's host name; sriov: the VF's original netdev name. */
  hostName?: string | undefined;
  /** sriov: the VF's PCI address. */
  deviceID?: string | undefined;
}

export interface AllocationFile {
  resourceDir: string;
  deviceId: string;
  path: string;
  /** The owning container ID; undefined when the file is empty or not a container ID. */
  owner: string | undefined;
  mtimeMs: number;
}

export interface TempFile { path: string; pid: number; pidAlive: boolean; mtimeMs: number }

export interface HostLink { name: string; alias: string | null; parentDevName: string | null }

export interface ReconcileSnapshot {
  nowMs: number;
  caches: CacheEntry[];
  /** Namespace path → whether it is still a network namespace. */
  netnsAlive: Record<string, boolean>;
  delegateStates: DelegateStateFile[];
  allocations: AllocationFile[];
  tempFiles: TempFile[];
  hostLinks: HostLink[];
}

export interface ReconcileDirs {
  cniDir: string;
  delegateStateDir: string;
  /** Built-in delegate types whose state directories to read (`<delegateStateDir>/<type>`). */
  delegateTypes: readonly string[];
  allocationDir?: string | undefined;
  /** Other directories nicplex writes atomically (device-info files): only their temp files are looked at. */
  otherDirs: readonly string[];
}

export function reconcileDirs(conf: MultusNetConf): ReconcileDirs {
  return {
    cniDir: conf.cniDir,
    delegateStateDir: conf.delegateStateDir,
    delegateTypes: conf.builtinDelegates,
    allocationDir: conf.standalone?.allocationDir,
    otherDirs: [conf.cniDeviceInfoDir],
  };
}

export interface SnapshotSources {
  isNetns(path: string): Promise<boolean>;
  /** Links of the host namespace (where devices return to). */
  hostLinks(): Promise<LinkInfo[]>;
  pidAlive?: (pid: number) => boolean;
  now?: () => number;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function entries(dir: string): Promise<Array<{ name: string; isFile: boolean; isDir: boolean }>> {
  try {
    return (await readdir(dir, { withFileTypes: true })).map((entry) => ({ name: entry.name, isFile: entry.isFile(), isDir: entry.isDirectory() }));
  } catch {
    return [];
  }
}

async function mtimeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const value: unknown = JSON.parse(await readFile(path, 'utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Reads nicplex's files and the host's links; changes nothing. */
export async function takeSnapshot(dirs: ReconcileDirs, sources: SnapshotSources): Promise<ReconcileSnapshot> {
  const alive = sources.pidAlive ?? pidAlive;
  const snapshot: ReconcileSnapshot = { nowMs: (sources.now ?? Date.now)(), caches: [], netnsAlive: {}, delegateStates: [], allocations: [], tempFiles: [], hostLinks: [] };
  const tempDirs = new Set<string>([dirs.cniDir, ...dirs.otherDirs]);
  for (const entry of await entries(dirs.cniDir)) {
    if (!entry.isFile || entry.name.startsWith('.') || containerIdProblem(entry.name) !== undefined) continue;
    const read = await readCache(dirs.cniDir, entry.name);
    if (read.kind === 'missing') continue;
    if (read.kind !== 'found') {
      snapshot.caches.push({ containerId: entry.name, kind: 'other', netns: '', ifname: '', ifnames: [] });
      continue;
    }
    const { plan } = read.state;
    snapshot.caches.push({ containerId: entry.name, kind: 'found', netns: plan.netns, ifname: plan.ifname, pod: plan.pod, ifnames: plan.attachments.map((attachment) => attachment.ifname) });
    if (plan.netns !== '' && snapshot.netnsAlive[plan.netns] === undefined) snapshot.netnsAlive[plan.netns] = await sources.isNetns(plan.netns);
  }
  for (const type of dirs.delegateTypes) {
    const dir = join(dirs.delegateStateDir, type);
    tempDirs.add(dir);
    for (const entry of await entries(dir)) {
      if (!entry.isFile || entry.name.startsWith('.') || !entry.name.endsWith('.json')) continue;
      const path = join(dir, entry.name);
      const state = await readJson(path);
      const origNetdev = state?.['origNetdev'] as { name?: unknown } | null | undefined;
      const hostName = typeof state?.['hostName'] === 'string' ? state['hostName'] : typeof origNetdev?.name === 'string' ? origNetdev.name : undefined;
      const deviceID = typeof state?.['deviceID'] === 'string' ? state['deviceID'] : undefined;
      snapshot.delegateStates.push({ type, name: entry.name, path, hostName: hostName || undefined, deviceID });
    }
  }
  if (dirs.allocationDir) {
    for (const resource of await entries(dirs.allocationDir)) {
      if (!resource.isDir) continue;
      const dir = join(dirs.allocationDir, resource.name);
      tempDirs.add(dir);
      for (const entry of await entries(dir)) {
        if (!entry.isFile || entry.name.startsWith('.')) continue;
        const path = join(dir, entry.name);
        const [text, mtimeMs] = await Promise.all([readFile(path, 'utf8').catch(() => undefined), mtimeOf(path)]);
        if (text === undefined || mtimeMs === undefined) continue; // released meanwhile
        snapshot.allocations.push({ resourceDir: resource.name, deviceId: entry.name, path, owner: text !== '' && containerIdProblem(text) === undefined ? text : undefined, mtimeMs });
      }
    }
  }
  for (const dir of tempDirs) {
    for (const entry of await entries(dir)) {
      const temp = entry.isFile ? parseTempFileName(entry.name) : undefined;
      if (!temp) continue;
      const path = join(dir, entry.name);
      const mtimeMs = await mtimeOf(path);
      if (mtimeMs !== undefined) snapshot.tempFiles.push({ path, pid: temp.pid, pidAlive: alive(temp.pid), mtimeMs });
    }
  }
  if (snapshot.delegateStates.length > 0) {
    snapshot.hostLinks = (await sources.hostLinks()).map((link) => ({ name: link.name, alias: link.alias, parentDevName: link.parentDevName }));
  }
  return snapshot;
}

// ---- plan -----------------------------------------------------------------------------------------

export type ReconcileAction =
  /** A cached attachment whose netns is gone: DEL it from the cache (IPAM, devices, files). */
  | { kind: 'staleAttachment'; containerId: string; netns: string; ifname: string; pod?: PodRef | undefined }
  /** A built-in delegate's state with no cache entry: that delegate's DEL restores the device from it. */
  | { kind: 'orphanDelegateState'; type: string; containerId: string; ifname: string; path: string; deviceID?: string | undefined }
  /** A standalone device claimed by a container that has no live cache entry. */
  | { kind: 'orphanAllocation'; path: string; resourceDir: string; deviceId: string; owner: string }
  /** A claim file that names no container (written by a version without atomic claims, then killed). */
  | { kind: 'malformedAllocation'; path: string; resourceDir: string; deviceId: string }
  /** A temp file of an atomic write whose writer died (or that is older than any write takes). */
  | { kind: 'staleTempFile'; path: string };

export type ReconcileKind = ReconcileAction['kind'] | 'displacedLink';
export const RECONCILE_KINDS: readonly ReconcileKind[] = ['staleAttachment', 'displacedLink', 'orphanDelegateState', 'orphanAllocation', 'malformedAllocation', 'staleTempFile'];

export interface ReconcilePlan {
  actions: ReconcileAction[];
  /** What was found, per kind (displacedLink: pod-ifname links in the host that the releases return). */
  found: Record<ReconcileKind, number>;
  /** Host links under a pod ifname that a release moves back to their own name. */
  displacedLinks: Array<{ name: string; hostName: string; containerId: string }>;
}

export interface ReconcilePolicy {
  /**
   * Which cached containers are still live. Startup reconcile: the cache's netns still exists; GC: the
   * container is in cni.dev/valid-attachments.
   */
  live(cache: CacheEntry, snapshot: ReconcileSnapshot): boolean;
  /** A temp file this old is stale even if a process with its pid runs (pids are reused, or another pid namespace wrote it). */
  tempMaxAgeMs: number;
  /** A malformed claim this old is reclaimed (younger ones may be an old version's claim being written). */
  claimGraceMs: number;
  /** An allocation with no cache entry this old is reclaimed (younger ones may be an ADD between claim and cache write). */
  orphanGraceMs: number;
  /** This process's pid: its own temp files are in use. */
  ownPid: number;
  /** Containers kept whether or not they have a cache entry (GC: the valid attachments). */
  keep?: ((containerId: string) => boolean) | undefined;
}

/** Bounds for the agent at start-up and for `nicplex reconcile`. */
export const DEFAULT_POLICY: Omit<ReconcilePolicy, 'live'> = {
  // An atomic write takes milliseconds; an hour-old temp file is garbage whoever wrote it.
  tempMaxAgeMs: 60 * 60_000,
  claimGraceMs: 30_000,
  // Longer than any ADD takes between its device claim and its cache write.
  orphanGraceMs: 120_000,
  ownPid: process.pid,
};

/** Startup reconcile: live = the netns still exists (an empty netns is never live: DEL runs without one). */
export function netnsLive(cache: CacheEntry, snapshot: ReconcileSnapshot): boolean {
  return cache.kind === 'other' || (cache.netns !== '' && snapshot.netnsAlive[cache.netns] === true);
}

/**
 * `<containerID>-<ifname>.json` split: container IDs and ifnames may both hold "-", so a split whose
 * ifname is a host link carrying the state's host name (the alias host-device sets) or the VF's PCI
 * address wins; else the last "-".
 */
export function splitStateName(state: DelegateStateFile, hostLinks: readonly HostLink[]): { containerId: string; ifname: string } | undefined {
  const stem = state.name.slice(0, -'.json'.length);
  const splits: Array<{ containerId: string; ifname: string }> = [];
  for (let at = stem.indexOf('-'); at > 0; at = stem.indexOf('-', at + 1)) {
    const split = { containerId: stem.slice(0, at), ifname: stem.slice(at + 1) };
    if (containerIdProblem(split.containerId) === undefined && ifnameProblem(split.ifname) === undefined) splits.push(split);
  }
  return splits.find((split) => displacedLinkOf(state, split.ifname, hostLinks) !== undefined) ?? splits.at(-1);
}

/** The host link that is this state's device under the pod ifname, if the kernel or a crash left it there. */
function displacedLinkOf(state: DelegateStateFile, ifname: string, hostLinks: readonly HostLink[]): HostLink | undefined {
  const link = hostLinks.find((candidate) => candidate.name === ifname);
  if (!link || link.name === state.hostName) return undefined;
  if (state.type === 'host-device' && state.hostName !== undefined && link.alias === state.hostName) return link;
  if (state.type === 'sriov' && state.deviceID !== undefined && link.parentDevName === state.deviceID) return link;
  return undefined;
}

export function planReconcile(snapshot: ReconcileSnapshot, policy: ReconcilePolicy): ReconcilePlan {
  const actions: ReconcileAction[] = [];
  const displacedLinks: ReconcilePlan['displacedLinks'] = [];
  const live = new Set<string>();
  const stale = new Map<string, CacheEntry>();
  for (const cache of snapshot.caches) {
    if (policy.live(cache, snapshot) || policy.keep?.(cache.containerId) === true) live.add(cache.containerId);
    else stale.set(cache.containerId, cache);
  }
  const isLive = (containerId: string) => live.has(containerId) || policy.keep?.(containerId) === true;
  for (const cache of stale.values()) actions.push({ kind: 'staleAttachment', containerId: cache.containerId, netns: cache.netns, ifname: cache.ifname, pod: cache.pod });
  const cachedStateNames = new Map<string, string>();
  for (const cache of snapshot.caches) for (const ifname of cache.ifnames) cachedStateNames.set(`${cache.containerId}-${ifname}.json`, cache.containerId);
  for (const state of snapshot.delegateStates) {
    const owner = cachedStateNames.get(state.name);
    const split = owner !== undefined ? { containerId: owner, ifname: state.name.slice(owner.length + 1, -'.json'.length) } : splitStateName(state, snapshot.hostLinks);
    if (!split || isLive(split.containerId)) continue;
    const displaced = displacedLinkOf(state, split.ifname, snapshot.hostLinks);
    if (displaced) displacedLinks.push({ name: displaced.name, hostName: state.hostName ?? '', containerId: split.containerId });
    // A stale cache's own DEL runs this delegate's DEL; a state no cache knows gets its own.
    if (owner === undefined || !stale.has(owner)) {
      actions.push({ kind: 'orphanDelegateState', type: state.type, containerId: split.containerId, ifname: split.ifname, path: state.path, deviceID: state.deviceID });
    }
  }
  for (const allocation of snapshot.allocations) {
    const age = snapshot.nowMs - allocation.mtimeMs;
    if (allocation.owner === undefined) {
      if (age >= policy.claimGraceMs) actions.push({ kind: 'malformedAllocation', path: allocation.path, resourceDir: allocation.resourceDir, deviceId: allocation.deviceId });
    } else if (!isLive(allocation.owner) && !stale.has(allocation.owner) && age >= policy.orphanGraceMs) {
      actions.push({ kind: 'orphanAllocation', path: allocation.path, resourceDir: allocation.resourceDir, deviceId: allocation.deviceId, owner: allocation.owner });
    }
  }
  for (const temp of snapshot.tempFiles) {
    const writerGone = temp.pid !== policy.ownPid && !temp.pidAlive;
    if (writerGone || snapshot.nowMs - temp.mtimeMs >= policy.tempMaxAgeMs) actions.push({ kind: 'staleTempFile', path: temp.path });
  }
  const found = Object.fromEntries(RECONCILE_KINDS.map((kind) => [kind, 0])) as Record<ReconcileKind, number>;
  for (const action of actions) found[action.kind]++;
  found.displacedLink = displacedLinks.length;
  return { actions, found, displacedLinks };
}

// ---- execute --------------------------------------------------------------------------------------

export interface ReconcileEffects {
  /** The DEL a runtime would send for this container, answered from its cache (cmdDel). */
  delCached(action: Extract<ReconcileAction, { kind: 'staleAttachment' }>): Promise<void>;
  /** Runs a built-in delegate (DEL with the saved state) through the same executor requests use. */
  executor: PluginExecutor;
  log: Logger;
}

export interface ReconcileOutcome {
  found: Record<ReconcileKind, number>;
  released: Record<ReconcileKind, number>;
  failures: string[];
}

/** Removes `path` if it still holds `owner` (an ADD may have re-claimed the device since the snapshot). */
async function unlinkIfOwner(path: string, owner: string | undefined): Promise<void> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  if (owner !== undefined ? text !== owner : text !== '' && containerIdProblem(text) === undefined) return;
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

function describe(action: ReconcileAction): string {
  switch (action.kind) {
    case 'staleAttachment': return `container ${action.containerId} (netns ${action.netns || 'none'} is gone)`;
    case 'orphanDelegateState': return `${action.type} state ${action.path} (container ${action.containerId}, ${action.ifname}) with no cache entry`;
    case 'orphanAllocation': return `standalone device ${action.resourceDir}/${action.deviceId} held by ${action.owner}, which has no cache entry`;
    case 'malformedAllocation': return `standalone device claim ${action.path} without an owner`;
    case 'staleTempFile': return `temp file ${action.path}`;
  }
}

/** Carries out the plan in order (caches first, so their DELs release their own delegate state and devices). */
export async function executeReconcile(plan: ReconcilePlan, effects: ReconcileEffects): Promise<ReconcileOutcome> {
  const released = Object.fromEntries(RECONCILE_KINDS.map((kind) => [kind, 0])) as Record<ReconcileKind, number>;
  const failures: string[] = [];
  const failedContainers = new Set<string>();
  for (const action of plan.actions) {
    try {
      switch (action.kind) {
        case 'staleAttachment':
          await effects.delCached(action);
          break;
        case 'orphanDelegateState':
          await effects.executor.run({
            type: action.type, command: 'DEL', containerId: action.containerId, netns: '', ifname: action.ifname, cniArgs: 'IgnoreUnknown=1',
            stdin: { cniVersion: '1.1.0', name: 'nicplex-reconcile', type: action.type, ...(action.deviceID ? { deviceID: action.deviceID } : {}) },
          });
          break;
        case 'orphanAllocation':
          await unlinkIfOwner(action.path, action.owner);
          break;
        case 'malformedAllocation':
          await unlinkIfOwner(action.path, undefined);
          break;
        case 'staleTempFile':
          await unlink(action.path).catch((error: NodeJS.ErrnoException) => {
            if (error.code !== 'ENOENT') throw error;
          });
          break;
      }
      released[action.kind]++;
      effects.log.verbose(`reconcile: released ${describe(action)}`);
    } catch (error) {
      failures.push(`${describe(action)}: ${(error as Error).message}`);
      if (action.kind === 'staleAttachment' || action.kind === 'orphanDelegateState') failedContainers.add(action.containerId);
    }
  }
  // Displaced links go back with the release of the attachment or state they belong to.
  released.displacedLink = plan.displacedLinks.filter((link) => !failedContainers.has(link.containerId)).length;
  for (const failure of failures) effects.log.warn(`reconcile: cannot release ${failure}`);
  return { found: plan.found, released, failures };
}

/** One line for the log: what was found and released, per kind. */
export function summarize(outcome: ReconcileOutcome): string {
  const parts = RECONCILE_KINDS.filter((kind) => outcome.found[kind] > 0).map((kind) => `${kind} ${outcome.released[kind]}/${outcome.found[kind]}`);
  return parts.length === 0 ? 'reconcile: nothing to release' : `reconcile: released (released/found) ${parts.join(', ')}${outcome.failures.length ? `; ${outcome.failures.length} failed` : ''}`;
}

// ---- one run --------------------------------------------------------------------------------------

export interface ReconcileRun {
  policy: ReconcilePolicy;
  /** Only these kinds are carried out (GC releases caches and allocations itself). */
  only?: readonly ReconcileKind[] | undefined;
  dryRun?: boolean | undefined;
  sources?: SnapshotSources | undefined;
}

/** The host as the agent sees it: its own namespace is where devices return to. */
export async function nativeSnapshotSources(): Promise<SnapshotSources> {
  const { isNetnsPath, nativeHostNetwork } = await import('../native/index.js');
  const host = nativeHostNetwork();
  return { isNetns: isNetnsPath, hostLinks: () => host.listLinks() };
}

/** Snapshot, plan, execute (unless dryRun) for one conf's directories; logs the summary. */
export async function reconcileOnce(conf: MultusNetConf, effects: ReconcileEffects, run: ReconcileRun): Promise<ReconcileOutcome & { plan: ReconcilePlan }> {
  const snapshot = await takeSnapshot(reconcileDirs(conf), run.sources ?? await nativeSnapshotSources());
  const planned = planReconcile(snapshot, run.policy);
  const plan = run.only ? { ...planned, actions: planned.actions.filter((action) => run.only!.includes(action.kind)) } : planned;
  if (run.only) {
    for (const kind of RECONCILE_KINDS) if (kind !== 'displacedLink' && !run.only.includes(kind)) plan.found[kind] = 0;
  }
  if (run.dryRun) {
    for (const action of plan.actions) effects.log.verbose(`reconcile (dry run): would release ${describe(action)}`);
    return { found: plan.found, released: Object.fromEntries(RECONCILE_KINDS.map((kind) => [kind, 0])) as Record<ReconcileKind, number>, failures: [], plan };
  }
  const outcome = await executeReconcile(plan, effects);
  return { ...outcome, plan };
}
