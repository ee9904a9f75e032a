// Running host tools from the e2e harness: never through a shell, always with a time limit,
// and with stderr in the error so a failed step says what the tool said.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Return the result instead of throwing when the command exits non-zero. */
  allowFailure?: boolean;
}

export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        if (error && (error as { killed?: boolean }).killed) {
          reject(new Error(`${command} ${args.join(' ')}: timed out after ${timeoutMs} ms\nstderr: ${stderr}`));
          return;
        }
        if (error && !options.allowFailure) {
          reject(new Error(`${command} ${args.join(' ')}: exit ${exitCode}\nstdout: ${stdout.slice(0, 2000)}\nstderr: ${stderr.slice(0, 4000)}`));
          return;
        }
        resolve({ stdout, stderr, exitCode });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The last `lines` lines of a log file, or a note that it does not exist (for failure diagnostics). */
export function logTail(path: string, lines = 40): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${path})`;
  }
}

/** The environment for a runtime we start: ours, with the sbin dirs where runc and friends live. */
export function runtimeEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${process.env['PATH'] ?? ''}`, ...extra };
}

interface CommentingTest {
  teardown(fn: () => unknown): void;
  passing(): boolean;
  comment(...message: unknown[]): void;
}

/**
 * On failure (or with NICPLEX_E2E_SHOW_LOGS=1), prints the tails of these logs as tap comments.
 * Register it after the fixture, so it runs before the fixture's teardowns delete the logs.
 */
export function showLogsOnFailure(t: CommentingTest, logs: Record<string, string>): void {
  t.teardown(() => {
    if (t.passing() && !process.env['NICPLEX_E2E_SHOW_LOGS']) return;
    for (const [label, path] of Object.entries(logs)) t.comment(`${label} log (tail):\n${logTail(path, 30)}`);
  });
}
