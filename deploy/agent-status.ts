// What `GET /v1/status` on the agent socket answers (and `nicplex status` shows): pools with device
// counts, the attachments of every cached container with its network-status, kubelet registration, the
// CNI caches and the informers. assembleStatus is pure (tests feed it); gatherStatus does the reading.
import type { StandaloneConf } from '../config/multus-config.js';
import { listCachedContainers, readCache, type CacheRead } from '../cni/cache.js';
import { readDeviceInfo } from '../cni/commands.js';
import type { NetworkStatusEntry } from '../cni/cluster.js';
import type { Plan, PlannedAttachment } from '../cni/plan.js';
import { listStandaloneAllocations } from '../cni/standalone.js';
import { networkStatusEntries } from '../cni/status.js';
import { parseResult } from '../cni/version.js';
import type { RegistrationMode } from '../deviceplugin/server/pool-server.js';
import type { PoolSize } from './agent-metrics.js';

export const STATUS_PATH = '/v1/status';

export interface PoolStatus {
  resourceName: string;
  /** device-plugin: discovered and served to the kubelet; standalone: listed in a request's standalone.devicePools. */
  source: 'device-plugin' | 'standalone';
  total: number;
  /** null for standalone pools: nothing watches their devices. */
  healthy: number | null;
  allocated: number;
  /** Successful kubelet registrations of this pool's server (device-plugin pools only). */
  registrations?: number;
  /** Standalone pools: device → container holding it. */
  holders?: Record<string, string>;
}

export interface AttachmentStatus {
  containerId: string;
  /** namespace/name, or null when the runtime sent no pod. */
  pod: string | null;
  network: string;
  interface: string;
  /** The device the attachment took: the device plugin's/pool's ID, or a host-device's `device`. */
  device: string | null;
  resourceName: string | null;
  ips: string[];
}

export interface ContainerStatus {
  containerId: string;
  pod: string | null;
  netns: string;
  cniDir: string;
  /** The k8s.v1.cni.cncf.io/network-status entries ADD reported, rebuilt from the cached results. */
  networkStatus: NetworkStatusEntry[];
}

export interface AgentStatus {
  ready: boolean;
  notReadyReason: string | null;
  socket: string;
  requests: { inFlight: number; queued: number };
  kubelet: { registration: 'direct' | 'watcher' | 'none'; path: string | null; pools: number; registeredPools: number };
  pools: PoolStatus[];
  attachments: AttachmentStatus[];
  containers: ContainerStatus[];
  caches: Array<{ dir: string; containers: number; foreign: string[]; corrupt: Array<{ containerId: string; reason: string }> }>;
  informers: Array<{ name: string; synced: boolean; objects: number }>;
}

/** What the running agent knows; gatherStatus reads the rest (caches, allocation files). */
export interface StatusSources {
  socket: string;
  notReadyReason: string | undefined;
  requests: { inFlight: number; queued: number };
  devicePlugin?: { registration: RegistrationMode; pools: PoolSize[] } | undefined;
  informers: Array<{ name: string; synced: boolean; size: number }>;
  /** The cniDirs and standalone configs of the requests the agent served (and the defaults). */
  confs: Array<{ cniDir: string; standalone?: StandaloneConf | undefined }>;
}

export interface StatusInput extends Omit<StatusSources, 'confs'> {
  /** deviceInfo: the CNI device-info file's content per attachment ifname, as ADD put it into network-status. */
  caches: Array<{ dir: string; entries: Array<{ containerId: string; read: CacheRead; deviceInfo?: Record<string, unknown> }> }>;
  standalonePools: Array<{ resourceName: string; devices: readonly string[]; holders: Record<string, string> }>;
}

const podOf = (plan: Plan): string | null => (plan.pod && plan.pod.name ? `${plan.pod.namespace}/${plan.pod.name}` : null);

/** A host-device plugin's `device` (the netdev it moves) when no pool device was assigned. */
function deviceOf(attachment: PlannedAttachment): string | null {
  if (attachment.deviceId) return attachment.deviceId;
  for (const plugin of attachment.conf.plugins) {
    if (plugin['type'] === 'host-device' && typeof plugin['device'] === 'string') return plugin['device'];
  }
  return null;
}

function statusEntries(attachment: PlannedAttachment, raw: unknown, deviceInfo: unknown): NetworkStatusEntry[] {
  if (raw === undefined) return [{ name: attachment.networkName, interface: attachment.ifname }];
  try {
    return networkStatusEntries(attachment, parseResult(raw, attachment.conf.cniVersion), deviceInfo);
  } catch {
    return [{ name: attachment.networkName, interface: attachment.ifname }];
  }
}

export function assembleStatus(input: StatusInput): AgentStatus {
  const attachments: AttachmentStatus[] = [];
  const containers: ContainerStatus[] = [];
  const caches: AgentStatus['caches'] = [];
  for (const cache of input.caches) {
    const summary: AgentStatus['caches'][number] = { dir: cache.dir, containers: 0, foreign: [], corrupt: [] };
    caches.push(summary);
    for (const { containerId, read, deviceInfo } of cache.entries) {
      if (read.kind === 'missing') continue;
      if (read.kind === 'corrupt') { summary.corrupt.push({ containerId, reason: read.reason }); continue; }
      if (read.kind === 'multus') { summary.foreign.push(containerId); continue; }
      summary.containers++;
      const { plan, results } = read.state;
      const pod = podOf(plan);
      const networkStatus: NetworkStatusEntry[] = [];
      for (const attachment of plan.attachments) {
        const entries = statusEntries(attachment, results[attachment.ifname], deviceInfo?.[attachment.ifname]);
        networkStatus.push(...entries);
        attachments.push({
          containerId, pod, network: attachment.networkName, interface: attachment.ifname, device: deviceOf(attachment),
          resourceName: attachment.resourceName ?? null, ips: entries.flatMap((entry) => entry.ips ?? []),
        });
      }
      containers.push({ containerId, pod, netns: plan.netns, cniDir: cache.dir, networkStatus });
    }
  }
  // By pod, then container ID (a stable sort keeps each container's attachments in attachment order).
  const order = (a: { pod: string | null; containerId: string }, b: { pod: string | null; containerId: string }) =>
    (a.pod ?? '\uffff').localeCompare(b.pod ?? '\uffff') || a.containerId.localeCompare(b.containerId);
  attachments.sort(order);
  containers.sort(order);
  const pools: PoolStatus[] = (input.devicePlugin?.pools ?? []).map((pool) => ({
    resourceName: pool.resource, source: 'device-plugin', total: pool.total, healthy: pool.healthy, allocated: pool.allocated, registrations: pool.registrations,
  }));
  for (const pool of input.standalonePools) {
    if (pools.some((known) => known.resourceName === pool.resourceName)) continue;
    pools.push({ resourceName: pool.resourceName, source: 'standalone', total: pool.devices.length, healthy: null, allocated: Object.keys(pool.holders).length, holders: pool.holders });
  }
  pools.sort((a, b) => a.resourceName.localeCompare(b.resourceName));
  const registration = input.devicePlugin?.registration;
  const dpPools = input.devicePlugin?.pools ?? [];
  return {
    ready: input.notReadyReason === undefined,
    notReadyReason: input.notReadyReason ?? null,
    socket: input.socket,
    requests: input.requests,
    kubelet: {
      registration: registration?.kind ?? 'none',
      path: registration ? (registration.kind === 'direct' ? registration.devicePluginDir : registration.registryDir) : null,
      pools: dpPools.length,
      registeredPools: dpPools.filter((pool) => pool.registrations > 0).length,
    },
    pools,
    attachments,
    containers,
    caches,
    informers: input.informers.map((informer) => ({ name: informer.name, synced: informer.synced, objects: informer.size })),
  };
}

/** Reads every cache and standalone allocation the sources name, then assembles the status. */
export async function gatherStatus(sources: StatusSources): Promise<AgentStatus> {
  const cniDirs = [...new Set(sources.confs.map((conf) => conf.cniDir))];
  const caches: StatusInput['caches'] = [];
  for (const dir of cniDirs) {
    const entries: StatusInput['caches'][number]['entries'] = [];
    for (const containerId of await listCachedContainers(dir)) {
      const read = await readCache(dir, containerId);
      const deviceInfo: Record<string, unknown> = {};
      if (read.kind === 'found') {
        for (const attachment of read.state.plan.attachments) {
          const info = await readDeviceInfo(attachment);
          if (info !== undefined) deviceInfo[attachment.ifname] = info;
        }
      }
      entries.push({ containerId, read, deviceInfo });
    }
    caches.push({ dir, entries });
  }
  const standalonePools: StatusInput['standalonePools'] = [];
  const seen = new Set<string>();
  for (const { standalone } of sources.confs) {
    if (!standalone) continue;
    const allocations = listStandaloneAllocations(standalone);
    for (const [resourceName, devices] of Object.entries(standalone.devicePools)) {
      if (seen.has(resourceName)) continue;
      seen.add(resourceName);
      const holders: Record<string, string> = {};
      for (const allocation of allocations) if (allocation.resourceName === resourceName && devices.includes(allocation.deviceId)) holders[allocation.deviceId] = allocation.containerId;
      standalonePools.push({ resourceName, devices, holders });
    }
  }
  const { confs: _confs, ...rest } = sources;
  return assembleStatus({ ...rest, caches, standalonePools });
}
