// The CNI commands of the meta-plugin: gather context (pod, networks, devices), plan, cache, execute.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { MultusNetConf } from '../config/multus-config.js';
import { writeFileAtomic } from '../config/atomic-file.js';
import { dpDeviceInfoPath, readDeviceInfoFile, removeDeviceInfoFile } from '../config/devinfo.js';
import { DEFAULT_NETWORK_ANNOTATION, NETWORKS_ANNOTATION, type NetworkSelection, parseNetworksAnnotation, parseShortItem } from './annotation.js';
import { readCache, removeCache, writeCache, listCachedContainers, planFromMultusCache, type CacheState } from './cache.js';
import type { ClusterApi, NetworkStatusEntry, PodInfo } from './cluster.js';
import { type JsonObject, pluginStdin, toConfList } from './delegate-conf.js';
import { CniCode, CniError } from './errors.js';
import type { PluginExecutor } from './exec.js';
import { addAttachment, checkAttachment, delAttachment, type ExecContext } from './execute.js';
import type { Logger } from './log.js';
import { buildPlan, delegateCniArgs, planHotplugAttachment, undeliveredRequests, type Plan, type PlannedAttachment, type ResolvedNetwork, type SecondaryNetwork } from './plan.js';
import type { PodDevices } from './pod-devices.js';
import { cniArg, type CniRequest } from './request.js';
import { resolveNamedNetwork, resolveSelection } from './resolve.js';
import { allocateStandaloneDevices, listStandaloneAllocations, releaseStandaloneDevices } from './standalone.js';
import { addedInterfaceMessages, applyDefaultRouteRequests, networkStatusEntries } from './status.js';
import { compareVersions, emptyResult, formatResult, parseResult, type CniResult } from './version.js';

/** Everything a command needs besides the request; tests swap the executor, the API and the device source. */
export interface CommandDeps {
  conf: MultusNetConf;
  log: Logger;
  executor: PluginExecutor;
  /** Created on first use (Kubernetes mode imports client-node lazily). undefined: no cluster at all. */
  clusterApi: () => Promise<ClusterApi | undefined>;
  podDevices: (pod: PodInfo) => Promise<PodDevices>;
  /** The networks annotation a standalone runtime supplied (CNI args, args.cni, pod annotations capability). */
  standaloneNetworks?: string | undefined;
}

const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function podLabel(request: CniRequest): string {
  return request.pod ? `${request.pod.namespace}/${request.pod.name}` : `container ${request.containerId}`;
}

/** Multus's error prefix: `[ns/name/uid:network]`. */
function errorPrefix(request: CniRequest, networkName: string): string {
  return `[${request.pod?.namespace ?? ''}/${request.pod?.name ?? ''}/${request.pod?.uid ?? ''}:${networkName}]`;
}

async function waitForReadiness(conf: MultusNetConf, command: string, log: Logger): Promise<void> {
  const file = conf.readinessIndicatorFile;
  if (!file || existsSync(file)) return;
  if (command === 'DEL') {
    log.warn(`readiness indicator ${file} is missing; running DEL anyway`);
    return;
  }
  const deadline = Date.now() + conf.readinessTimeoutSeconds * 1000;
  while (Date.now() < deadline) {
    await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
    if (existsSync(file)) return;
  }
  throw new CniError(CniCode.tryAgainLater, `the cluster network is not ready: readiness indicator file ${file} did not appear within ${conf.readinessTimeoutSeconds} s`);
}

function netnsExists(path: string): boolean {
  return path !== '' && existsSync(path);
}

/** `<st_dev>:<st_ino>` of a netns path (nsfs inodes are unique while the namespace lives), or undefined. */
function netnsId(path: string): string | undefined {
  if (path === '') return undefined;
  try {
    const stats = statSync(path);
    return `${stats.dev}:${stats.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * The namespace DEL (and GC) works in: the request's; else, when the request names none that exists, the one ADD
 * attached to if it is provably still the same namespace (same inode). Otherwise DEL would skip the
 * interfaces in a namespace that still holds them and drop the cache: they would outlive their record.
 */
function netnsForDel(requestNetns: string, plan: Plan): string {
  if (netnsExists(requestNetns)) return requestNetns;
  if (plan.netnsId !== undefined && plan.netns !== '' && netnsId(plan.netns) === plan.netnsId) return plan.netns;
  return '';
}

// ---- context: networks and devices ---------------------------------------------------------------

interface Context {
  pod?: PodInfo | undefined;
  clusterNetworks: ResolvedNetwork[];
  secondary: SecondaryNetwork[];
}

async function clusterNetworksFor(conf: MultusNetConf, api: ClusterApi | undefined, pod: PodInfo | undefined): Promise<ResolvedNetwork[]> {
  const networks: ResolvedNetwork[] = [];
  const override = pod?.annotations[DEFAULT_NETWORK_ANNOTATION]?.trim();
  if (override) {
    const selection = parseShortItem(override, conf.multusNamespace);
    networks.push(await resolveNamedNetwork(`${selection.namespace}/${selection.name}`, conf.multusNamespace, conf, api, `default network (annotation ${DEFAULT_NETWORK_ANNOTATION})`));
  } else if (conf.clusterNetwork) {
    networks.push(await resolveNamedNetwork(conf.clusterNetwork, conf.multusNamespace, conf, api, 'clusterNetwork'));
  }
  if (conf.clusterNetwork) {
    if (!pod || !conf.systemNamespaces.includes(pod.namespace)) {
      for (const name of conf.defaultNetworks) networks.push(await resolveNamedNetwork(name, conf.multusNamespace, conf, api, 'defaultNetworks'));
    }
  } else {
    conf.delegates.forEach((delegate, index) => {
      if (index === 0 && override) return;
      const list = toConfList(delegate, `delegates[${index}]`);
      networks.push({ networkName: list.name, config: list, source: `delegates[${index}] of the nicplex config` });
    });
  }
  return networks;
}

async function gatherContext(request: CniRequest, deps: CommandDeps, api: ClusterApi | undefined, pod: PodInfo | undefined): Promise<Context> {
  const { conf } = deps;
  const clusterNetworks = await clusterNetworksFor(conf, api, pod);
  const secondary: SecondaryNetwork[] = [];
  if (pod && api) {
    const annotation = pod.annotations[NETWORKS_ANNOTATION];
    const selections: NetworkSelection[] = annotation ? parseNetworksAnnotation(annotation, pod.namespace) : [];
    for (const selection of selections) {
      const network = await resolveSelection(selection, pod.namespace, podLabel(request), conf, api, selection.explicitNamespace === true);
      secondary.push({ selection, network });
    }
  }
  return { pod, clusterNetworks, secondary };
}

function resourceDemand(context: Context): Map<string, number> {
  const demand = new Map<string, number>();
  for (const network of [...context.clusterNetworks, ...context.secondary.map((entry) => entry.network)]) {
    if (network.resourceName) demand.set(network.resourceName, (demand.get(network.resourceName) ?? 0) + 1);
  }
  return demand;
}

async function devicesFor(request: CniRequest, deps: CommandDeps, api: ClusterApi | undefined, context: Context): Promise<PodDevices> {
  const demand = resourceDemand(context);
  if (demand.size === 0) return new Map();
  if (api?.kind === 'standalone' && deps.conf.standalone) return allocateStandaloneDevices(deps.conf.standalone, request.containerId, demand);
  if (!context.pod) throw new CniError(CniCode.invalidEnvironment, 'networks with a k8s.v1.cni.cncf.io/resourceName need the pod (K8S_POD_NAME/K8S_POD_NAMESPACE in CNI_ARGS)');
  return deps.podDevices(context.pod);
}

function planFrom(request: CniRequest, deps: CommandDeps, context: Context, devices: PodDevices): Plan {
  return buildPlan({
    request,
    requestCniVersion: deps.conf.cniVersion,
    runtimeConfig: deps.conf.runtimeConfig as JsonObject,
    clusterNetworks: context.clusterNetworks,
    secondary: context.secondary,
    podDevices: devices,
    cniDeviceInfoDir: deps.conf.cniDeviceInfoDir,
  });
}

function planDevices(plan: Plan): Map<string, string[]> {
  const devices = new Map<string, string[]>();
  for (const attachment of plan.attachments) {
    if (!attachment.resourceName || !attachment.deviceId) continue;
    devices.set(attachment.resourceName, [...(devices.get(attachment.resourceName) ?? []), attachment.deviceId]);
  }
  return devices;
}

async function copyDeviceInfo(deps: CommandDeps, attachment: PlannedAttachment): Promise<void> {
  if (!attachment.deviceInfoFile || !attachment.resourceName || !attachment.deviceId) return;
  let text: string;
  try {
    text = readFileSync(dpDeviceInfoPath(deps.conf.deviceInfoDir, attachment.resourceName, attachment.deviceId), 'utf8');
  } catch {
    deps.log.verbose(`no device-info file from the device plugin for ${attachment.resourceName} ${attachment.deviceId}`);
    return;
  }
  await mkdir(dirname(attachment.deviceInfoFile), { recursive: true });
  await writeFileAtomic(attachment.deviceInfoFile, text, { mode: 0o444 });
}

/** The CNI device-info file ADD copied for this attachment (undefined when there is none or it is unreadable). */
export async function readDeviceInfo(attachment: PlannedAttachment): Promise<unknown> {
  if (!attachment.deviceInfoFile) return undefined;
  try {
    return await readDeviceInfoFile(attachment.deviceInfoFile);
  } catch {
    return undefined;
  }
}

// ---- ADD -----------------------------------------------------------------------------------------

export async function cmdAdd(request: CniRequest, deps: CommandDeps): Promise<Record<string, unknown>> {
  const { conf, log } = deps;
  await waitForReadiness(conf, 'ADD', log);
  if (!netnsExists(request.netns)) throw new CniError(CniCode.invalidNetns, `CNI_NETNS "${request.netns}": no such network namespace`);
  // A second ADD for an attached container (CNI forbids it without a DEL in between) would overwrite the
  // cache and, failing, roll back the first ADD's interfaces: its networks would leak, untracked.
  const existing = await readCache(conf.cniDir, request.containerId);
  if (existing.kind === 'found' || existing.kind === 'multus') {
    throw new CniError(CniCode.invalidEnvironment, `container ${request.containerId} is already attached (cache ${conf.cniDir}/${request.containerId}); a second ADD needs a DEL first`);
  }
  const api = await deps.clusterApi();
  let pod: PodInfo | undefined;
  if (request.pod && api) {
    const found = await api.getPod(request.pod.namespace, request.pod.name, { retryNotFound: true });
    if (!found) {
      // Multus: a pod deleted before its sandbox was networked gets an empty result, not an error.
      log.warn(`pod ${podLabel(request)} not found; returning an empty result`);
      return formatResult(emptyResult(conf.cniVersion), conf.cniVersion);
    }
    if (request.pod.uid && found.uid && request.pod.uid !== found.uid && found.annotations[MIRROR_POD_ANNOTATION] === undefined) {
      throw new CniError(CniCode.invalidConfig, `pod ${podLabel(request)}: expected UID "${request.pod.uid}" (K8S_POD_UID) but the API server has "${found.uid}": the pod was deleted and recreated`);
    }
    pod = found;
  }
  const context = await gatherContext(request, deps, api, pod);
  const devices = await devicesFor(request, deps, api, context);
  let plan: Plan;
  try {
    plan = planFrom(request, deps, context, devices);
  } catch (error) {
    if (api?.kind === 'standalone' && conf.standalone) await releaseStandaloneDevices(conf.standalone, request.containerId, devices);
    throw error;
  }
  for (const attachment of plan.attachments) {
    const dropped = undeliveredRequests(attachment);
    if (dropped.length > 0) log.warn(`network "${attachment.networkName}": the annotation sets ${dropped.map((key) => `"${key}"`).join(', ')}, but no plugin of it declares the capability, so no plugin receives it (Multus drops it too): add "capabilities" to the plugin that handles it`);
  }
  plan.netnsId = netnsId(request.netns);
  const state: CacheState = { plan, results: {} };
  await writeCache(conf.cniDir, state);
  const ctx: ExecContext = { executor: deps.executor, containerId: request.containerId, netns: request.netns };
  const outcomes = await addInOrder(deps, request, ctx, state, plan.attachments, (added) => rollback(deps, ctx, added, state));
  if (plan.attachments.some((attachment) => attachment.defaultRoute && attachment.defaultRoute.length > 0)) {
    applyDefaultRouteRequests(outcomes);
    // CHECK and DEL replay the cache: it must show the routes as they now are.
    for (const { attachment, result } of outcomes) state.results[attachment.ifname] = formatResult(result, attachment.conf.cniVersion);
    try {
      const { applyDefaultRoutesInNetns } = await import('./default-route.js');
      await applyDefaultRoutesInNetns(request.netns, plan.attachments);
    } catch (error) {
      await rollback(deps, ctx, plan.attachments, state);
      throw error;
    }
  }
  await writeCache(conf.cniDir, state, { onError: (error) => log.error(error.message) });
  if (pod && api) await reportStatus(deps, api, pod, outcomes);
  const cluster = outcomes[0]!;
  return formatResult(cluster.result, conf.cniVersion);
}

interface AddOutcome { attachment: PlannedAttachment; raw: unknown; result: CniResult }

/**
 * ADD of each attachment in order, its result recorded in `state`. When one fails, `undo` gets the ones
 * that ran (the failed one included: a plugin may have left half of its work) and the error names the network.
 */
async function addInOrder(deps: CommandDeps, request: CniRequest, ctx: ExecContext, state: CacheState, attachments: PlannedAttachment[], undo: (added: PlannedAttachment[]) => Promise<void>): Promise<AddOutcome[]> {
  const outcomes: AddOutcome[] = [];
  for (const [index, attachment] of attachments.entries()) {
    try {
      await copyDeviceInfo(deps, attachment);
      const raw = await addAttachment(ctx, attachment);
      const result = raw === undefined ? { cniVersion: attachment.conf.cniVersion } : parseResult(raw, attachment.conf.cniVersion);
      outcomes.push({ attachment, raw, result });
      state.results[attachment.ifname] = raw;
    } catch (error) {
      await undo(attachments.slice(0, index + 1));
      const cause = error instanceof CniError ? error : new CniError(CniCode.internal, (error as Error).message);
      throw new CniError(cause.code, `${errorPrefix(request, attachment.conf.name)}: error adding container to network "${attachment.networkName}": ${cause.message}`, cause.details);
    }
  }
  return outcomes;
}

/** DEL of what ADD ran, newest first; failures are logged (the ADD's own error is what the caller reports). */
/**
 * DELs `added` newest first; returns how many DELs failed of attachments whose ADD had succeeded (each
 * failure is logged; the DEL of the attachment whose ADD failed may well fail: it may have made nothing).
 */
async function undoAttachments(deps: CommandDeps, ctx: ExecContext, added: PlannedAttachment[], state: CacheState): Promise<number> {
  let failed = 0;
  for (const attachment of [...added].reverse()) {
    try {
      await delAttachment(ctx, attachment, state.results[attachment.ifname]);
    } catch (error) {
      if (attachment.ifname in state.results) failed++;
      deps.log.error(`rollback: DEL of network "${attachment.networkName}" (${attachment.ifname}) failed: ${(error as Error).message}`);
    }
    if (attachment.deviceInfoFile) await removeDeviceInfoFile(attachment.deviceInfoFile).catch(() => undefined);
  }
  return failed;
}

async function rollback(deps: CommandDeps, ctx: ExecContext, added: PlannedAttachment[], state: CacheState): Promise<void> {
  if (await undoAttachments(deps, ctx, added, state) > 0) {
    // Something may still be attached: keep the plan (and the device claims), so the DEL a runtime sends
    // after a failed ADD, GC or the startup reconcile finishes the job instead of nothing knowing of it.
    deps.log.warn(`rollback of container ${state.plan.containerId} was incomplete; its cache is kept for the DEL that follows a failed ADD`);
    return;
  }
  if (deps.conf.standalone) await releaseStandaloneDevices(deps.conf.standalone, state.plan.containerId, planDevices(state.plan));
  await removeCache(deps.conf.cniDir, state.plan.containerId).catch(() => undefined);
}

async function recordAddedInterfaces(api: ClusterApi, pod: PodInfo, outcomes: Array<{ attachment: PlannedAttachment; result: CniResult }>): Promise<void> {
  for (const { attachment, result } of outcomes) {
    for (const message of addedInterfaceMessages(attachment, result)) await api.recordEvent(pod, 'AddedInterface', message);
  }
}

async function reportStatus(deps: CommandDeps, api: ClusterApi, pod: PodInfo, outcomes: Array<{ attachment: PlannedAttachment; result: CniResult }>): Promise<void> {
  const status: NetworkStatusEntry[] = [];
  for (const { attachment, result } of outcomes) {
    status.push(...networkStatusEntries(attachment, result, await readDeviceInfo(attachment)));
  }
  await api.setNetworkStatus(pod, status);
  await recordAddedInterfaces(api, pod, outcomes);
}

// ---- DEL -----------------------------------------------------------------------------------------

/** Every standalone device this container holds, whether or not a (possibly lost) cache recorded it. */
async function releaseAllStandaloneDevicesOf(conf: MultusNetConf, containerId: string): Promise<void> {
  if (!conf.standalone) return;
  const held = new Map<string, string[]>();
  for (const allocation of listStandaloneAllocations(conf.standalone)) {
    if (allocation.containerId === containerId) held.set(allocation.resourceName, [...(held.get(allocation.resourceName) ?? []), allocation.deviceId]);
  }
  await releaseStandaloneDevices(conf.standalone, containerId, held);
}

async function rebuildPlanForDel(request: CniRequest, deps: CommandDeps, api: ClusterApi | undefined): Promise<Plan | undefined> {
  const { log } = deps;
  let pod: PodInfo | undefined;
  if (request.pod && api) {
    pod = (await api.getPod(request.pod.namespace, request.pod.name, { retryNotFound: false })) ?? undefined;
    if (pod && request.pod.uid && pod.uid && pod.uid !== request.pod.uid) {
      log.warn(`pod ${podLabel(request)}: UID ${pod.uid} differs from K8S_POD_UID ${request.pod.uid}; deleting only the cluster network`);
      pod = undefined;
    }
    if (!pod) log.verbose(`pod ${podLabel(request)} is gone; deleting only the cluster network`);
  }
  const context = pod ? await gatherContext(request, deps, api, pod) : { clusterNetworks: await clusterNetworksFor(deps.conf, api, undefined), secondary: [] };
  let devices: PodDevices = new Map();
  if (api?.kind !== 'standalone' && pod) {
    try {
      devices = await devicesFor(request, deps, api, context);
    } catch (error) {
      log.warn(`cannot learn the pod's devices for DEL (${(error as Error).message}); deleting without device IDs`);
    }
  }
  // Without devices, drop the resource link so planning does not fail; DEL of such delegates is best effort.
  const withoutMissing = (network: ResolvedNetwork): ResolvedNetwork => (network.resourceName && !devices.has(network.resourceName) ? { ...network, resourceName: undefined } : network);
  return planFrom(request, deps, {
    pod,
    clusterNetworks: context.clusterNetworks.map(withoutMissing),
    secondary: context.secondary.map((entry) => ({ selection: entry.selection, network: withoutMissing(entry.network) })),
  }, devices);
}

export async function cmdDel(request: CniRequest, deps: CommandDeps): Promise<void> {
  const { conf, log } = deps;
  await waitForReadiness(conf, 'DEL', log);
  const cached = await readCache(conf.cniDir, request.containerId);
  let state: CacheState | undefined;
  if (cached.kind === 'found') {
    state = cached.state;
    if (request.pod?.uid && state.plan.pod?.uid && request.pod.uid !== state.plan.pod.uid) {
      log.warn(`pod ${podLabel(request)}: K8S_POD_UID ${request.pod.uid} differs from the cached ${state.plan.pod.uid}; deleting what the cache recorded`);
    }
  } else if (cached.kind === 'multus') {
    const plan = planFromMultusCache(cached.delegates, {
      containerId: request.containerId, netns: request.netns, ifname: request.ifname, requestCniVersion: conf.cniVersion,
      cniArgs: delegateCniArgs(request),
    });
    if (plan) state = { plan, results: {} };
    else log.warn(`cache ${conf.cniDir}/${request.containerId} looks like Multus's but cannot be read; rebuilding the networks to delete`);
  }
  if (!state && cached.kind !== 'found') {
    if (cached.kind === 'corrupt') log.warn(`cache ${conf.cniDir}/${request.containerId} is unreadable (${cached.reason}); rebuilding the networks to delete`);
    try {
      const api = await deps.clusterApi();
      const plan = await rebuildPlanForDel(request, deps, api);
      if (plan) state = { plan, results: {} };
    } catch (error) {
      // Neither cache nor a usable pod: nothing we can identify to delete. DEL must not block teardown.
      log.warn(`DEL ${request.containerId}: cannot rebuild the networks (${(error as Error).message}); nothing to delete`);
    }
  }
  if (!state) {
    if (conf.standalone) await releaseAllStandaloneDevicesOf(conf, request.containerId);
    await removeCache(conf.cniDir, request.containerId).catch(() => undefined);
    return;
  }
  // A vanished namespace (reboot, runtime already removed it) must not stop IPAM and device release.
  const netns = netnsForDel(request.netns, state.plan);
  const ctx: ExecContext = { executor: deps.executor, containerId: request.containerId, netns };
  const failures = await delInReverse(request, ctx, state.plan.attachments, state.results);
  if (failures.length > 0 && conf.retryDeleteOnError) throw new CniError(CniCode.internal, failures.join('; '));
  if (conf.standalone) await releaseAllStandaloneDevicesOf(conf, request.containerId);
  await removeCache(conf.cniDir, request.containerId);
  if (failures.length > 0) throw new CniError(CniCode.internal, failures.join('; '));
}

/** DEL of each attachment, newest first, every one tried; returns the failures, each naming its network. */
async function delInReverse(request: CniRequest, ctx: ExecContext, attachments: PlannedAttachment[], results: CacheState['results']): Promise<string[]> {
  const failures: string[] = [];
  for (const attachment of [...attachments].reverse()) {
    try {
      await delAttachment(ctx, attachment, results[attachment.ifname]);
    } catch (error) {
      failures.push(`${errorPrefix(request, attachment.conf.name)}: error deleting container from network "${attachment.networkName}": ${(error as Error).message}`);
    }
    if (attachment.deviceInfoFile) await removeDeviceInfoFile(attachment.deviceInfoFile).catch(() => undefined);
  }
  return failures;
}

// ---- hot-plug: one network on a running pod (Multus's /delegate) -------------------------------------

/** What a hot-plug request adds or removes: one delegate config and the interface's requests. */
export interface HotplugNetwork {
  network: ResolvedNetwork;
  requests: Pick<NetworkSelection, 'ips' | 'mac' | 'cniArgs'>;
}

/** Multus answers /delegate with the result converted to CNI 1.0.0 (cni100), whatever the delegate's version. */
export const HOTPLUG_RESULT_VERSION = '1.0.0';

function hotplugAttachment(request: CniRequest, deps: CommandDeps, hotplug: HotplugNetwork): PlannedAttachment {
  const selection: NetworkSelection = { name: hotplug.network.networkName, namespace: request.pod?.namespace ?? '', interface: request.ifname, ...hotplug.requests };
  return planHotplugAttachment({ request, network: hotplug.network, selection, cniDeviceInfoDir: deps.conf.cniDeviceInfoDir });
}

/** In Kubernetes mode the pod must exist with the request's UID (Multus reads it too), for its events. */
async function hotplugPod(request: CniRequest, api: ClusterApi | undefined): Promise<PodInfo | undefined> {
  if (api?.kind !== 'kubernetes') return undefined;
  if (!request.pod) throw new CniError(CniCode.invalidEnvironment, 'CNI_ARGS: K8S_POD_NAMESPACE and K8S_POD_NAME are required in Kubernetes mode');
  const pod = await api.getPod(request.pod.namespace, request.pod.name, { retryNotFound: false });
  if (!pod) throw new CniError(CniCode.invalidConfig, `pod ${podLabel(request)} does not exist in the API server`);
  if (request.pod.uid && pod.uid && request.pod.uid !== pod.uid) {
    throw new CniError(CniCode.invalidConfig, `pod ${podLabel(request)}: K8S_POD_UID "${request.pod.uid}" is not the API server's "${pod.uid}": the pod was deleted and recreated`);
  }
  return pod;
}

/**
 * ADD of one network to a pod nicplex attached: planned like an annotation's network, recorded in the pod's
 * cache before its plugins run (so the pod's DEL, GC and reconcile release it like the others), rolled back
 * alone on failure. Serialized with the container's other requests by the caller (the agent's queue).
 */
export async function cmdHotplugAdd(request: CniRequest, deps: CommandDeps, hotplug: HotplugNetwork): Promise<Record<string, unknown>> {
  const { conf } = deps;
  if (!netnsExists(request.netns)) throw new CniError(CniCode.invalidNetns, `CNI_NETNS "${request.netns}": no such network namespace`);
  const cached = await readCache(conf.cniDir, request.containerId);
  if (cached.kind !== 'found') {
    const why = cached.kind === 'corrupt' ? `its cache is unreadable (${cached.reason})` : cached.kind === 'multus' ? 'its cache was written by Multus' : 'nicplex never attached it';
    throw new CniError(CniCode.unknownContainer, `container ${request.containerId}: ${why} (cniDir ${conf.cniDir}); a network can be added only to a pod nicplex attached, so that the pod's DEL removes it too`);
  }
  const state = cached.state;
  if (state.plan.netnsId !== undefined && netnsId(request.netns) !== state.plan.netnsId) {
    throw new CniError(CniCode.invalidNetns, `CNI_NETNS "${request.netns}" is not the network namespace container ${request.containerId} was attached in (${state.plan.netns})`);
  }
  const taken = state.plan.attachments.find((attachment) => attachment.ifname === request.ifname);
  if (taken) throw new CniError(CniCode.invalidConfig, `CNI_IFNAME "${request.ifname}": container ${request.containerId} already has it (network "${taken.networkName}"); choose another interface name, or DEL that network first`);
  const api = await deps.clusterApi();
  const pod = await hotplugPod(request, api);
  const attachment = hotplugAttachment(request, deps, hotplug);
  state.plan.attachments.push(attachment);
  await writeCache(conf.cniDir, state);
  const ctx: ExecContext = { executor: deps.executor, containerId: request.containerId, netns: request.netns };
  const [outcome] = await addInOrder(deps, request, ctx, state, [attachment], async (added) => {
    await undoAttachments(deps, ctx, added, state);
    state.plan.attachments = state.plan.attachments.filter((planned) => planned !== attachment);
    delete state.results[attachment.ifname];
    await writeCache(conf.cniDir, state);
  });
  await writeCache(conf.cniDir, state);
  // Multus records the AddedInterface event; the network-status annotation is the hot-plug controller's to write.
  if (pod && api) await recordAddedInterfaces(api, pod, [outcome!]);
  return formatResult(outcome!.result, HOTPLUG_RESULT_VERSION);
}

/**
 * DEL of one network of a running pod: the cached attachment when the pod's cache has the interface (what
 * ADD ran, then dropped from the cache), else the request's config as Multus does. Failures are returned,
 * and the cache keeps the attachment, so the caller can retry; the cluster network is never removed here.
 */
export async function cmdHotplugDel(request: CniRequest, deps: CommandDeps, hotplug: HotplugNetwork): Promise<void> {
  const { conf } = deps;
  const cached = await readCache(conf.cniDir, request.containerId);
  const state = cached.kind === 'found' ? cached.state : undefined;
  const attachment = state?.plan.attachments.find((planned) => planned.ifname === request.ifname);
  if (attachment?.isDefault) {
    throw new CniError(CniCode.invalidConfig, `CNI_IFNAME "${request.ifname}" is the cluster network of container ${request.containerId}: only secondary networks can be removed from a running pod`);
  }
  const netns = state ? netnsForDel(request.netns, state.plan) : netnsExists(request.netns) ? request.netns : '';
  const ctx: ExecContext = { executor: deps.executor, containerId: request.containerId, netns };
  const failures = await delInReverse(request, ctx, [attachment ?? hotplugAttachment(request, deps, hotplug)], state?.results ?? {});
  if (failures.length > 0) throw new CniError(CniCode.internal, failures.join('; '));
  if (state && attachment) {
    state.plan.attachments = state.plan.attachments.filter((planned) => planned !== attachment);
    delete state.results[attachment.ifname];
    await writeCache(conf.cniDir, state);
  }
}

// ---- CHECK ---------------------------------------------------------------------------------------

export async function cmdCheck(request: CniRequest, deps: CommandDeps): Promise<void> {
  if (compareVersions(deps.conf.cniVersion, '0.4.0') < 0) {
    throw new CniError(CniCode.incompatibleVersion, `CHECK needs cniVersion 0.4.0 or later; this config is ${deps.conf.cniVersion}`);
  }
  await waitForReadiness(deps.conf, 'CHECK', deps.log);
  if (!netnsExists(request.netns)) throw new CniError(CniCode.invalidNetns, `CNI_NETNS "${request.netns}": no such network namespace`);
  const cached = await readCache(deps.conf.cniDir, request.containerId);
  if (cached.kind !== 'found') {
    throw new CniError(CniCode.unknownContainer, `container ${request.containerId}: no usable cache in ${deps.conf.cniDir} (${cached.kind === 'corrupt' ? cached.reason : 'never added'})`);
  }
  const ctx: ExecContext = { executor: deps.executor, containerId: request.containerId, netns: request.netns };
  for (const attachment of cached.state.plan.attachments) {
    try {
      await checkAttachment(ctx, attachment, cached.state.results[attachment.ifname]);
    } catch (error) {
      const cause = error instanceof CniError ? error : new CniError(CniCode.internal, (error as Error).message);
      throw new CniError(cause.code, `${errorPrefix(request, attachment.conf.name)}: error checking network "${attachment.networkName}" (${attachment.ifname}): ${cause.message}`, cause.details);
    }
  }
}

// ---- STATUS and GC -------------------------------------------------------------------------------

export async function cmdStatus(deps: CommandDeps): Promise<void> {
  const file = deps.conf.readinessIndicatorFile;
  if (file && !existsSync(file)) throw new CniError(CniCode.notAvailable, `readiness indicator file ${file} does not exist yet: the cluster network is not ready`);
  const api = await deps.clusterApi();
  const [cluster] = await clusterNetworksFor(deps.conf, api, undefined);
  if (!cluster || compareVersions(cluster.config.cniVersion, '1.1.0') < 0) return;
  for (const plugin of cluster.config.plugins) {
    await deps.executor.run({ type: String(plugin['type']), command: 'STATUS', containerId: '', netns: '', ifname: '', cniArgs: '', stdin: pluginStdin(cluster.config, plugin, {}) });
  }
}

interface Attachment { containerID: string; ifname: string }

function validAttachmentsFrom(raw: JsonObject): Attachment[] {
  const value = raw['cni.dev/valid-attachments'] ?? raw['cni.dev/attachments'] ?? [];
  if (!Array.isArray(value)) throw new CniError(CniCode.invalidConfig, '"cni.dev/valid-attachments": expected an array of {containerID, ifname}');
  return value.map((entry, index) => {
    const object = entry as Record<string, unknown>;
    if (typeof object?.['containerID'] !== 'string') throw new CniError(CniCode.invalidConfig, `"cni.dev/valid-attachments"[${index}].containerID: expected a string`);
    return { containerID: object['containerID'], ifname: typeof object['ifname'] === 'string' ? object['ifname'] : '' };
  });
}

export async function cmdGc(deps: CommandDeps, stdin: JsonObject): Promise<void> {
  const { conf, log } = deps;
  await waitForReadiness(conf, 'GC', log);
  const valid = validAttachmentsFrom(stdin);
  const validContainers = new Set(valid.map((entry) => entry.containerID));
  const failures: string[] = [];
  const keptPlans: Plan[] = [];
  for (const containerId of await listCachedContainers(conf.cniDir)) {
    const cached = await readCache(conf.cniDir, containerId);
    if (validContainers.has(containerId)) {
      if (cached.kind === 'found') keptPlans.push(cached.state.plan);
      continue;
    }
    // A Multus cache does not record the runtime's ifname; runtimes use eth0 for the master.
    const multusPlan = cached.kind === 'multus'
      ? planFromMultusCache(cached.delegates, { containerId, netns: '', ifname: 'eth0', cniArgs: 'IgnoreUnknown=true', requestCniVersion: conf.cniVersion })
      : undefined;
    const stale: CacheState | undefined = cached.kind === 'found' ? cached.state : multusPlan ? { plan: multusPlan, results: {} } : undefined;
    if (stale) {
      // GC names no namespace; one the attachment's namespace provably still is gets its interfaces removed too.
      const ctx: ExecContext = { executor: deps.executor, containerId, netns: netnsForDel('', stale.plan) };
      for (const attachment of [...stale.plan.attachments].reverse()) {
        try {
          await delAttachment(ctx, attachment, stale.results[attachment.ifname]);
        } catch (error) {
          failures.push(`GC of ${containerId} network "${attachment.networkName}": ${(error as Error).message}`);
        }
        if (attachment.deviceInfoFile) await removeDeviceInfoFile(attachment.deviceInfoFile).catch(() => undefined);
      }
      if (conf.standalone) await releaseStandaloneDevices(conf.standalone, containerId, planDevices(stale.plan));
    } else {
      log.warn(`GC: dropping unreadable cache of ${containerId} (${cached.kind === 'corrupt' ? cached.reason : 'missing'})`);
    }
    await removeCache(conf.cniDir, containerId).catch((error: Error) => failures.push(`GC: ${error.message}`));
  }
  if (conf.standalone) {
    for (const allocation of listStandaloneAllocations(conf.standalone)) {
      if (validContainers.has(allocation.containerId)) continue;
      await releaseStandaloneDevices(conf.standalone, allocation.containerId, new Map([[allocation.resourceName, [allocation.deviceId]]]));
    }
  }
  // The built-in delegates' own state of attachments no cache knows any more (a DEL that failed half way,
  // a cache lost): their DEL puts the device back from it. Also claims without an owner and dead writers' temp files.
  try {
    const { DEFAULT_POLICY, reconcileOnce } = await import('./reconcile.js');
    const outcome = await reconcileOnce(conf, { log, executor: deps.executor, delCached: async () => undefined }, {
      policy: { ...DEFAULT_POLICY, live: (cache) => validContainers.has(cache.containerId), keep: (containerId) => validContainers.has(containerId) },
      only: ['orphanDelegateState', 'malformedAllocation', 'staleTempFile'],
    });
    failures.push(...outcome.failures.map((failure) => `GC: ${failure}`));
  } catch (error) {
    failures.push(`GC of the built-in delegates' state: ${(error as Error).message}`);
  }
  // Forward GC to each network list once, with the attachments that belong to it (libcni semantics).
  const networks = new Map<string, { attachment: PlannedAttachment; valid: Attachment[] }>();
  for (const plan of keptPlans) {
    for (const attachment of plan.attachments) {
      const key = JSON.stringify(attachment.conf.name) + attachment.conf.cniVersion;
      const entry = networks.get(key) ?? { attachment, valid: [] };
      entry.valid.push({ containerID: plan.containerId, ifname: attachment.ifname });
      networks.set(key, entry);
    }
  }
  try {
    const api = await deps.clusterApi();
    const [cluster] = await clusterNetworksFor(conf, api, undefined);
    if (cluster && ![...networks.values()].some(({ attachment }) => attachment.conf.name === cluster.config.name)) {
      networks.set('cluster', {
        attachment: { networkName: cluster.networkName, isDefault: true, ifname: '', conf: cluster.config, runtimeConfig: {}, cniArgs: '' },
        valid: valid.filter((entry) => !keptPlans.some((plan) => plan.containerId === entry.containerID)),
      });
    }
  } catch (error) {
    failures.push(`GC: cannot resolve the cluster network: ${(error as Error).message}`);
  }
  for (const { attachment, valid: attachments } of networks.values()) {
    const list = attachment.conf;
    if (list.disableGC || compareVersions(list.cniVersion, '1.1.0') < 0) continue;
    for (const plugin of list.plugins) {
      const stdinForPlugin = pluginStdin(list, plugin, {});
      stdinForPlugin['cni.dev/valid-attachments'] = attachments;
      stdinForPlugin['cni.dev/attachments'] = attachments;
      try {
        await deps.executor.run({ type: String(plugin['type']), command: 'GC', containerId: '', netns: '', ifname: '', cniArgs: '', stdin: stdinForPlugin });
      } catch (error) {
        failures.push(`GC of network "${attachment.networkName}" (${String(plugin['type'])}): ${(error as Error).message}`);
      }
    }
  }
  if (failures.length > 0) throw new CniError(CniCode.internal, failures.join('; '));
}

/** The networks annotation a standalone runtime can hand over (documented in the report / README). */
export function standaloneNetworksFrom(request: CniRequest, conf: MultusNetConf): string | undefined {
  const fromArgs = conf.args?.['cni'] as Record<string, unknown> | undefined;
  const argValue = fromArgs?.['networks'];
  if (typeof argValue === 'string') return argValue;
  if (Array.isArray(argValue)) return JSON.stringify(argValue);
  const fromCniArgs = cniArg(request.args, 'NICPLEX_NETWORKS');
  if (fromCniArgs) return fromCniArgs;
  const podAnnotations = conf.runtimeConfig['io.kubernetes.cri.pod-annotations'];
  if (podAnnotations && typeof podAnnotations === 'object') {
    const value = (podAnnotations as Record<string, unknown>)[NETWORKS_ANNOTATION];
    if (typeof value === 'string') return value;
  }
  return undefined;
}
