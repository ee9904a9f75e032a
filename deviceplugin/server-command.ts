// `nicplex deviceplugin`: load the config, discover, serve every non-empty pool to the kubelet, and
// keep doing so across kubelet restarts, config edits (file change or SIGHUP) and VF changes until
// SIGTERM/SIGINT, which stops the servers and removes sockets and device-info files (exit 0).
import { ConfigError, formatProblem, loadDevicePluginConfig } from '../config/deviceplugin-config.js';
import { discover } from './discovery/index.js';
import { SysfsLinkStateSource, type LinkStateSource } from './link-state.js';
import type { DevicepluginArgs } from './server-cli.js';
import { errorText, stderrLogger, type Logger } from './server/log.js';
import { PluginManager } from './server/plugin-manager.js';

/**
 * netlink link events when asked, or by default when we look at the real /sys (a fake sysfs root in
 * tests has netdevs the kernel does not know); sysfs operstate polling otherwise or when the native
 * addon cannot be loaded.
 */
async function openLinkState(args: DevicepluginArgs, logger: Logger): Promise<LinkStateSource> {
  const choice = args['link-state'];
  if (choice === 'netlink' || (choice === 'auto' && args['sysfs-root'] === '/sys')) {
    try {
      // Loaded only here: the netlink source needs the native addon, the sysfs source does not.
      const { NetlinkLinkStateSource } = await import('./netlink-link-state.js');
      const source = new NetlinkLinkStateSource({
        sysfsRoot: args['sysfs-root'],
        onFallback: (error) => logger.log('warn', `netlink link monitor failed (${error.message}); polling sysfs operstate instead`),
      });
      await source.ready();
      logger.log('info', 'link state: netlink link events');
      return source;
    } catch (error) {
      logger.log('warn', `netlink link-state source unavailable (${errorText(error)}); polling sysfs operstate instead`);
    }
  }
  logger.log('info', 'link state: sysfs operstate, polled every 250 ms');
  return new SysfsLinkStateSource({ sysfsRoot: args['sysfs-root'] });
}

export interface RunningDevicePlugin {
  manager: PluginManager;
  /** The last discovery's pools (resource name → device IDs), for standalone CNI pools "discovered". */
  pools(): Record<string, string[]>;
  reload(reason: string): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Starts everything `nicplex deviceplugin` runs (discovery, one server per pool, watchers) and returns
 * it; `nicplex agent` runs it next to the meta-CNI server. Throws ConfigError on a bad config.
 */
export async function startDevicePlugin(args: DevicepluginArgs, logger: Logger): Promise<RunningDevicePlugin> {
  const linkState = await openLinkState(args, logger);
  const pciIds = args['pci-ids'];
  let lastPools: Record<string, string[]> = {};
  const loadSnapshot = async () => {
    const { config, warnings } = await loadDevicePluginConfig(args.config, { defaultPrefix: args['resource-prefix'] });
    for (const warning of warnings) logger.log('warn', `config: ${formatProblem(warning)}`);
    const snapshot = await discover({
      sysfsRoot: args['sysfs-root'],
      procRoot: args['proc-root'],
      devRoot: args['dev-root'],
      config,
      pciIdsPath: pciIds === undefined ? undefined : pciIds === 'none' ? null : pciIds,
    });
    lastPools = Object.fromEntries(snapshot.pools.map((pool) => [pool.resourceName, [...pool.devices].sort()]));
    return snapshot;
  };
  let manager: PluginManager;
  try {
    manager = await PluginManager.start({
      devicePluginDir: args['device-plugin-dir'],
      pluginsRegistryDir: args['plugins-registry-dir'],
      registrationMode: args['registration-mode'],
      devinfoDir: args['devinfo-dir'],
      sysfsRoot: args['sysfs-root'],
      linkState,
      loadSnapshot,
      logger,
      policy: args['preferred-allocation'],
      watchFiles: [args.config],
      cdiDir: args['use-cdi'] ? args['cdi-dir'] : null,
    });
  } catch (error) {
    linkState.close();
    throw error;
  }
  return {
    manager,
    pools: () => lastPools,
    reload: (reason) => manager.reload(reason),
    async stop() {
      await manager.stop();
      linkState.close();
    },
  };
}

export function logStartFailure(error: unknown, logger: Logger): void {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) logger.log('error', `config: ${formatProblem(problem)}`);
    logger.log('error', 'the config is invalid; nothing is served');
  } else logger.log('error', `cannot start: ${errorText(error)}`);
}

export async function runDevicePlugin(args: DevicepluginArgs): Promise<number> {
  const logger = stderrLogger(args['log-level']);
  // Listen before starting, so a SIGTERM during start-up still ends in a clean shutdown.
  let reloadOnHup: () => void = () => logger.log('info', 'SIGHUP before start-up finished: the config is being read anyway');
  process.on('SIGHUP', () => reloadOnHup());
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  let plugin: RunningDevicePlugin;
  try {
    plugin = await startDevicePlugin(args, logger);
  } catch (error) {
    logStartFailure(error, logger);
    return 1;
  }
  reloadOnHup = () => void plugin.reload('SIGHUP');
  const signal = await stopSignal;
  logger.log('info', `${signal}: stopping servers, removing sockets and device-info files`);
  await plugin.stop();
  logger.log('info', 'stopped');
  // Everything is cleaned up; a stray handle (a gRPC channel winding down) must not delay the exit.
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}
