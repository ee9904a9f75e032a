// Cleans up after e2e runs that died without their teardowns (SIGKILL, a tap timeout, a crash):
// every name the harness creates carries the test process's pid, so anything whose pid is gone
// is ours and abandoned. Nothing belonging to a live process is touched.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAndWait, pidsMentioning, processExists, unmountUnder } from './host-processes.js';
import { run } from './run.js';

/** What startContainerd records in its state dir, so a sweep can stop exactly that containerd. */
export interface ContainerdOwnerRecord {
  testPid: number;
  containerdPid: number;
  socket: string;
  root: string;
}

export const ownerRecordName = 'nicplex-e2e-owner.json';

function abandoned(pidText: string | undefined): boolean {
  const pid = Number(pidText);
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processExists(pid);
}

async function sweepContainerdState(stateDir: string): Promise<void> {
  const recordPath = join(stateDir, ownerRecordName);
  if (existsSync(recordPath)) {
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as ContainerdOwnerRecord;
    const cmdline = processExists(record.containerdPid) ? readFileSync(`/proc/${record.containerdPid}/cmdline`, 'utf8') : '';
    if (cmdline.startsWith('containerd\0')) await killAndWait(record.containerdPid, 5_000);
    for (const pid of pidsMentioning(record.socket)) await killAndWait(pid, 5_000);
    await unmountUnder([record.root]);
    rmSync(record.root, { recursive: true, force: true });
  }
  await unmountUnder([stateDir]);
  rmSync(stateDir, { recursive: true, force: true });
}

export async function sweepStaleE2eState(): Promise<void> {
  for (const name of existsSync('/run/netns') ? readdirSync('/run/netns') : []) {
    const match = /^npxe2e-[a-z]{1,3}-(\d+)$/.exec(name);
    if (match && abandoned(match[1])) await run('ip', ['netns', 'delete', name], { allowFailure: true });
  }
  for (const name of readdirSync('/run')) {
    const match = /^nicplex-e2e-(\d+)-/.exec(name);
    if (match && abandoned(match[1])) await sweepContainerdState(join('/run', name));
  }
  for (const name of readdirSync(tmpdir())) {
    const match = /^nicplex-e2e-[a-z]{1,3}-(\d+)-/.exec(name);
    if (!match || !abandoned(match[1])) continue;
    const dir = join(tmpdir(), name);
    // Podman's conmon carries its storage paths in its arguments; containerd was handled above.
    for (const pid of [...pidsMentioning(join(dir, 'podman', 'storage')), ...pidsMentioning(join(dir, 'podman', 'runroot'))]) await killAndWait(pid, 5_000);
    await unmountUnder([dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}
