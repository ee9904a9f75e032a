// `nicplex cni`: documented here for --help; the real dispatch happens in deploy/nicplex.ts before yargs loads.
import type { CommandModule } from 'yargs';

export const cniCommand: CommandModule = {
  command: 'cni',
  describe: 'Thin-mode CNI entry: reads CNI_* from the environment and the network config from stdin (also run when installed under a CNI binary name)',
  builder: (y) => y,
  handler: () => {
    // Unreachable: `nicplex cni` is dispatched before yargs parses.
  },
};
