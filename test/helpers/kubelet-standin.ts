// A test double of the kubelet's device manager (pkg/kubelet/cm/devicemanager), over real gRPC on real unix sockets:
// - serves v1beta1.Registration on `<dir>/kubelet.sock`, validates Register (version, resource name),
//   dials the plugin back and calls GetDevicePluginOptions INSIDE Register (failing Register if that fails);
// - optionally acts as the plugin watcher on a plugins_registry directory (GetInfo, NotifyRegistrationStatus);
// - consumes ListAndWatch and keeps the latest full list per resource (a stream that ends marks all
//   devices of the resource unhealthy, as the kubelet does);
// - allocates for pods (GetPreferredAllocation, then Allocate), keeps `kubelet_internal_checkpoint`,
//   serves pod-resources List/Get/GetAllocatableResources for what it allocated;
// - simulates a restart: deletes the sockets in the directory (not the checkpoint) and re-creates its own.
// It also reproduces the kubelet's resource-keyed disconnect handling (ResourceView.poisoned), can
// refuse registrations (rejectRegistrations), and can record allocations without a plugin
// (recordAllocation) for meta-CNI tests that only need pod-resources.
//
// Usage: const kubelet = await KubeletStandin.start({ dir: '<tmp>/device-plugins' });
//        await kubelet.waitForHealthy('intel.com/sriov_a', 4);
//        const { deviceIds, response } = await kubelet.allocate(uid, pod, ns, container, 'intel.com/sriov_a', 2);
//        pod-resources: kubelet.podResources.socketPath (default <dir>/../pod-resources/kubelet.sock)
import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import {
  DEVICE_PLUGIN_API_VERSION,
  DevicePluginService,
  HEALTHY,
  PluginRegistrationService,
  RegistrationService,
  type AllocateResponse,
  type ContainerAllocateResponse,
  type ContainerDevices,
  type Device,
  type DevicePluginOptions,
  type ListAndWatchResponse,
  type PluginInfo,
  type PodResources,
  type PreferredAllocationResponse,
  type RegisterRequest,
} from '../../config/grpc/kubelet-api.js';
import { bindUnix, callUnary, openServerStream, statusError, stopServer, unixTarget } from '../../deviceplugin/server/grpc-unix.js';
import { isExtendedResourceName } from '../../deviceplugin/server/resource-name.js';
import { encodeAllocResp, writeCheckpoint, type PodDeviceEntry } from './kubelet-checkpoint.js';
import { PodResourcesStandin } from './pod-resources-standin.js';

export const CHECKPOINT_FILE = 'kubelet_internal_checkpoint';

const DevicePluginClient = grpc.makeGenericClientConstructor(DevicePluginService, 'DevicePlugin');
const PluginRegistrationClient = grpc.makeGenericClientConstructor(PluginRegistrationService, 'PluginRegistration');

export interface KubeletStandinOptions {
  /** The device-plugins directory (holds kubelet.sock, plugin sockets, the checkpoint). */
  dir: string;
  /** Where pod-resources' kubelet.sock goes; default `<dir>/../pod-resources`. null = do not serve it. */
  podResourcesDir?: string | null;
  /** When set, also act as the kubelet plugin watcher on this directory. */
  pluginsRegistryDir?: string | null;
  /** Serve kubelet.sock (direct Register); default true. */
  serveRegistration?: boolean;
  /** The kubelet's blocking dial-back timeout (10 s). */
  dialTimeoutMs?: number;
}

export interface RegistrationRecord {
  resourceName: string;
  endpoint: string;
  via: 'direct' | 'watcher';
  at: number;
}

export interface ResourceView {
  resourceName: string;
  devices: Device[];
  /** A ListAndWatch stream is open. */
  connected: boolean;
  /** How many ListAndWatch messages arrived on the current connection. */
  updates: number;
  options: DevicePluginOptions | null;
  endpoint: string | null;
  /** Increments on every (re-)registration; tests use it to tell connections apart. */
  generation: number;
  /**
   * The kubelet's disconnect handling is keyed by resource name: an OLD stream of this resource that
   * ends after a newer registration stops the CURRENT endpoint (Allocate then fails). A plugin must
   * end its old stream before registering again; this flag records that it did not.
   */
  poisoned: boolean;
}

export interface AllocationResult {
  deviceIds: string[];
  /** What GetPreferredAllocation answered (null when it was not called). */
  preferred: string[] | null;
  response: ContainerAllocateResponse;
}

interface Endpoint {
  client: grpc.Client;
  stream: grpc.ClientReadableStream<ListAndWatchResponse> | null;
  view: ResourceView;
  /** Set when we end the stream ourselves, so it is not treated as a plugin disconnect. */
  closing: boolean;
}

interface PodRecord {
  uid: string;
  name: string;
  namespace: string;
  /** container → resource → device IDs */
  containers: Map<string, Map<string, string[]>>;
}

export class KubeletStandin extends EventEmitter {
  readonly dir: string;
  readonly socketPath: string;
  readonly checkpointPath: string;
  readonly podResources: PodResourcesStandin | null;
  readonly registrations: RegistrationRecord[] = [];
  readonly registerErrors: string[] = [];
  /** Every GetPreferredAllocation answer, newest last. */
  readonly preferredAnswers: string[][] = [];
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly replaced = new Set<Endpoint>();
  private readonly views = new Map<string, ResourceView>();
  private readonly pods = new Map<string, PodRecord>();
  private readonly checkpointEntries: PodDeviceEntry[] = [];
  private registrationServer: grpc.Server | null = null;
  private registryWatcher: FSWatcher | null = null;
  private readonly watchedPluginSockets = new Map<string, number>();
  private generationCounter = 0;
  private stopped = false;
  /** When set, every registration (direct or watcher) is refused with this message. */
  rejectRegistrations: string | null = null;

  private constructor(private readonly options: KubeletStandinOptions) {
    super();
    this.setMaxListeners(100);
    this.dir = options.dir;
    this.socketPath = join(options.dir, 'kubelet.sock');
    this.checkpointPath = join(options.dir, CHECKPOINT_FILE);
    const podResourcesDir = options.podResourcesDir === undefined ? join(options.dir, '..', 'pod-resources') : options.podResourcesDir;
    this.podResources = podResourcesDir === null ? null : new PodResourcesStandin(join(podResourcesDir, 'kubelet.sock'), {
      pods: () => this.listPods(),
      allocatable: () => this.listAllocatable(),
    });
  }

  static async start(options: KubeletStandinOptions): Promise<KubeletStandin> {
    const standin = new KubeletStandin(options);
    await mkdir(options.dir, { recursive: true, mode: 0o750 });
    if (standin.podResources) {
      await mkdir(join(standin.podResources.socketPath, '..'), { recursive: true });
      await standin.podResources.start();
    }
    await standin.startRegistration();
    if (options.pluginsRegistryDir) await standin.startPluginWatcher(options.pluginsRegistryDir);
    await standin.saveCheckpoint();
    return standin;
  }

  // ---- state queries ---------------------------------------------------------------------

  resource(resourceName: string): ResourceView | undefined {
    return this.views.get(resourceName);
  }

  resourceNames(): string[] {
    return [...this.views.keys()].sort();
  }

  healthyIds(resourceName: string): string[] {
    return (this.views.get(resourceName)?.devices ?? []).filter((d) => d.health === HEALTHY).map((d) => d.ID).sort();
  }

  /** Resolves once `predicate` holds for the resource (checked on every state change); rejects after `timeoutMs`. */
  waitFor(resourceName: string, predicate: (view: ResourceView | undefined) => boolean, timeoutMs = 5000, what = 'condition'): Promise<ResourceView | undefined> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const view = this.views.get(resourceName);
        if (!predicate(view)) return false;
        cleanup();
        resolve(view);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        const view = this.views.get(resourceName);
        reject(new Error(`kubelet stand-in: timed out after ${timeoutMs} ms waiting for ${resourceName}: ${what}; now ${JSON.stringify(view ?? null)}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('change', check);
      };
      this.on('change', check);
      check();
    });
  }

  waitForHealthy(resourceName: string, count: number, timeoutMs = 5000): Promise<ResourceView | undefined> {
    return this.waitFor(resourceName, (v) => !!v && v.connected && v.devices.filter((d) => d.health === HEALTHY).length === count, timeoutMs, `${count} healthy devices`);
  }

  waitForRegistrations(count: number, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.registrations.length < count) return false;
        cleanup();
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`kubelet stand-in: ${this.registrations.length} registrations after ${timeoutMs} ms, wanted ${count}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('change', check);
      };
      this.on('change', check);
      check();
    });
  }

  // ---- registration (direct) -------------------------------------------------------------

  private async startRegistration(): Promise<void> {
    if (this.options.serveRegistration === false) return;
    const server = new grpc.Server();
    server.addService(RegistrationService, {
      Register: (call: grpc.ServerUnaryCall<RegisterRequest, object>, callback: grpc.sendUnaryData<object>) => {
        this.handleRegister(call.request).then(
          () => callback(null, {}),
          (error: Error) => {
            this.registerErrors.push(error.message);
            this.emit('change');
            callback(statusError(grpc.status.UNKNOWN, error.message));
          },
        );
      },
    });
    await bindUnix(server, this.socketPath);
    this.registrationServer = server;
  }

  private async handleRegister(request: RegisterRequest): Promise<void> {
    if (request.version !== DEVICE_PLUGIN_API_VERSION) {
      throw new Error(`requested API version "${request.version}" is not supported by kubelet. Supported version is ["${DEVICE_PLUGIN_API_VERSION}"]`);
    }
    if (!isExtendedResourceName(request.resourceName)) throw new Error(`the ResourceName "${request.resourceName}" is invalid`);
    if (this.rejectRegistrations !== null) throw new Error(this.rejectRegistrations);
    // The kubelet joins the endpoint under its directory even when it looks absolute.
    const endpointPath = join(this.dir, request.endpoint);
    await this.connectEndpoint(request.resourceName, endpointPath, 'direct');
  }

  /** Dials the plugin, asks its options (failing the registration if that fails), then watches its devices. */
  private async connectEndpoint(resourceName: string, endpointPath: string, via: 'direct' | 'watcher'): Promise<void> {
    const client = new DevicePluginClient(unixTarget(endpointPath), grpc.credentials.createInsecure());
    let options: DevicePluginOptions;
    try {
      await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + (this.options.dialTimeoutMs ?? 10_000), (error) => (error ? reject(error) : resolve())));
      options = await callUnary<DevicePluginOptions>(client, 'GetDevicePluginOptions', {}, 10_000);
    } catch (error) {
      client.close();
      throw new Error(`failed to dial device plugin at ${endpointPath}: ${(error as Error).message}`);
    }
    const previous = this.endpoints.get(resourceName);
    // Like the kubelet, a replaced endpoint's stream is left running; see ResourceView.poisoned.
    if (previous) this.replaced.add(previous);
    const view: ResourceView = {
      resourceName,
      devices: this.views.get(resourceName)?.devices ?? [],
      connected: false,
      updates: 0,
      options,
      endpoint: endpointPath,
      generation: ++this.generationCounter,
      poisoned: false,
    };
    this.views.set(resourceName, view);
    const endpoint: Endpoint = { client, stream: null, view, closing: false };
    this.endpoints.set(resourceName, endpoint);
    this.registrations.push({ resourceName, endpoint: endpointPath, via, at: Date.now() });
    // Like the kubelet: ListAndWatch starts after Register has returned.
    setImmediate(() => this.startListAndWatch(endpoint));
    this.emit('change');
  }

  private startListAndWatch(endpoint: Endpoint): void {
    if (endpoint.closing || this.stopped) return;
    const stream = openServerStream<ListAndWatchResponse>(endpoint.client, 'ListAndWatch', {});
    endpoint.stream = stream;
    endpoint.view.connected = true;
    stream.on('data', (message: ListAndWatchResponse) => {
      if (endpoint.closing) return;
      endpoint.view.devices = message.devices;
      endpoint.view.updates++;
      void this.saveCheckpoint();
      this.emit('change');
    });
    const ended = (): void => {
      if (endpoint.closing) return;
      endpoint.closing = true;
      endpoint.client.close();
      this.replaced.delete(endpoint);
      // PluginDisconnected(resourceName): the devices of whatever endpoint is current become
      // unhealthy and that endpoint is stopped — even when it is a newer one than the stream that ended.
      const current = this.endpoints.get(endpoint.view.resourceName);
      if (current === endpoint) {
        endpoint.view.connected = false;
        endpoint.view.devices = endpoint.view.devices.map((d) => ({ ...d, health: 'Unhealthy' }));
        this.endpoints.delete(endpoint.view.resourceName);
      } else if (current) {
        current.view.poisoned = true;
        current.view.devices = current.view.devices.map((d) => ({ ...d, health: 'Unhealthy' }));
      }
      this.emit('change');
    };
    stream.on('error', ended);
    stream.on('end', ended);
    this.emit('change');
  }

  private closeEndpoint(endpoint: Endpoint): void {
    endpoint.closing = true;
    endpoint.view.connected = false;
    endpoint.stream?.cancel();
    endpoint.client.close();
    if (this.endpoints.get(endpoint.view.resourceName) === endpoint) this.endpoints.delete(endpoint.view.resourceName);
  }

  // ---- plugin watcher mode ---------------------------------------------------------------

  private async startPluginWatcher(registryDir: string): Promise<void> {
    await mkdir(registryDir, { recursive: true });
    this.registryWatcher = watch(registryDir, () => void this.scanPluginRegistry(registryDir));
    await this.scanPluginRegistry(registryDir);
  }

  private async scanPluginRegistry(registryDir: string): Promise<void> {
    if (this.stopped) return;
    const names = await readdir(registryDir).catch(() => [] as string[]);
    const present = new Set<string>();
    for (const name of names) {
      const path = join(registryDir, name);
      const stats = await lstat(path).catch(() => null);
      if (!stats?.isSocket()) continue;
      present.add(path);
      if (this.watchedPluginSockets.get(path) === stats.ino) continue;
      this.watchedPluginSockets.set(path, stats.ino);
      void this.registerWatchedPlugin(path);
    }
    for (const path of [...this.watchedPluginSockets.keys()]) {
      if (!present.has(path)) this.watchedPluginSockets.delete(path);
    }
  }

  private async registerWatchedPlugin(socketPath: string): Promise<void> {
    const client = new PluginRegistrationClient(unixTarget(socketPath), grpc.credentials.createInsecure());
    try {
      const info = await callUnary<PluginInfo>(client, 'GetInfo', {}, 5000);
      let problem: string | null = null;
      if (info.type !== 'DevicePlugin') problem = `plugin type ${JSON.stringify(info.type)} is not DevicePlugin`;
      else if (!info.supportedVersions.includes(DEVICE_PLUGIN_API_VERSION)) problem = `none of the versions ${JSON.stringify(info.supportedVersions)} is supported`;
      else if (!isExtendedResourceName(info.name)) problem = `the ResourceName "${info.name}" is invalid`;
      else if (!isAbsolute(info.endpoint)) problem = `endpoint ${JSON.stringify(info.endpoint)} is not an absolute path`;
      else if (this.rejectRegistrations !== null) problem = this.rejectRegistrations;
      if (!problem) {
        try {
          await this.connectEndpoint(info.name, info.endpoint, 'watcher');
        } catch (error) {
          problem = (error as Error).message;
        }
      }
      if (problem) this.registerErrors.push(problem);
      await callUnary(client, 'NotifyRegistrationStatus', { pluginRegistered: problem === null, error: problem ?? '' }, 5000).catch(() => undefined);
    } catch (error) {
      this.registerErrors.push(`plugin watcher: ${socketPath}: ${(error as Error).message}`);
    } finally {
      client.close();
      this.emit('change');
    }
  }

  // ---- allocation ------------------------------------------------------------------------

  private allocatedIds(resourceName: string): Set<string> {
    const ids = new Set<string>();
    for (const pod of this.pods.values()) {
      for (const resources of pod.containers.values()) for (const id of resources.get(resourceName) ?? []) ids.add(id);
    }
    return ids;
  }

  /** Calls GetPreferredAllocation as the kubelet does (one container request). */
  async getPreferredAllocation(resourceName: string, available: string[], mustInclude: string[], size: number): Promise<string[]> {
    const endpoint = this.requireEndpoint(resourceName);
    const answer = await callUnary<PreferredAllocationResponse>(endpoint.client, 'GetPreferredAllocation', {
      containerRequests: [{ availableDeviceIDs: available, mustIncludeDeviceIDs: mustInclude, allocationSize: size }],
    }, 5000);
    const ids = answer.containerResponses[0]?.deviceIDs ?? [];
    this.preferredAnswers.push(ids);
    return ids;
  }

  /** Calls Allocate with exactly these IDs (tests use it to send unknown or unhealthy IDs). */
  async allocateIds(resourceName: string, deviceIds: string[]): Promise<ContainerAllocateResponse> {
    const endpoint = this.requireEndpoint(resourceName);
    const answer = await callUnary<AllocateResponse>(endpoint.client, 'Allocate', { containerRequests: [{ devicesIds: deviceIds }] }, 5000);
    const first = answer.containerResponses[0];
    if (!first) throw new Error('no containers return in allocation response');
    return first;
  }

  async getDevicePluginOptions(resourceName: string): Promise<DevicePluginOptions> {
    return callUnary<DevicePluginOptions>(this.requireEndpoint(resourceName).client, 'GetDevicePluginOptions', {}, 5000);
  }

  async preStartContainer(resourceName: string, deviceIds: string[]): Promise<object> {
    return callUnary<object>(this.requireEndpoint(resourceName).client, 'PreStartContainer', { devicesIds: deviceIds }, 5000);
  }

  /** Admits one container of a pod needing `count` devices of `resourceName`, as the device manager would. */
  async allocate(podUid: string, podName: string, namespace: string, container: string, resourceName: string, count: number): Promise<AllocationResult> {
    const view = this.views.get(resourceName);
    if (!view || !this.endpoints.has(resourceName)) throw new Error(`cannot allocate resource ${resourceName}: unknown resource or no connected plugin`);
    const used = this.allocatedIds(resourceName);
    const free = view.devices.filter((d) => d.health === HEALTHY && !used.has(d.ID)).map((d) => d.ID).sort();
    if (free.length < count) throw new Error(`requested number of devices unavailable for ${resourceName}. Requested: ${count}, Available: ${free.length}`);
    let chosen: string[];
    let preferred: string[] | null = null;
    if (free.length === count) chosen = free;
    else if (view.options?.getPreferredAllocationAvailable) {
      preferred = await this.getPreferredAllocation(resourceName, free, [], count);
      chosen = preferred.filter((id) => free.includes(id)).slice(0, count);
      for (const id of free) if (chosen.length < count && !chosen.includes(id)) chosen.push(id);
    } else chosen = free.slice(0, count);
    const response = await this.allocateIds(resourceName, chosen);
    const pod = this.pods.get(podUid) ?? { uid: podUid, name: podName, namespace, containers: new Map() };
    this.pods.set(podUid, pod);
    const containerResources = pod.containers.get(container) ?? new Map<string, string[]>();
    pod.containers.set(container, containerResources);
    containerResources.set(resourceName, [...(containerResources.get(resourceName) ?? []), ...chosen]);
    const byNuma: Record<string, string[]> = {};
    for (const id of chosen) {
      const device = view.devices.find((d) => d.ID === id);
      const node = String(device?.topology?.nodes[0]?.ID ?? -1);
      (byNuma[node] ??= []).push(id);
    }
    this.checkpointEntries.push({ PodUID: podUid, ContainerName: container, ResourceName: resourceName, DeviceIDs: byNuma, AllocResp: encodeAllocResp(response) });
    await this.saveCheckpoint();
    this.emit('change');
    return { deviceIds: chosen, preferred, response };
  }

  /**
   * Records an admitted container's devices without calling any plugin: pod-resources and the
   * checkpoint then show them, as the kubelet would. For meta-CNI tests that need no device plugin.
   */
  async recordAllocation(podUid: string, podName: string, namespace: string, container: string, resourceName: string, deviceIds: string[], numaNode = -1): Promise<void> {
    const pod = this.pods.get(podUid) ?? { uid: podUid, name: podName, namespace, containers: new Map() };
    this.pods.set(podUid, pod);
    const containerResources = pod.containers.get(container) ?? new Map<string, string[]>();
    pod.containers.set(container, containerResources);
    containerResources.set(resourceName, [...(containerResources.get(resourceName) ?? []), ...deviceIds]);
    const empty = { envs: {}, mounts: [], devices: [], annotations: {}, cdiDevices: [] };
    this.checkpointEntries.push({ PodUID: podUid, ContainerName: container, ResourceName: resourceName, DeviceIDs: { [String(numaNode)]: deviceIds }, AllocResp: encodeAllocResp(empty) });
    await this.saveCheckpoint();
    this.emit('change');
  }

  /** The pod terminated: its devices become free and it leaves pod-resources. */
  async removePod(podUid: string): Promise<void> {
    this.pods.delete(podUid);
    for (let i = this.checkpointEntries.length - 1; i >= 0; i--) if (this.checkpointEntries[i]!.PodUID === podUid) this.checkpointEntries.splice(i, 1);
    await this.saveCheckpoint();
    this.emit('change');
  }

  private requireEndpoint(resourceName: string): Endpoint {
    const endpoint = this.endpoints.get(resourceName);
    if (!endpoint) throw new Error(`no device plugin registered for ${resourceName}`);
    if (endpoint.view.poisoned) throw new Error(`endpoint ${endpoint.view.endpoint} of ${resourceName} has been stopped (an older stream ended after it registered)`);
    return endpoint;
  }

  // ---- pod-resources data ----------------------------------------------------------------

  private topologyFor(resourceName: string, ids: string[]): ContainerDevices['topology'] {
    const nodes = new Set<number>();
    for (const id of ids) {
      for (const node of this.views.get(resourceName)?.devices.find((d) => d.ID === id)?.topology?.nodes ?? []) nodes.add(node.ID);
    }
    return nodes.size === 0 ? undefined : { nodes: [...nodes].sort((a, b) => a - b).map((ID) => ({ ID })) };
  }

  private listPods(): PodResources[] {
    return [...this.pods.values()].map((pod) => ({
      name: pod.name,
      namespace: pod.namespace,
      cpuIds: [],
      memory: [],
      containers: [...pod.containers.entries()].map(([name, resources]) => ({
        name,
        cpuIds: [],
        memory: [],
        dynamicResources: [],
        devices: [...resources.entries()].map(([resourceName, deviceIds]) => ({ resourceName, deviceIds, topology: this.topologyFor(resourceName, deviceIds) })),
      })),
    }));
  }

  private listAllocatable(): ContainerDevices[] {
    return this.resourceNames().map((resourceName) => ({ resourceName, deviceIds: this.healthyIds(resourceName) }));
  }

  /** Writes are chained and each snapshots the state when it runs, so the file ends at the latest state. */
  private saveCheckpoint(): Promise<void> {
    this.checkpointWrites = this.checkpointWrites.then(async () => {
      if (this.stopped) return;
      const registered: Record<string, string[]> = {};
      for (const name of this.resourceNames()) registered[name] = this.healthyIds(name);
      await writeCheckpoint(this.checkpointPath, { PodDeviceEntries: [...this.checkpointEntries], RegisteredDevices: registered }).catch(() => undefined);
    });
    return this.checkpointWrites;
  }

  private checkpointWrites: Promise<void> = Promise.resolve();

  // ---- lifecycle -------------------------------------------------------------------------

  /**
   * Simulates a kubelet restart: connections to plugins die with the old process, every socket in
   * the directory is deleted (the checkpoint and sub-directories stay), resources from the
   * checkpoint come back with no devices, and kubelet.sock is re-created.
   */
  async restart(): Promise<void> {
    for (const endpoint of [...this.endpoints.values(), ...this.replaced]) this.closeEndpoint(endpoint);
    this.replaced.clear();
    if (this.registrationServer) stopServer(this.registrationServer);
    this.registrationServer = null;
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      const stats = await lstat(path).catch(() => null);
      if (stats?.isSocket()) await unlink(path).catch(() => undefined);
    }
    for (const view of this.views.values()) {
      view.devices = [];
      view.connected = false;
      view.updates = 0;
    }
    this.emit('change');
    if (this.podResources) {
      // The pod-resources server restarts with the kubelet; allocations survive (the checkpoint).
      this.podResources.stop();
      await this.podResources.start();
    }
    await this.startRegistration();
    if (this.options.pluginsRegistryDir) {
      this.watchedPluginSockets.clear();
      await this.scanPluginRegistry(this.options.pluginsRegistryDir);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.registryWatcher?.close();
    for (const endpoint of [...this.endpoints.values(), ...this.replaced]) this.closeEndpoint(endpoint);
    this.replaced.clear();
    if (this.registrationServer) stopServer(this.registrationServer);
    this.registrationServer = null;
    this.podResources?.stop();
    await unlink(this.socketPath).catch(() => undefined);
    this.removeAllListeners();
  }
}
