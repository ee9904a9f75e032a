// A device plugin (PluginManager) wired to a kubelet stand-in in a fresh temp dir, for
// integration tests and the benchmark. Snapshots come from the test (`setSnapshot`), so the
// server side is exercised without depending on a particular sysfs layout.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DiscoverySnapshot } from '../../deviceplugin/model.js';
import type { LinkStateSource } from '../../deviceplugin/link-state.js';
import { memoryLogger, type Logger } from '../../deviceplugin/server/log.js';
import { PluginManager, type PluginManagerOptions } from '../../deviceplugin/server/plugin-manager.js';
import { FakeLinkStateSource } from './fake-link-state.js';
import { KubeletStandin } from './kubelet-standin.js';

export interface HarnessOptions {
  snapshot: DiscoverySnapshot;
  linkState?: LinkStateSource;
  /** Create plugins_registry so the plugin uses the plugin watcher, and make the stand-in watch it. */
  watcher?: boolean;
  sysfsRoot?: string;
  manager?: Partial<PluginManagerOptions>;
  logger?: Logger;
  /** Where device-info files go; default `<root>/devinfo` (production uses tmpfs under /run). */
  devinfoDir?: string;
}

export interface Harness {
  root: string;
  devicePluginDir: string;
  registryDir: string;
  devinfoDir: string;
  kubelet: KubeletStandin;
  manager: PluginManager;
  linkState: LinkStateSource;
  logger: Logger & { lines?: string[] };
  /** What the next (re)load returns; a thrown error simulates a bad config. */
  setSnapshot(snapshot: DiscoverySnapshot | Error): void;
  close(): Promise<void>;
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const root = mkdtempSync(join(tmpdir(), 'npx-dp-'));
  const devicePluginDir = join(root, 'device-plugins');
  const registryDir = join(root, 'plugins_registry');
  const devinfoDir = options.devinfoDir ?? join(root, 'devinfo');
  mkdirSync(devicePluginDir, { recursive: true });
  if (options.watcher) mkdirSync(registryDir);
  const kubelet = await KubeletStandin.start({ dir: devicePluginDir, pluginsRegistryDir: options.watcher ? registryDir : null });
  let next: DiscoverySnapshot | Error = options.snapshot;
  const linkState = options.linkState ?? new FakeLinkStateSource();
  const logger = options.logger ?? memoryLogger();
  const manager = await PluginManager.start({
    devicePluginDir,
    pluginsRegistryDir: registryDir,
    devinfoDir,
    sysfsRoot: options.sysfsRoot ?? join(root, 'no-sysfs'),
    linkState,
    logger,
    hostPollIntervalMs: 0,
    loadSnapshot: async () => {
      if (next instanceof Error) throw next;
      return next;
    },
    ...options.manager,
  });
  return {
    root, devicePluginDir, registryDir, devinfoDir, kubelet, manager, linkState, logger,
    setSnapshot: (snapshot) => void (next = snapshot),
    close: async () => {
      await manager.stop();
      await kubelet.stop();
      linkState.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** loadSnapshot backed by the real config loader and discovery on a fake sysfs tree. */
export async function realDiscovery(host: { sysfsRoot: string; procRoot: string; devRoot: string }, configPath: string): Promise<() => Promise<DiscoverySnapshot>> {
  const [{ loadDevicePluginConfig }, { discover }] = await Promise.all([import('../../config/deviceplugin-config.js'), import('../../deviceplugin/discovery/index.js')]);
  return async () => {
    const { config } = await loadDevicePluginConfig(configPath, { defaultPrefix: 'intel.com' });
    return discover({ sysfsRoot: host.sysfsRoot, procRoot: host.procRoot, devRoot: host.devRoot, config, pciIdsPath: null });
  };
}
