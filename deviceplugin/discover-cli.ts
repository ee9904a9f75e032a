// `nicplex discover`: yargs wiring only; the work is imported when the command runs.
import type { CommandModule } from 'yargs';

export interface DiscoverArgs {
  config: string;
  'sysfs-root': string;
  'resource-prefix': string;
  output: 'table' | 'json';
  'proc-root': string;
  'pci-ids'?: string;
}

export const discoverCommand: CommandModule<object, DiscoverArgs> = {
  command: 'discover',
  describe: 'List PCI network devices and the resource pools the device-plugin config puts them in',
  builder: (y) =>
    y
      .option('config', { type: 'string', demandOption: true, describe: 'device plugin config.json (sriov-network-device-plugin format)' })
      .option('sysfs-root', { type: 'string', default: '/sys', describe: 'root of the sysfs tree to scan' })
      .option('resource-prefix', { type: 'string', default: 'intel.com', describe: 'default resource prefix for pools that set none' })
      .option('output', { choices: ['table', 'json'] as const, default: 'table' as const, describe: 'output format' })
      .option('proc-root', { type: 'string', default: '/proc', describe: 'where net/route and net/ipv6_route are read (default routes of the current network namespace)' })
      .option('pci-ids', { type: 'string', describe: 'pci.ids file for vendor/device names (default: /usr/share/misc/pci.ids or /usr/share/hwdata/pci.ids; "none" for hex IDs)' }),
  handler: async (args) => {
    const { runDiscover } = await import('./discover-command.js');
    process.exitCode = await runDiscover(args);
  },
};
