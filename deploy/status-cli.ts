// `nicplex status`: yargs wiring only; the client is imported when the command runs.
import type { CommandModule } from 'yargs';

export interface StatusArgs {
  'socket-dir': string;
  output: 'table' | 'json';
  'timeout-seconds': number;
}

export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: 'Ask the running agent for its pools, attachments, kubelet registration and caches',
  builder: (y) =>
    y
      .option('socket-dir', { type: 'string', default: '/run/nicplex', describe: 'the agent\'s --socket-dir (nicplex.sock, or multus.sock for a multus-shim conf)' })
      .option('output', { choices: ['table', 'json'] as const, default: 'table' as const, describe: 'output format' })
      .option('timeout-seconds', { type: 'number', default: 5, describe: 'how long to wait for the answer' }),
  handler: async (args) => {
    const { runStatus } = await import('./status-command.js');
    process.exitCode = await runStatus(args);
  },
};
