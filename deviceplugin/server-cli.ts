// `nicplex deviceplugin`: yargs wiring only; the server is imported when the command runs.
import type { Argv, CommandModule } from 'yargs';

export interface DevicepluginArgs {
  config: string;
  'sysfs-root': string;
  'resource-prefix': string;
  'device-plugin-dir': string;
  'devinfo-dir': string;
  'plugins-registry-dir'?: string | undefined;
  'registration-mode': 'auto' | 'direct' | 'watcher';
  'proc-root': string;
  'dev-root': string;
  'pci-ids'?: string | undefined;
  'preferred-allocation': 'pack' | 'spread';
  'link-state': 'auto' | 'sysfs' | 'netlink';
  'log-level': 'debug' | 'info' | 'warn' | 'error';
  'use-cdi': boolean;
  'cdi-dir': string;
}

/** The device plugin's flags; `nicplex agent` takes the same ones (there `--config` is optional). */
export function devicepluginOptions<T>(y: Argv<T>, configRequired: boolean) {
  return y
      .option('config', { type: 'string', demandOption: configRequired, describe: `device plugin config.json (sriov-network-device-plugin format); edits are applied live${configRequired ? '' : '; without it no pools are served'}` })
      .option('sysfs-root', { type: 'string', default: '/sys', describe: 'root of the sysfs tree to scan' })
      .option('resource-prefix', { type: 'string', default: 'intel.com', describe: 'default resource prefix for pools that set none' })
      .option('device-plugin-dir', { type: 'string', default: '/var/lib/kubelet/device-plugins', describe: "directory holding the kubelet's kubelet.sock and our sockets" })
      .option('devinfo-dir', { type: 'string', default: '/var/run/k8s.cni.cncf.io/devinfo/dp', describe: 'where device-info files are written on Allocate' })
      .option('plugins-registry-dir', { type: 'string', describe: "kubelet plugin-watcher directory (default: <device-plugin-dir>/../plugins_registry)" })
      .option('registration-mode', { choices: ['auto', 'direct', 'watcher'] as const, default: 'auto' as const, describe: 'auto = plugin watcher when its directory exists, else Register on kubelet.sock' })
      .option('proc-root', { type: 'string', default: '/proc', describe: 'where default routes are read (NICs carrying one are never offered)' })
      .option('dev-root', { type: 'string', default: '/dev', describe: 'where vhost-net and net/tun are looked for' })
      .option('pci-ids', { type: 'string', describe: 'pci.ids file for names ("none" to skip)' })
      .option('preferred-allocation', { choices: ['pack', 'spread'] as const, default: 'pack' as const, describe: 'within one NUMA node: pack devices onto few PFs, or spread them across PFs' })
      .option('link-state', { choices: ['auto', 'sysfs', 'netlink'] as const, default: 'auto' as const, describe: 'where device health reads link state from; auto = netlink events when --sysfs-root is /sys, else sysfs operstate polling' })
      .option('use-cdi', { type: 'boolean', default: false, describe: 'write CDI specs (sriov-dp-*.json) and answer Allocate with CDI device names instead of device nodes' })
      .option('cdi-dir', { type: 'string', default: '/var/run/cdi', describe: 'where CDI specs are written with --use-cdi (the runtime must read this directory)' })
      .option('log-level', { choices: ['debug', 'info', 'warn', 'error'] as const, default: 'info' as const, describe: 'least severe level written to stderr' });
}

export const devicepluginCommand: CommandModule<object, DevicepluginArgs> = {
  command: 'deviceplugin',
  describe: 'Serve the configured resource pools to the kubelet over the device-plugin API',
  builder: (y) => devicepluginOptions(y, true) as Argv<DevicepluginArgs>,
  handler: async (args) => {
    const { runDevicePlugin } = await import('./server-command.js');
    process.exitCode = await runDevicePlugin(args);
  },
};
