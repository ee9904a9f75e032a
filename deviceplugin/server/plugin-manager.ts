// Runs the device plugin: one PoolServer per non-empty pool, kept in step with the host and the config.
// - kubelet restart: inotify on the device-plugin directory (kubelet.sock re-created, or our socket gone)
// - link state: LinkStateSource change events refresh health and push new lists
// - hot reload: config file change / SIGHUP / a PF's VF count or a device's driver changing →
//   rediscover, then update servers in place; new pools start, emptied pools stop; a bad config is
//   rejected and everything keeps running as before.
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { DiscoveredDevice, DiscoverySnapshot } from '../model.js';
import type { LinkStateSource } from '../link-state.js';
import { listDir, readLinkBase, readSmallText } from '../../native/index.js';
import { removeStaleCdiSpecs } from './cdi-spec.js';
import { healthNetdevs, isDeviceHealthy } from './device-health.js';
import { errorText, type Logger } from './log.js';
import type { AllocationPolicy } from './preferred-allocation.js';
import { KUBELET_SOCKET, PoolServer, type PoolState, type RegistrationMode } from './pool-server.js';

export interface PluginManagerOptions {
  devicePluginDir: string;
  /** Plugin-watcher directory; default `<device-plugin-dir>/../plugins_registry`. */
  pluginsRegistryDir?: string;
  /** `auto` (default) uses the plugin watcher when its directory exists, as the reference plugin does. */
  registrationMode?: 'auto' | 'direct' | 'watcher';
  devinfoDir: string;
  sysfsRoot: string;
  linkState: LinkStateSource;
  /** Loads the config and discovers; throws (with `.problems`) on a bad config. */
  loadSnapshot: () => Promise<DiscoverySnapshot>;
  logger: Logger;
  policy?: AllocationPolicy;
  /** Files whose change triggers a reload (the config file). */
  watchFiles?: string[];
  /** Period of the cheap sysfs check for VF-count / driver / device changes. 0 disables it. */
  hostPollIntervalMs?: number;
  restartDebounceMs?: number;
  configDebounceMs?: number;
  /** CDI mode (`--use-cdi`): where CDI specs go (`/var/run/cdi`); null/absent = classic device specs. */
  cdiDir?: string | null;
}

const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

function problemsOf(error: unknown): string[] {
  const problems = (error as { problems?: unknown }).problems;
  if (!Array.isArray(problems) || problems.length === 0) return [errorText(error)];
  return problems.map((p) => {
    if (typeof p === 'string') return p;
    const { file, path, message } = p as { file?: string; path?: string; message?: string };
    return [file, path, message ?? JSON.stringify(p)].filter((part) => part).join(': ');
  });
}

export class PluginManager {
  readonly registration: RegistrationMode;
  private readonly servers = new Map<string, PoolServer>();
  private snapshot: DiscoverySnapshot | null = null;
  private readonly vanished = new Set<string>();
  private readonly watchers: FSWatcher[] = [];
  private unwatchLinks: (() => void) | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private hostFingerprint = '';
  /** Identity of the kubelet.sock we last saw (inode + birth time: inode numbers get reused). */
  private kubeletSocketId: string | null = null;
  private reloading: Promise<boolean> | null = null;
  private reloadPending: string | null = null;
  private configTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Completed reloads (successful or rejected); tests wait on it. */
  reloads = 0;

  private constructor(private readonly options: PluginManagerOptions) {
    const registryDir = options.pluginsRegistryDir ?? join(options.devicePluginDir, '..', 'plugins_registry');
    const mode = options.registrationMode ?? 'auto';
    const watcher = mode === 'watcher' || (mode === 'auto' && existsSync(registryDir));
    this.registration = watcher ? { kind: 'watcher', registryDir } : { kind: 'direct', devicePluginDir: options.devicePluginDir };
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    this.options.logger.log(level, message);
  }

  /** Loads the config, starts a server per non-empty pool and the watchers. Throws when the first load fails. */
  static async start(options: PluginManagerOptions): Promise<PluginManager> {
    const manager = new PluginManager(options);
    const snapshot = await options.loadSnapshot();
    await manager.begin(snapshot);
    return manager;
  }

  private async begin(snapshot: DiscoverySnapshot): Promise<void> {
    const socketDir = this.registration.kind === 'direct' ? this.registration.devicePluginDir : this.registration.registryDir;
    await mkdir(socketDir, { recursive: true });
    this.log('info', `registration mode: ${this.registration.kind === 'direct' ? `direct Register on ${join(socketDir, KUBELET_SOCKET)}` : `plugin watcher in ${socketDir}`}`);
    this.kubeletSocketId = await this.kubeletSocketIdentity();
    this.watchDirectory(socketDir);
    for (const file of this.options.watchFiles ?? []) this.watchConfigFile(file);
    this.unwatchLinks = this.options.linkState.watch(() => this.refreshHealth());
    await this.cleanCdiSpecs('start');
    await this.apply(snapshot);
    const period = this.options.hostPollIntervalMs ?? 500;
    if (period > 0) {
      this.pollTimer = setInterval(() => this.pollHost(), period);
      this.pollTimer.unref();
    }
  }

  poolServers(): ReadonlyMap<string, PoolServer> {
    return this.servers;
  }

  // ---- applying a snapshot ---------------------------------------------------------------

  private isHealthy = (device: DiscoveredDevice): boolean => isDeviceHealthy(device, this.options.linkState, this.vanished);

  private async apply(snapshot: DiscoverySnapshot): Promise<void> {
    this.snapshot = snapshot;
    this.vanished.clear();
    const byAddress = new Map(snapshot.devices.map((d) => [d.pciAddress, d]));
    const wanted = new Map<string, PoolState>();
    for (const pool of snapshot.pools) {
      const devices = pool.devices.map((id) => byAddress.get(id)).filter((d): d is DiscoveredDevice => d !== undefined);
      if (devices.length > 0) wanted.set(pool.resourceName, { pool, devices, vhostNetAvailable: snapshot.vhostNetAvailable });
    }
    for (const [name, server] of [...this.servers]) {
      if (wanted.has(name)) continue;
      this.servers.delete(name);
      this.log('info', `pool ${name} is empty or no longer configured; stopping its server`);
      await server.stop();
    }
    for (const [name, state] of wanted) {
      // Reading every health netdev once makes a polling link source track it.
      for (const device of state.devices) for (const netdev of healthNetdevs(device)) this.options.linkState.read(netdev);
      const existing = this.servers.get(name);
      if (existing) {
        await existing.update(state);
        continue;
      }
      const server = new PoolServer(state, {
        registration: this.registration,
        devinfoDir: this.options.devinfoDir,
        sysfsRoot: this.options.sysfsRoot,
        policy: this.options.policy ?? 'pack',
        logger: this.options.logger,
        isHealthy: this.isHealthy,
        restartDebounceMs: this.options.restartDebounceMs,
        cdiDir: this.options.cdiDir ?? null,
      });
      this.servers.set(name, server);
      this.log('info', `pool ${name}: ${state.devices.length} devices, serving on ${server.socketPath}`);
      server.start();
    }
    this.hostFingerprint = this.computeFingerprint();
  }

  private refreshHealth(): void {
    for (const server of this.servers.values()) server.refreshHealth();
  }

  /** Rediscovers and applies; a failing load (bad config) is logged and changes nothing. */
  reload(reason: string): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    if (this.reloading) {
      this.reloadPending = reason;
      return this.reloading;
    }
    this.reloading = (async () => {
      this.log('info', `reloading: ${reason}`);
      try {
        const snapshot = await this.options.loadSnapshot();
        if (this.stopped) return false;
        await this.apply(snapshot);
        this.log('info', `reload done: ${this.servers.size} pools served`);
        return true;
      } catch (error) {
        for (const problem of problemsOf(error)) this.log('error', `config rejected: ${problem}`);
        this.log('error', `keeping the ${this.servers.size} running pools unchanged`);
        return false;
      } finally {
        this.reloads++;
      }
    })().finally(() => {
      this.reloading = null;
      const pending = this.reloadPending;
      this.reloadPending = null;
      if (pending && !this.stopped) void this.reload(pending);
    });
    return this.reloading;
  }

  // ---- watchers --------------------------------------------------------------------------

  private async kubeletSocketIdentity(): Promise<string | null> {
    if (this.registration.kind !== 'direct') return null;
    const stats = await lstat(join(this.registration.devicePluginDir, KUBELET_SOCKET)).catch(() => null);
    return stats?.isSocket() ? `${stats.ino}:${stats.birthtimeMs || stats.ctimeMs}` : null;
  }

  private watchDirectory(dir: string): void {
    const watcher = watch(dir, (_event, filename) => void this.onDirectoryEvent(filename === null ? null : String(filename)));
    watcher.on('error', (error) => this.log('error', `watching ${dir} failed: ${errorText(error)}`));
    this.watchers.push(watcher);
  }

  private async onDirectoryEvent(filename: string | null): Promise<void> {
    if (this.stopped) return;
    if (this.registration.kind === 'direct' && (filename === null || filename === KUBELET_SOCKET)) {
      const id = await this.kubeletSocketIdentity();
      if (id !== null && id !== this.kubeletSocketId) {
        this.log('info', 'kubelet.sock was re-created (kubelet restart); re-registering every pool');
        for (const server of this.servers.values()) server.requestRestart('kubelet restarted');
      }
      this.kubeletSocketId = id;
    }
    for (const server of this.servers.values()) {
      if (filename === null || filename === basename(server.socketPath)) await server.checkSocket();
    }
  }

  private watchConfigFile(file: string): void {
    const name = basename(file);
    // Watch the directory: editors and ConfigMap updates replace the file (rename / `..data` swap).
    const watcher = watch(dirname(file), (_event, changed) => {
      const changedName = changed === null ? null : String(changed);
      if (changedName !== null && changedName !== name && changedName !== '..data') return;
      if (this.configTimer) clearTimeout(this.configTimer);
      this.configTimer = setTimeout(() => void this.reload(`config file ${file} changed`), this.options.configDebounceMs ?? 100);
    });
    watcher.on('error', (error) => this.log('error', `watching ${file} failed: ${errorText(error)}`));
    this.watchers.push(watcher);
  }

  /** VF counts of PFs, drivers of devices and the PCI device count: cheap reads that reveal a needed rediscovery. */
  private computeFingerprint(): string {
    const devicesDir = join(this.options.sysfsRoot, 'bus', 'pci', 'devices');
    const parts = [`n=${listDir(devicesDir)?.length ?? -1}`];
    for (const device of this.snapshot?.devices ?? []) {
      const dir = join(devicesDir, device.pciAddress);
      if (device.sriovTotalVfs !== null) parts.push(`${device.pciAddress}#${readSmallText(join(dir, 'sriov_numvfs'))}`);
      parts.push(`${device.pciAddress}>${readLinkBase(join(dir, 'driver'))}`);
    }
    return parts.join(' ');
  }

  private pollHost(): void {
    if (this.stopped || !this.snapshot) return;
    // Safety net behind inotify (a re-created directory or an event-queue overflow loses events):
    // the same checks a directory event would trigger, at the poll's cost of one lstat per socket.
    void this.onDirectoryEvent(null);
    const devicesDir = join(this.options.sysfsRoot, 'bus', 'pci', 'devices');
    let newlyVanished = false;
    // No PCI device directory at all means a wrong --sysfs-root, not every device unplugged at once.
    const pciBusPresent = existsSync(devicesDir);
    for (const server of pciBusPresent ? this.servers.values() : []) {
      for (const device of server.devices()) {
        // Auxiliary devices live elsewhere; their presence is covered by rediscovery.
        if (!PCI_ADDRESS.test(device.ID) || this.vanished.has(device.ID) || existsSync(join(devicesDir, device.ID))) continue;
        this.vanished.add(device.ID);
        newlyVanished = true;
      }
    }
    if (newlyVanished) this.refreshHealth(); // Unhealthy at once; rediscovery then drops them
    const fingerprint = this.computeFingerprint();
    if (fingerprint !== this.hostFingerprint) {
      this.hostFingerprint = fingerprint;
      void this.reload('devices changed in sysfs (VF count, driver or device set)');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.configTimer) clearTimeout(this.configTimer);
    for (const watcher of this.watchers) watcher.close();
    this.unwatchLinks?.();
    await this.reloading?.catch(() => undefined);
    const servers = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(servers.map((server) => server.stop()));
    await this.cleanCdiSpecs('stop');
  }

  /** As the reference plugin: no `sriov-dp-*` CDI spec survives a start or a stop. */
  private async cleanCdiSpecs(when: 'start' | 'stop'): Promise<void> {
    const dir = this.options.cdiDir;
    if (!dir) return;
    try {
      const removed = await removeStaleCdiSpecs(dir);
      if (removed.length > 0) this.log('info', `${when}: removed CDI specs ${removed.join(', ')} from ${dir}`);
    } catch (error) {
      this.log('error', `${when}: cannot clean CDI specs in ${dir}: ${errorText(error)}`);
    }
  }
}
