// `nicplex deviceplugin`: yargs wiring only; the server is imported when the command runs.
import type { CommandModule } from 'yargs';

export interface DevicepluginArgs {
  config: string;
  'sysfs-root': string;
  'resource-prefix': string;
  'device-plugin-dir': string;
  'devinfo-dir': string;
}

export const devicepluginCommand: CommandModule<object, DevicepluginArgs> = {
  command: 'deviceplugin',
  describe: 'Serve the configured resource pools to the kubelet over the device-plugin API',
  builder: (y) =>
    y
      .option('config', { type: 'string', demandOption: true, describe: 'device plugin config.json (sriov-network-device-plugin format)' })
      .option('sysfs-root', { type: 'string', default: '/sys', describe: 'root of the sysfs tree to scan' })
      .option('resource-prefix', { type: 'string', default: 'intel.com', describe: 'default resource prefix for pools that set none' })
      .option('device-plugin-dir', { type: 'string', default: '/var/lib/kubelet/device-plugins', describe: "directory holding the kubelet's kubelet.sock and our sockets" })
      .option('devinfo-dir', { type: 'string', default: '/var/run/k8s.cni.cncf.io/devinfo/dp', describe: 'where device-info files are written on Allocate' }),
  handler: async (args) => {
    const { runDevicePlugin } = await import('./server-command.js');
    process.exitCode = await runDevicePlugin(args);
  },
};
