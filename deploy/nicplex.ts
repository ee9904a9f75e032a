#!/usr/bin/env node
// The one nicplex CLI. Runtimes exec the CNI entry on every pod event, so that path is
// dispatched before yargs (≈100 ms to import) and before any product module is loaded.
import { basename } from 'node:path';

const invokedAs = basename(process.argv[1] ?? 'nicplex');
// A runtime execs `<binDir>/nicplex` (the CNI `type`) with no arguments and CNI_COMMAND set: that is CNI too.
const isCniInvocation = (invokedAs !== 'nicplex' && invokedAs !== 'nicplex.js') || process.argv[2] === 'cni'
  || (process.argv.length === 2 && process.env['CNI_COMMAND'] !== undefined);

async function main(): Promise<void> {
  if (isCniInvocation) {
    const { runCniEntry } = await import('../cni/entry.js');
    process.exitCode = await runCniEntry(process.argv[2] === 'cni' ? process.argv.slice(3) : process.argv.slice(2));
    return;
  }
  const [{ default: yargs }, { hideBin }, { discoverCommand }, { devicepluginCommand }, { cniCommand }, { agentCommand }, { statusCommand }, { reconcileCommand }] = await Promise.all([
    import('yargs'),
    import('yargs/helpers'),
    import('../deviceplugin/discover-cli.js'),
    import('../deviceplugin/server-cli.js'),
    import('../cni/cli.js'),
    import('./agent-cli.js'),
    import('./status-cli.js'),
    import('../cni/reconcile-command.js'),
  ]);
  await yargs(hideBin(process.argv))
    .scriptName('nicplex')
    .command(discoverCommand)
    .command(devicepluginCommand)
    .command(cniCommand)
    .command(agentCommand)
    .command(statusCommand)
    .command(reconcileCommand)
    .demandCommand(1, 'Name a command; `nicplex --help` lists them.')
    .strict()
    .help()
    .alias('help', 'h')
    .version()
    .fail((message, error, y) => {
      if (error) throw error;
      process.stderr.write(`${y.help()}\n\nnicplex: ${message}\n`);
      process.exit(2);
    })
    .parseAsync();
}

main().catch((error: unknown) => {
  const text = error instanceof Error ? error.message : String(error);
  process.stderr.write(`nicplex: ${text}\n`);
  process.exit(1);
});
