// Runs the real `nicplex deviceplugin` process (tests and the benchmark), collecting its stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { cliPath } from './paths.js';

export interface RunningPlugin {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export function spawnDevicePlugin(args: string[]): RunningPlugin {
  const child = spawn(process.execPath, [cliPath, 'deviceplugin', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    stderr: () => stderr,
    exit,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return (await exit).code;
    },
  };
}
