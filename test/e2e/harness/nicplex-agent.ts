// `nicplex agent` inside a runtime's node netns (so its delegates act there), with the C shim
// installed into the runtime's CNI bin dir as `nicplex` — what the runtime then execs.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { accepts } from '../../helpers/agent-harness.js';
import { cliPath } from '../../helpers/paths.js';
import type { Teardownable } from './containerd-fixture.js';
import type { NodeNetns } from './node-netns.js';

export interface NodeAgent {
  socketDir: string;
  pid: number;
  stderr(): string;
  /** SIGKILL (a crash), resolved once it is gone. */
  kill(): Promise<void>;
  /** Starts it again after kill(). */
  restart(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startNodeAgent(t: Teardownable, node: NodeNetns, workDir: string, cniBinDir: string, extraArgs: string[] = []): Promise<NodeAgent> {
  const socketDir = join(workDir, 'agent-sock');
  const socketPath = join(socketDir, 'nicplex.sock');
  let child: ChildProcess | undefined;
  let stderr = '';
  const launch = async () => {
    // nsenter execs node after entering the netns: the PID we hold is the agent's.
    const started = spawn('nsenter', [`--net=${node.path}`, process.execPath, cliPath, 'agent', '--socket-dir', socketDir, '--metrics-address', '', '--cni-bin-dir', cniBinDir, ...extraArgs], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    started.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child = started;
    const deadline = Date.now() + 15_000;
    while (!(await accepts(socketPath))) {
      if (started.exitCode !== null || Date.now() > deadline) throw new Error(`nicplex agent did not start; stderr:\n${stderr}`);
      await sleep(25);
    }
  };
  const stopWith = async (signal: NodeJS.Signals) => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill(signal);
    const timer = setTimeout(() => current.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  await launch();
  t.teardown(() => stopWith('SIGTERM'));
  return {
    socketDir,
    get pid() { return child?.pid ?? -1; },
    stderr: () => stderr,
    kill: () => stopWith('SIGKILL'),
    restart: launch,
  };
}
