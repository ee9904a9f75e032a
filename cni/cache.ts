// The per-container cache `<cniDir>/<containerID>`: the plan, written atomically BEFORE any delegate
// runs, then updated with each attachment's result. DEL and CHECK replay it. A corrupt or truncated
// file (power loss, old format) is reported as such so DEL can fall back instead of failing (a DEL that fails forever leaks the pod's IPs and devices).
import { mkdir, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSyncAfter } from '../config/atomic-file.js';
import { parseAddressRequests } from './annotation.js';
import { type Plan, withLegacyRequestArgs } from './plan.js';
import { toConfList } from './delegate-conf.js';
import { containerIdProblem, ifnameProblem } from './request.js';

export interface CacheState {
  plan: Plan;
  /** Final raw result per attachment ifname, in that delegate's own cniVersion. */
  results: Record<string, unknown>;
}

export type CacheRead =
  | { kind: 'found'; state: CacheState }
  | { kind: 'multus'; delegates: unknown[] }
  | { kind: 'missing' }
  | { kind: 'corrupt'; reason: string };

export function cachePath(cniDir: string, containerId: string): string {
  const problem = containerIdProblem(containerId);
  if (problem) throw new Error(`container ID ${problem}`);
  return join(cniDir, containerId);
}

/** Disk flushes of cache files still running (writeCache with `flushLater`). */
const pendingSyncs = new Set<Promise<void>>();

/**
 * Writes the cache atomically. Without `flushLater` (the plan, before any delegate runs) it resolves once
 * the file is on disk. With it (the results, after the delegates) it resolves once the file is in place
 * and flushes it in the background, reporting a failure to `flushLater.onError`: a crash of the process
 * still finds the file whole, and a power loss before the flush finds the plan written before, which is
 * all a DEL needs (the results only feed CHECK and prevResult). That takes one disk flush out of every
 * ADD's answer time.
 */
export async function writeCache(cniDir: string, state: CacheState, flushLater?: { onError: (error: Error) => void }): Promise<void> {
  await mkdir(cniDir, { recursive: true, mode: 0o700 });
  const path = cachePath(cniDir, state.plan.containerId);
  if (!flushLater) {
    await writeFileAtomic(path, JSON.stringify(state), { mode: 0o600 });
    return;
  }
  const { synced } = await writeFileAtomicSyncAfter(path, JSON.stringify(state), { mode: 0o600 });
  const tracked: Promise<void> = synced
    .catch((error: Error) => flushLater.onError(new Error(`flushing the cache file ${path} to disk failed: ${error.message}`, { cause: error })))
    .finally(() => pendingSyncs.delete(tracked));
  pendingSyncs.add(tracked);
}

/** Resolves when every background flush of writeCache has finished (the agent waits for it on exit). */
export async function flushCacheWrites(): Promise<void> {
  while (pendingSyncs.size > 0) await Promise.all([...pendingSyncs]);
}

function isCacheState(value: unknown): value is CacheState {
  if (typeof value !== 'object' || value === null) return false;
  const plan = (value as { plan?: unknown }).plan as Partial<Plan> | undefined;
  return !!plan && plan.kind === 'nicplexPlanV1' && Array.isArray(plan.attachments) && typeof (value as { results?: unknown }).results === 'object';
}

/**
 * Multus's own cache (`saveDelegates`: a JSON array of DelegateNetConf with the config in base64 `Bytes`),
 * so DEL still works for pods a Multus install added before nicplex replaced it on the same cniDir.
 * The first delegate is the master (CNI_IFNAME); the others keep `ifnameRequest` or get net<index>. Their
 * `macRequest`/`ipRequest`/`infinibandGUIDRequest` go back into runtimeConfig (as Multus's DEL does) and
 * into CNI_ARGS MAC=/IP= (as nicplex's own ADD passed them).
 */
export function planFromMultusCache(value: unknown, request: { containerId: string; netns: string; ifname: string; cniArgs: string; requestCniVersion: string }): Plan | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const attachments: Plan['attachments'] = [];
  for (const [index, entry] of value.entries()) {
    if (typeof entry !== 'object' || entry === null || typeof (entry as { Bytes?: unknown }).Bytes !== 'string') return undefined;
    const delegate = entry as { Bytes: string; Name?: string; ifnameRequest?: string; deviceID?: string; resourceName?: string; macRequest?: unknown; ipRequest?: unknown; infinibandGUIDRequest?: unknown };
    let conf;
    let requests;
    try {
      conf = toConfList(JSON.parse(Buffer.from(delegate.Bytes, 'base64').toString('utf8')), `Multus cache entry ${index}`);
      requests = parseAddressRequests({ mac: delegate.macRequest || undefined, ips: delegate.ipRequest ?? undefined, 'infiniband-guid': delegate.infinibandGUIDRequest || undefined }, `Multus cache entry ${index}`);
    } catch {
      return undefined;
    }
    const runtimeConfig: Record<string, unknown> = {};
    if (requests.ips) runtimeConfig['ips'] = requests.ips;
    if (requests.mac) runtimeConfig['mac'] = requests.mac;
    if (requests.infinibandGuid) runtimeConfig['infinibandGUID'] = requests.infinibandGuid;
    if (delegate.deviceID) runtimeConfig['deviceID'] = delegate.deviceID;
    const ifname = index === 0 ? request.ifname : delegate.ifnameRequest || `net${index}`;
    if (ifnameProblem(ifname)) return undefined;
    attachments.push({
      networkName: delegate.Name || conf.name,
      isDefault: index === 0,
      ifname,
      conf,
      runtimeConfig,
      cniArgs: withLegacyRequestArgs(request.cniArgs, requests),
      ...(delegate.deviceID ? { deviceId: delegate.deviceID } : {}),
      ...(delegate.resourceName ? { resourceName: delegate.resourceName } : {}),
    });
  }
  return { kind: 'nicplexPlanV1', containerId: request.containerId, netns: request.netns, ifname: request.ifname, requestCniVersion: request.requestCniVersion, attachments };
}

export async function readCache(cniDir: string, containerId: string): Promise<CacheRead> {
  let text: string;
  try {
    text = await readFile(cachePath(cniDir, containerId), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'corrupt', reason: (error as Error).message };
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed)) return { kind: 'multus', delegates: parsed };
    if (!isCacheState(parsed)) return { kind: 'corrupt', reason: 'not a nicplex cache (unknown format)' };
    return { kind: 'found', state: parsed };
  } catch (error) {
    return { kind: 'corrupt', reason: `invalid JSON (${(error as Error).message})` };
  }
}

export async function removeCache(cniDir: string, containerId: string): Promise<void> {
  await unlink(cachePath(cniDir, containerId)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/** Container IDs with a cache file (for GC). Temp files and foreign names are skipped. */
export async function listCachedContainers(cniDir: string): Promise<string[]> {
  try {
    const entries = await readdir(cniDir, { withFileTypes: true });
    return entries.filter((entry) => entry.isFile() && !entry.name.startsWith('.') && containerIdProblem(entry.name) === undefined).map((entry) => entry.name).sort();
  } catch {
    return [];
  }
}
