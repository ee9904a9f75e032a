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
    const child = spawn(prefix[0]!, [...prefix.slice(1), cliPath, 'agent', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
    });
    const agent = new AgentProcess(child, socketPath);
    // A SIGKILLed predecessor leaves its socket file behind: wait for one that accepts a connection.
    const deadline = Date.now() + timeoutMs;
    while (!(await accepts(socketPath))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        // A slow start must not leave the agent running after the test that gave up on it.
        if (child.exitCode === null) child.kill('SIGKILL');
        throw new Error(`the agent did not listen on ${socketPath} within 15 s; stderr:\n${agent.stderr()}`);
      }
      await sleep(25);
    }
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
