// Runs `nicplex agent` inside a CniLab's host netns (its delegates then create links there, never in
// the root netns) and the C shim the way a runtime execs it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { CniCall, CniLab } from './cni-lab.js';
import { REFERENCE_PLUGIN_DIR, runPlugin } from './cni-lab.js';
import { cliPath, repoRoot } from './paths.js';

export const shimPath = join(repoRoot, 'build', 'Release', 'nicplex-shim');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** True when something accepts connections on the unix socket. */
export function accepts(socketPath: string): Promise<boolean> {
  if (!existsSync(socketPath)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

export class AgentProcess {
  private stderrText = '';
  /** How long the agent took from spawn to accepting a connection on its socket. */
  listenMs = 0;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess, readonly socketPath: string) {
    child.stderr!.on('data', (chunk: Buffer) => { this.stderrText += chunk.toString(); });
    this.exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Starts the agent in the lab's host netns (metrics off unless `args` sets --metrics-address) and waits (bounded) until its socket accepts requests. */
  static start(lab: CniLab, args: string[], socketPath: string): Promise<AgentProcess> {
    const metrics = args.includes('--metrics-address') ? [] : ['--metrics-address', ''];
    return AgentProcess.launch(['ip', 'netns', 'exec', lab.hostNs, process.execPath], [...metrics, ...args], socketPath);
  }

  /** In the test's own netns: only for agents whose delegates touch no links (spy plugins), e.g. to reach 127.0.0.1. */
  static startInRootNetns(args: string[], socketPath: string, options: { nodeArgs?: string[]; timeoutMs?: number } = {}): Promise<AgentProcess> {
    return AgentProcess.launch([process.execPath, ...(options.nodeArgs ?? [])], args, socketPath, options.timeoutMs);
  }

  /** `timeoutMs` bounds the wait for the socket (default 15 s; the lab's emulated CPU needs more). */
  private static async launch(prefix: string[], args: string[], socketPath: string, timeoutMs = 15_000): Promise<AgentProcess> {
    const started = Date.now();
    const argv = [...prefix.slice(1), cliPath, 'agent', ...args];
    const child = spawn(prefix[0]!, argv, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
    });
    const agent = new AgentProcess(child, socketPath);
    const stderrClosed = new Promise((resolve) => child.stderr!.once('close', resolve));
    let spawnError: Error | undefined;
    child.once('error', (error) => { spawnError = error; });
    // A SIGKILLed predecessor leaves its socket file behind: wait for one that accepts a connection.
    const deadline = started + timeoutMs;
    while (!(await accepts(socketPath))) {
      const exited = child.exitCode !== null || child.signalCode !== null || spawnError !== undefined;
      if (exited || Date.now() > deadline) {
        if (!exited) child.kill('SIGKILL');
        const { code, signal } = await Promise.race([agent.exit, sleep(5000).then(() => ({ code: null, signal: null }))]);
        // The exit event can come before the last of stderr: read it to its end (bounded).
        await Promise.race([stderrClosed, sleep(2000)]);
        const how = spawnError ? `could not be spawned (${spawnError.message})` : exited ? `exited (code ${code}, signal ${signal})` : `was killed after ${timeoutMs} ms without listening`;
        throw new Error(`the agent did not listen on ${socketPath}: it ${how} after ${Date.now() - started} ms; argv: ${[prefix[0]!, ...argv].join(' ')}; stderr:\n${agent.stderr()}`);
      }
      await sleep(25);
    }
    agent.listenMs = Date.now() - started;
    return agent;
  }

  get pid(): number {
    return this.child.pid!;
  }

  stderr(): string {
    return this.stderrText;
  }

  /** Peak resident set size so far (VmHWM), in MiB. */
  peakRssMiB(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kib = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    return kib / 1024;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exit;
  }
}

export interface ShimCall extends CniCall { ms: number }

/** Execs the shim (optionally under another name, e.g. multus-shim) with the CNI env and the conf on stdin. */
export async function runShim(env: Record<string, string>, conf: unknown, options: { shim?: string; argv0?: string } = {}): Promise<ShimCall> {
  const started = process.hrtime.bigint();
  const call = await runPlugin(options.shim ?? shimPath, [], { CNI_PATH: REFERENCE_PLUGIN_DIR, ...env }, conf, options);
  return { ...call, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}
