// Runs a program with stdin, collects stdout and stderr, bounded by a timeout — the way CNI plugins
// are exec'd. With the addon the process is started by posix_spawn (no fork: the cost does not grow
// with the size of this process, while child_process.spawn forks it and blocks the event loop for
// milliseconds per plugin); without it, child_process.spawn does the same. Never through a shell.
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { nativeBinding, type NativeBinding } from './addon.js';
import { errnoName } from './errors.js';

export interface ProcessOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The timeout fired and the process group was killed. */
  timedOut: boolean;
}

/** How long the pipes may stay open after the timeout's SIGKILL (a descendant that left the group holds them). */
const afterKillGraceMs = 1000;

const signalNames = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, number]) => [number, name as NodeJS.Signals]));

type Spawner = Required<Pick<NativeBinding, 'spawnProcess' | 'waitProcess'>>;
let spawner: Spawner | null | undefined;

function nativeSpawner(): Spawner | null {
  if (spawner === undefined) {
    try {
      const binding = nativeBinding();
      spawner = binding.spawnProcess && binding.waitProcess ? { spawnProcess: binding.spawnProcess.bind(binding), waitProcess: binding.waitProcess.bind(binding) } : null;
    } catch {
      spawner = null;
    }
  }
  return spawner;
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Runs `binary` (argv = [binary]) with exactly `env`, writes `input` to its stdin, and resolves when it
 * has exited and its output pipes are closed. It runs in a process group of its own; after `timeoutMs`
 * the whole group is killed. Rejects (with the errno `code`, e.g. ETXTBSY) only when it cannot start.
 */
export function runProcess(binary: string, env: NodeJS.ProcessEnv, input: string, timeoutMs: number): Promise<ProcessOutcome> {
  const native = nativeSpawner();
  return native === null ? runWithChildProcess(binary, env, input, timeoutMs) : runWithPosixSpawn(native, binary, env, input, timeoutMs);
}

async function runWithPosixSpawn(native: Spawner, binary: string, env: NodeJS.ProcessEnv, input: string, timeoutMs: number): Promise<ProcessOutcome> {
  const envList = Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined).map(([key, value]) => `${key}=${value}`);
  let started: Awaited<ReturnType<Spawner['spawnProcess']>>;
  try {
    started = await native.spawnProcess(binary, envList);
  } catch (error) {
    // Named as child_process names it (ENOENT, EACCES, ETXTBSY, ...), with the project's one errno table.
    const errno = (error as { errno?: unknown }).errno;
    if (typeof errno === 'number') Object.assign(error as object, { code: errnoName(-errno) });
    throw error;
  }
  const { pid } = started;
  return new Promise((resolve) => {
    const stdin = new Socket({ fd: started.stdin, readable: false, writable: true });
    const stdout = new Socket({ fd: started.stdout, readable: true, writable: false });
    const stderr = new Socket({ fd: started.stderr, readable: true, writable: false });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let openPipes = 2;
    let graceTimer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      timedOut = true;
      killGroup(pid);
      graceTimer = setTimeout(() => {
        stdout.destroy();
        stderr.destroy();
      }, afterKillGraceMs);
    }, timeoutMs);
    const finish = (status: { code: number | null; signal: number | null }) => {
      clearTimeout(deadline);
      if (graceTimer) clearTimeout(graceTimer);
      stdin.destroy();
      resolve({
        code: status.code,
        signal: status.signal === null ? null : signalNames.get(status.signal) ?? null,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    };
    // Both pipes closed: the process has exited or is about to (or it closed them and runs on until
    // the timeout kills it). Reap it off the event loop.
    const pipeClosed = () => {
      openPipes -= 1;
      if (openPipes === 0) native.waitProcess(pid).then(finish, () => finish({ code: null, signal: null }));
    };
    stdout.on('data', (chunk: Buffer) => out.push(chunk));
    stderr.on('data', (chunk: Buffer) => err.push(chunk));
    stdout.on('error', () => undefined);
    stderr.on('error', () => undefined);
    stdout.once('close', pipeClosed);
    stderr.once('close', pipeClosed);
    stdin.on('error', () => undefined); // a plugin that exits without reading stdin is not our error
    stdin.end(input);
  });
}

async function runWithChildProcess(binary: string, env: NodeJS.ProcessEnv, input: string, timeoutMs: number): Promise<ProcessOutcome> {
  // Loaded only here: with the addon (every thin-mode call) node:child_process is never needed.
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout also kills whatever the plugin started (and that holds our pipes).
    const child = spawn(binary, [], { env, stdio: ['pipe', 'pipe', 'pipe'], shell: false, detached: true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) killGroup(child.pid);
      else child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => undefined);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), timedOut });
    });
    child.stdin.end(input);
  });
}

/** For tests: run through child_process.spawn even when the addon is there. */
export function runProcessWithChildProcess(binary: string, env: NodeJS.ProcessEnv, input: string, timeoutMs: number): Promise<ProcessOutcome> {
  return runWithChildProcess(binary, env, input, timeoutMs);
}
