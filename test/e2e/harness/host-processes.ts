// Processes and mounts a runtime under test leaves on the host, found by the private paths we
// gave it, so teardown can end exactly those (by PID) and unmount exactly those.
import { readdirSync, readFileSync } from 'node:fs';
import { run, waitFor } from './run.js';

/** True while `pid` runs; a zombie counts as gone (a runtime's orphaned shims are reaped by PID 1, not us). */
export function processExists(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** PIDs of processes whose command line mentions `needle` (the shims carry `-address <our socket>`). */
export function pidsMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.split('\0').includes(needle)) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** Mount points at or under any of `prefixes`, deepest first so they can be unmounted in order. */
export function mountsUnder(prefixes: string[]): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((point) => point.replace(/\\040/g, ' '))
    .filter((point) => prefixes.some((prefix) => point === prefix || point.startsWith(`${prefix}/`)));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function killAndWait(pid: number, graceMs: number): Promise<void> {
  if (!processExists(pid)) return;
  process.kill(pid, 'SIGTERM');
  try {
    await waitFor(`pid ${pid} to exit`, async () => (processExists(pid) ? undefined : true), graceMs);
  } catch {
    if (processExists(pid)) process.kill(pid, 'SIGKILL');
    await waitFor(`pid ${pid} to exit after SIGKILL`, async () => (processExists(pid) ? undefined : true), 5_000).catch(() => undefined);
  }
}

/** Lazily unmounts everything at or under the given directories (a dead runtime leaves overlay and shm mounts). */
export async function unmountUnder(prefixes: string[]): Promise<void> {
  for (const point of mountsUnder(prefixes)) await run('umount', ['-l', point], { allowFailure: true });
}
