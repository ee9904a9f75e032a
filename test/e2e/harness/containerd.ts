// One private containerd 1.6 per test file: its own root, state, socket and CNI dirs, running in
// the test's node netns. Started by hand because this machine has no systemd; stopped by PID,
// together with the runc shims it started (found by our socket in their command line), and its
// mounts and directories removed, also when the test failed half-way.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CriRuntimeClient } from '../../helpers/cri-client.js';
import type { NodeNetns } from './node-netns.js';
import { killAndWait, pidsMentioning, processExists, unmountUnder } from './host-processes.js';
import { logTail as fileTail, run, runtimeEnv, waitFor } from './run.js';
import { renderTemplate } from './templates.js';
import { ownerRecordName, type ContainerdOwnerRecord } from './stale-sweep.js';

export interface ContainerdOptions {
  /** Private directory for root, config and logs (removed by stop()). */
  workDir: string;
  node: NodeNetns;
  cniBinDir: string;
  cniConfDir: string;
  sandboxImageRef: string;
  sandboxImageArchive: string;
  /** Distinguishes several containerd instances in one process (the benchmark runs three). */
  instanceName: string;
}

export interface ContainerdInstance {
  socket: string;
  pid: number;
  logPath: string;
  /** Where this containerd bind-mounts pod network namespaces (netns_mounts_under_state_dir). */
  netnsDir: string;
  cri: CriRuntimeClient;
  ctr(args: string[]): Promise<string>;
  logTail(lines?: number): string;
  /** Removes every sandbox through CRI, stops containerd and its shims, unmounts and deletes its dirs. */
  stop(): Promise<void>;
}

export async function startContainerd(options: ContainerdOptions): Promise<ContainerdInstance> {
  const root = join(options.workDir, 'root');
  // The socket path must stay under the 108-byte sun_path limit, so state lives in a short /run path.
  const state = `/run/nicplex-e2e-${process.pid}-${options.instanceName}`;
  const socket = join(state, 'containerd.sock');
  mkdirSync(root, { recursive: true });
  mkdirSync(state, { recursive: true });
  const configPath = join(options.workDir, 'containerd.toml');
  writeFileSync(
    configPath,
    renderTemplate('containerd-config.toml', {
      root,
      state,
      socket,
      sandboxImage: options.sandboxImageRef,
      cniBinDir: options.cniBinDir,
      cniConfDir: options.cniConfDir,
    }),
  );
  const logPath = join(options.workDir, 'containerd.log');
  const logFd = openSync(logPath, 'a');
  const env = runtimeEnv();
  let child: ChildProcess;
  try {
    child = spawn('nsenter', [...options.node.enterArgs, 'containerd', '--config', configPath, '--log-level', 'info'], {
      stdio: ['ignore', logFd, logFd],
      env,
    });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start containerd (nsenter did not spawn)');
  child.unref();
  const owner: ContainerdOwnerRecord = { testPid: process.pid, containerdPid: pid, socket, root };
  writeFileSync(join(state, ownerRecordName), JSON.stringify(owner));

  const logTail = (lines = 40): string => fileTail(logPath, lines);
  const cri = new CriRuntimeClient(socket);
  const ctr = async (args: string[]): Promise<string> =>
    (await run('ctr', ['--address', socket, '--namespace', 'k8s.io', ...args], { timeoutMs: 60_000, env })).stdout;

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const problems: string[] = [];
    if (processExists(pid)) {
      try {
        for (const sandbox of await cri.listPodSandbox()) {
          await cri.stopPodSandbox(sandbox.id).catch((error: Error) => problems.push(`stop ${sandbox.id}: ${error.message}`));
          await cri.removePodSandbox(sandbox.id).catch((error: Error) => problems.push(`remove ${sandbox.id}: ${error.message}`));
        }
      } catch (error) {
        problems.push(`list sandboxes: ${(error as Error).message}`);
      }
    }
    cri.close();
    await killAndWait(pid, 10_000);
    for (const shimPid of pidsMentioning(socket)) await killAndWait(shimPid, 5_000);
    await unmountUnder([root, state]);
    rmSync(state, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
    if (problems.length > 0) process.stderr.write(`# containerd cleanup: ${problems.join('; ')}\n`);
  };

  try {
    const outcome = await waitFor(
      'containerd CRI to answer Version',
      async () => {
        if (!processExists(pid)) return 'exited';
        if (!existsSync(socket)) return undefined;
        return cri.version(2_000);
      },
      30_000,
      200,
    );
    if (outcome === 'exited') throw new Error('containerd exited during start-up');
    await ctr(['images', 'import', options.sandboxImageArchive]);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\ncontainerd log:\n${logTail()}`);
  }
  return { socket, pid, logPath, netnsDir: join(state, 'io.containerd.grpc.v1.cri', 'netns'), cri, ctr, logTail, stop };
}
