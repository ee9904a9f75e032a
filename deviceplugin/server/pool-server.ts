// One kubelet device-plugin endpoint for one pool: a gRPC server on `<prefix>_<name>.sock`, its
// registration with the kubelet, the ListAndWatch streams, Allocate and GetPreferredAllocation.
// Pool contents change in place (update/refreshHealth) without restarting the server; a restart
// (kubelet restarted, socket deleted) always stops the old server before serving a fresh socket and
// registering, so a stale stream can never poison the new registration (the kubelet's device manager drops an endpoint whose old stream ends after the new Register).
import * as grpc from '@grpc/grpc-js';
import { lstat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DEVICE_PLUGIN_API_VERSION,
  DevicePluginService,
  HEALTHY,
  PluginRegistrationService,
  RegistrationService,
  UNHEALTHY,
  type AllocateRequest,
  type AllocateResponse,
  type Device,
  type DevicePluginOptions,
  type Empty,
  type ListAndWatchResponse,
  type PluginInfo,
  type PreferredAllocationRequest,
  type PreferredAllocationResponse,
  type RegistrationStatus,
} from '../../config/grpc/kubelet-api.js';
import { buildPciDeviceInfo, buildVdpaDeviceInfo, dpDeviceInfoPath, removeDeviceInfoFile, writeDeviceInfoFile } from '../../config/devinfo.js';
import type { DiscoveredDevice, Pool } from '../model.js';
import { containerAllocateResponse, selectedVdpa, VHOST_NET, type AllocateContext } from './allocate-response.js';
import { buildCdiSpec, cdiContainerResponse, cdiNames, removeCdiSpec, writeCdiSpec, type CdiNames } from './cdi-spec.js';
import { bindUnix, callUnary, statusError, stopServer, unixTarget } from './grpc-unix.js';
import { errorText, type Logger } from './log.js';
import { preferredAllocation, type AllocationPolicy } from './preferred-allocation.js';
import { rdmaCharDeviceSpecs } from './rdma-char-devices.js';
import { findVdpaDevice } from './vdpa-device.js';

export const KUBELET_SOCKET = 'kubelet.sock';
/** sockaddr_un.sun_path is 108 bytes including the terminating NUL. */
const MAX_UNIX_SOCKET_PATH = 107;
export const PLUGIN_OPTIONS: DevicePluginOptions = { preStartRequired: false, getPreferredAllocationAvailable: true };
/** What GetInfo reports, as the reference plugin does (kubelets have accepted both). */
export const WATCHER_SUPPORTED_VERSIONS = ['v1alpha1', 'v1beta1'];

const RegistrationClient = grpc.makeGenericClientConstructor(RegistrationService, 'Registration');

export type RegistrationMode = { kind: 'direct'; devicePluginDir: string } | { kind: 'watcher'; registryDir: string };

export interface PoolState {
  pool: Pool;
  /** The pool's devices (records from discovery). */
  devices: DiscoveredDevice[];
  vhostNetAvailable: boolean;
}

export interface PoolServerOptions {
  registration: RegistrationMode;
  devinfoDir: string;
  sysfsRoot: string;
  /** Default for pools that set no `allocationPolicy`. */
  policy: AllocationPolicy;
  logger: Logger;
  isHealthy: (device: DiscoveredDevice) => boolean;
  /** Collects a burst of restart triggers (socket deleted + kubelet.sock created) into one restart. */
  restartDebounceMs?: number;
  /** How long Register may take; the kubelet dials back inside it (10 s dial timeout). */
  registerTimeoutMs?: number;
  /** CDI mode: the pool's device nodes go into a CDI spec in this directory and Allocate names them. */
  cdiDir?: string | null;
}

export function socketFileName(pool: Pool): string {
  return `${pool.resourcePrefix}_${pool.name}.sock`;
}

function sameList(a: Device[], b: Device[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class PoolServer {
  readonly resourceName: string;
  readonly socketPath: string;
  /** Successful registrations (direct Register answered, or the plugin watcher reported success). */
  registrations = 0;
  private state: PoolState;
  private devicesById = new Map<string, DiscoveredDevice>();
  private list: Device[] = [];
  private server: grpc.Server | null = null;
  private readonly streams = new Set<grpc.ServerWritableStream<Empty, ListAndWatchResponse>>();
  private readonly writtenInfoFiles = new Set<string>();
  private loop: Promise<void> | null = null;
  private pendingRestart = false;
  private restartReason = '';
  private recheckSocket = false;
  private stopped = false;
  private wake: (() => void) | null = null;
  private registerClient: grpc.Client | null = null;
  private readonly registrationWaiters = new Set<() => void>();
  /** CDI names of the pool; null when CDI mode is off or the pool's names cannot be CDI names. */
  private readonly cdiNames: CdiNames | null = null;
  /** Devices in the spec file as last written; null until a write succeeded (Allocate then answers with device specs). */
  private cdiInSpec: Set<string> | null = null;
  private cdiWrittenJson: string | null = null;
  /** Spec writes run one after another, so an older pool state never lands last. */
  private cdiWrites: Promise<void> = Promise.resolve();

  constructor(state: PoolState, private readonly options: PoolServerOptions) {
    this.state = state;
    this.resourceName = state.pool.resourceName;
    const dir = options.registration.kind === 'direct' ? options.registration.devicePluginDir : options.registration.registryDir;
    this.socketPath = join(dir, socketFileName(state.pool));
    this.indexDevices();
    this.list = this.buildList();
    if (options.cdiDir) {
      try {
        this.cdiNames = cdiNames(state.pool);
      } catch (error) {
        this.log('warn', `CDI disabled for this pool: ${errorText(error)}; Allocate returns device specs instead`);
      }
    }
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    this.options.logger.log(level, `pool ${this.resourceName}: ${message}`);
  }

  // ---- device list ----------------------------------------------------------------------

  private indexDevices(): void {
    this.devicesById = new Map(this.state.devices.map((d) => [d.pciAddress, d]));
  }

  private buildList(): Device[] {
    const { excludeTopology } = this.state.pool;
    return [...this.state.devices]
      .sort((a, b) => (a.pciAddress < b.pciAddress ? -1 : 1))
      .map((device) => ({
        ID: device.pciAddress,
        health: this.options.isHealthy(device) ? HEALTHY : UNHEALTHY,
        topology: excludeTopology || device.numaNode === null ? undefined : { nodes: [{ ID: device.numaNode }] },
      }));
  }

  /** Devices the kubelet allocated since they joined the pool (their device-info files are written). */
  allocatedCount(): number {
    return this.writtenInfoFiles.size;
  }

  /** The list last sent on ListAndWatch. */
  devices(): Device[] {
    return this.list;
  }

  private pushIfChanged(): void {
    const next = this.buildList();
    if (sameList(next, this.list)) return;
    const unhealthy = next.filter((d) => d.health !== HEALTHY).map((d) => d.ID);
    this.list = next;
    this.log('info', `device list changed: ${next.length} devices${unhealthy.length ? `, unhealthy: ${unhealthy.join(',')}` : ''}`);
    for (const stream of this.streams) stream.write({ devices: next });
  }

  /** New pool contents from a rediscovery; served without restarting the gRPC server. */
  async update(state: PoolState): Promise<void> {
    const before = new Set(this.devicesById.keys());
    this.state = state;
    this.indexDevices();
    await this.syncCdiSpec(false); // before the kubelet can see (and allocate) a new device
    this.pushIfChanged();
    const gone = [...before].filter((id) => !this.devicesById.has(id));
    await Promise.all(gone.map((id) => this.removeInfoFile(id)));
  }

  refreshHealth(): void {
    this.pushIfChanged();
  }

  // ---- gRPC handlers --------------------------------------------------------------------

  private allocateContext(): AllocateContext {
    return {
      pool: this.state.pool,
      vhostNetAvailable: this.state.vhostNetAvailable,
      rdmaCharDevices: (name) => rdmaCharDeviceSpecs(this.options.sysfsRoot, name),
      vdpaDevice: (pciAddress) => findVdpaDevice(this.options.sysfsRoot, pciAddress),
    };
  }

  private async allocate(request: AllocateRequest): Promise<AllocateResponse> {
    const containerResponses = [];
    for (const container of request.containerRequests) {
      const unknown = container.devicesIds.filter((id) => !this.devicesById.has(id));
      if (unknown.length > 0) {
        throw statusError(grpc.status.INVALID_ARGUMENT, `Allocate for ${this.resourceName}: unknown device IDs ${unknown.join(', ')} (this plugin offers ${this.devicesById.size} devices; the kubelet may hold a stale list)`);
      }
      const devices = container.devicesIds.map((id) => this.devicesById.get(id)!);
      const unhealthy = devices.filter((d) => !this.options.isHealthy(d)).map((d) => d.pciAddress);
      if (unhealthy.length > 0) {
        throw statusError(grpc.status.FAILED_PRECONDITION, `Allocate for ${this.resourceName}: devices ${unhealthy.join(', ')} are unhealthy (link down or device gone)`);
      }
      const context = this.allocateContext();
      containerResponses.push(this.cdiNames && this.cdiInSpec
        ? cdiContainerResponse(devices, context, this.cdiNames, this.cdiInSpec)
        : containerAllocateResponse(devices, context));
      for (const device of devices) this.writeInfoFile(device, context);
    }
    return { containerResponses };
  }

  private writeInfoFile(device: DiscoveredDevice, context: AllocateContext): void {
    const path = dpDeviceInfoPath(this.options.devinfoDir, this.resourceName, device.pciAddress);
    const selector = device.selectorIndex !== null ? this.state.pool.selectors[device.selectorIndex] : undefined;
    const vdpa = selectedVdpa(device, context);
    const info = vdpa?.vhostPath && device.vdpaType
      ? buildVdpaDeviceInfo({ parentDevice: vdpa.name, driver: device.vdpaType, path: vdpa.vhostPath, pciAddress: device.pciAddress, pfPciAddress: device.pfAddress })
      : buildPciDeviceInfo({
      pciAddress: device.pciAddress,
      pfPciAddress: device.pfAddress,
      rdmaDevices: selector?.isRdma ? device.rdmaDevices : [],
      vhostNet: selector?.needVhostNet && this.state.vhostNetAvailable ? VHOST_NET : null,
    });
    writeDeviceInfoFile(path, info);
    this.writtenInfoFiles.add(path);
  }

  private async removeInfoFile(deviceId: string): Promise<void> {
    let path: string;
    try {
      path = dpDeviceInfoPath(this.options.devinfoDir, this.resourceName, deviceId);
    } catch {
      return; // an ID that cannot name a file never had one
    }
    this.writtenInfoFiles.delete(path);
    await removeDeviceInfoFile(path).catch((error) => this.log('warn', `cannot remove device-info file ${path}: ${errorText(error)}`));
  }

  private preferred(request: PreferredAllocationRequest): PreferredAllocationResponse {
    const placement = (id: string) => {
      const device = this.devicesById.get(id);
      return device ? { numaNode: device.numaNode, pfAddress: device.pfAddress } : undefined;
    };
    return {
      containerResponses: request.containerRequests.map((c) => ({
        deviceIDs: preferredAllocation({
          available: c.availableDeviceIDs,
          mustInclude: c.mustIncludeDeviceIDs,
          size: c.allocationSize,
          policy: this.state.pool.allocationPolicy ?? this.options.policy,
          placement,
        }),
      })),
    };
  }

  private devicePluginImplementation(): grpc.UntypedServiceImplementation {
    return {
      GetDevicePluginOptions: (_call: grpc.ServerUnaryCall<Empty, DevicePluginOptions>, callback: grpc.sendUnaryData<DevicePluginOptions>) => callback(null, PLUGIN_OPTIONS),
      ListAndWatch: (call: grpc.ServerWritableStream<Empty, ListAndWatchResponse>) => {
        this.streams.add(call);
        const forget = (): void => void this.streams.delete(call);
        call.on('cancelled', forget);
        call.on('close', forget);
        call.on('error', forget);
        this.log('debug', `ListAndWatch opened, sending ${this.list.length} devices`);
        call.write({ devices: this.list });
      },
      GetPreferredAllocation: (call: grpc.ServerUnaryCall<PreferredAllocationRequest, PreferredAllocationResponse>, callback: grpc.sendUnaryData<PreferredAllocationResponse>) => {
        callback(null, this.preferred(call.request));
      },
      Allocate: (call: grpc.ServerUnaryCall<AllocateRequest, AllocateResponse>, callback: grpc.sendUnaryData<AllocateResponse>) => {
        this.allocate(call.request).then(
          (response) => {
            this.log('info', `allocated ${call.request.containerRequests.map((c) => c.devicesIds.join(',')).join(' | ')}`);
            callback(null, response);
          },
          (error: grpc.ServiceError) => {
            this.log('warn', error.details ?? errorText(error));
            callback(error.code === undefined ? statusError(grpc.status.INTERNAL, errorText(error)) : error);
          },
        );
      },
      PreStartContainer: (_call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => callback(null, {}),
    };
  }

  private watcherRegistrationImplementation(): grpc.UntypedServiceImplementation {
    return {
      GetInfo: (_call: grpc.ServerUnaryCall<object, PluginInfo>, callback: grpc.sendUnaryData<PluginInfo>) => {
        callback(null, { type: 'DevicePlugin', name: this.resourceName, endpoint: this.socketPath, supportedVersions: WATCHER_SUPPORTED_VERSIONS });
      },
      NotifyRegistrationStatus: (call: grpc.ServerUnaryCall<RegistrationStatus, object>, callback: grpc.sendUnaryData<object>) => {
        callback(null, {});
        if (call.request.pluginRegistered) {
          this.registered();
        } else {
          this.log('error', `the kubelet rejected the registration: ${call.request.error}; restarting the endpoint in 1 s`);
          this.requestRestart('registration rejected', 1000);
        }
      },
    };
  }

  private registered(): void {
    this.registrations++;
    this.log('info', `registered with the kubelet (${this.options.registration.kind}), ${this.list.length} devices`);
    for (const waiter of this.registrationWaiters) waiter();
  }

  /** Resolves at the next successful registration. */
  nextRegistration(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.registrationWaiters.delete(done);
        resolve();
      };
      this.registrationWaiters.add(done);
    });
  }

  // ---- CDI spec -------------------------------------------------------------------------

  /** Writes the pool's CDI spec when it changed (always when `force`), or removes it when no device has nodes. */
  private syncCdiSpec(force: boolean): Promise<void> {
    this.cdiWrites = this.cdiWrites.then(() => this.writeCdiSpecNow(force));
    return this.cdiWrites;
  }

  private async writeCdiSpecNow(force: boolean): Promise<void> {
    const dir = this.options.cdiDir;
    if (!dir || !this.cdiNames || this.stopped) return;
    const spec = buildCdiSpec(this.cdiNames, this.state.devices, this.allocateContext());
    const json = spec ? JSON.stringify(spec) : '';
    if (!force && this.cdiInSpec && json === this.cdiWrittenJson) return;
    try {
      if (spec) await writeCdiSpec(dir, this.cdiNames, spec);
      else await removeCdiSpec(dir, this.cdiNames);
      this.cdiInSpec = new Set(spec?.devices.map((device) => device.name) ?? []);
      this.cdiWrittenJson = json;
      this.log('debug', spec ? `CDI spec ${join(dir, this.cdiNames.fileName)}: ${spec.devices.length} devices with device nodes` : 'no device has device nodes: no CDI spec');
    } catch (error) {
      this.cdiInSpec = null;
      this.cdiWrittenJson = null;
      this.log('error', `cannot write CDI spec ${join(dir, this.cdiNames.fileName)}: ${errorText(error)}; Allocate returns device specs until it is written`);
    }
  }

  // ---- lifecycle ------------------------------------------------------------------------

  start(): void {
    this.requestRestart('start', 0);
  }

  /** Serve a fresh socket and register again (coalesces bursts of triggers). */
  requestRestart(reason: string, debounceMs = this.options.restartDebounceMs ?? 20): void {
    if (this.stopped) return;
    this.pendingRestart = true;
    this.restartReason = reason;
    this.wake?.();
    if (this.loop) return;
    this.loop = this.runLoop(debounceMs).finally(() => {
      this.loop = null;
      if (this.stopped) return;
      if (this.pendingRestart) this.requestRestart(this.restartReason, 0);
      else if (this.recheckSocket) {
        this.recheckSocket = false;
        void this.checkSocket();
      }
    });
  }

  /** Called on directory events: our socket gone means the kubelet restarted (or someone cleaned up). */
  async checkSocket(): Promise<void> {
    if (this.stopped) return;
    if (this.loop) {
      this.recheckSocket = true; // our own restart is replacing the socket right now
      return;
    }
    const stats = await lstat(this.socketPath).catch(() => null);
    if (!stats?.isSocket() && !this.loop) {
      this.log('info', 'socket file disappeared; serving a fresh socket and registering again');
      this.requestRestart('socket deleted');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private async runLoop(debounceMs: number): Promise<void> {
    if (debounceMs > 0) await new Promise((resolve) => setTimeout(resolve, debounceMs));
    // Rewritten on every (re)start: the spec must exist before the kubelet can allocate, and a
    // restart also repairs a spec someone deleted.
    await this.syncCdiSpec(true);
    let failures = 0;
    while (this.pendingRestart && !this.stopped) {
      this.pendingRestart = false;
      this.closeServer();
      try {
        await this.serve();
      } catch (error) {
        if (failures % 30 === 0) this.log('error', `cannot serve on ${this.socketPath}: ${errorText(error)}; retrying`);
        this.pendingRestart = true;
        await this.sleep(Math.min(2000, 100 * 2 ** Math.min(failures++, 5)));
        continue;
      }
      if (this.stopped) break;
      if (this.options.registration.kind === 'direct') await this.registerUntilDone(this.options.registration.devicePluginDir);
    }
  }

  private async serve(): Promise<void> {
    const length = Buffer.byteLength(this.socketPath);
    if (length > MAX_UNIX_SOCKET_PATH) {
      throw new Error(`the socket path is ${length} bytes, unix sockets allow ${MAX_UNIX_SOCKET_PATH}: shorten resourcePrefix/resourceName or the directory`);
    }
    const server = new grpc.Server();
    server.addService(DevicePluginService, this.devicePluginImplementation());
    if (this.options.registration.kind === 'watcher') server.addService(PluginRegistrationService, this.watcherRegistrationImplementation());
    await bindUnix(server, this.socketPath);
    if (this.stopped) {
      stopServer(server);
      return;
    }
    this.server = server;
    this.log('debug', `serving on ${this.socketPath} (${this.restartReason})`);
  }

  private async registerUntilDone(devicePluginDir: string): Promise<void> {
    const kubeletSocket = join(devicePluginDir, KUBELET_SOCKET);
    let delay = 50;
    for (let attempt = 1; !this.stopped && !this.pendingRestart; attempt++) {
      const client = new RegistrationClient(unixTarget(kubeletSocket), grpc.credentials.createInsecure());
      this.registerClient = client;
      try {
        await callUnary(client, 'Register', {
          version: DEVICE_PLUGIN_API_VERSION,
          endpoint: socketFileName(this.state.pool),
          resourceName: this.resourceName,
          options: PLUGIN_OPTIONS,
        }, this.options.registerTimeoutMs ?? 15_000);
        this.registered();
        return;
      } catch (error) {
        const text = (error as grpc.ServiceError).details || errorText(error);
        if (attempt === 1 || attempt % 20 === 0) this.log('warn', `Register on ${kubeletSocket} failed (attempt ${attempt}): ${text}; retrying`);
      } finally {
        client.close();
        this.registerClient = null;
      }
      if (this.stopped || this.pendingRestart) break;
      await this.sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }

  private closeServer(): void {
    if (!this.server) return;
    stopServer(this.server); // cancels our ListAndWatch streams: the peer sees the old endpoint end now
    this.server = null;
    this.streams.clear();
  }

  /** Stops serving, removes the socket, the CDI spec and every device-info file of the pool. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.registerClient?.close(); // a Register in flight would otherwise keep going for its full timeout
    this.closeServer();
    await unlink(this.socketPath).catch(() => undefined);
    await this.cdiWrites;
    if (this.options.cdiDir && this.cdiNames) {
      await removeCdiSpec(this.options.cdiDir, this.cdiNames).catch((error) => this.log('warn', `cannot remove CDI spec: ${errorText(error)}`));
    }
    const ids = new Set([...this.devicesById.keys()]);
    await Promise.all([...ids].map((id) => this.removeInfoFile(id)));
    await Promise.all([...this.writtenInfoFiles].map((path) => removeDeviceInfoFile(path).catch(() => undefined)));
    this.writtenInfoFiles.clear();
    this.log('info', 'stopped');
  }
}
