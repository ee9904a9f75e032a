// One timed run of a plugin binary (or `nicplex cni`): stdin in, stdout and wall time out.
import { spawn } from 'node:child_process';

export function runTimed(binary: string, args: string[], env: Record<string, string>, stdin: string): Promise<{ code: number; stdout: string; ms: number }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const child = spawn(binary, args, { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, stdio: ['pipe', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    child.stdin.on('error', () => undefined); // a baseline such as /bin/true never reads its stdin
    child.stdin.end(stdin);
  });
}
