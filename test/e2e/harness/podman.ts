// Podman 4.3 with its CNI backend, fully private: containers.conf (via CONTAINERS_CONF), storage
// root/runroot, tmp dir and CNI dirs all live in the test's temp dir, and podman runs in the node
// netns so the networks' host side stays out of the real host netns.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killAndWait, pidsMentioning, unmountUnder } from './host-processes.js';
import type { NodeNetns } from './node-netns.js';
import { run, runtimeEnv, type RunResult } from './run.js';
import { renderTemplate } from './templates.js';

export interface PodmanOptions {
  workDir: string;
  node: NodeNetns;
  cniBinDir: string;
  cniConfDir: string;
}

export interface PodmanInstance {
  /** What every call passes (private storage) and its environment (CONTAINERS_CONF), for tools that run podman themselves. */
  globalFlags: string[];
  env: NodeJS.ProcessEnv;
  /** Runs `podman <args>` in the node netns; throws on a non-zero exit unless allowFailure. */
  podman(args: string[], options?: { allowFailure?: boolean; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  importImage(rootfsTar: string, imageRef: string): Promise<void>;
  /** Removes containers and images, ends leftover conmon processes, unmounts and deletes the storage. */
  cleanUp(): Promise<void>;
}

async function hardNofileLimit(): Promise<string> {
  const { stdout } = await run('sh', ['-c', 'ulimit -Hn']);
  const value = stdout.trim();
  // podman wants a number; "unlimited" would be rejected, and 1048576 is what it asks for by default.
  return /^\d+$/.test(value) ? value : '1048576';
}

export async function preparePodman(options: PodmanOptions): Promise<PodmanInstance> {
  const root = join(options.workDir, 'storage');
  const runroot = join(options.workDir, 'runroot');
  const tmpDir = join(options.workDir, 'libpod-tmp');
  for (const dir of [root, runroot, tmpDir]) mkdirSync(dir, { recursive: true });
  const confPath = join(options.workDir, 'containers.conf');
  const values: Record<string, string> = {
    nofile: await hardNofileLimit(),
    cniBinDir: options.cniBinDir,
    cniConfDir: options.cniConfDir,
    eventsLog: join(options.workDir, 'events.log'),
    tmpDir,
  };
  writeFileSync(confPath, renderTemplate('containers.conf', values));
  const env = runtimeEnv({ CONTAINERS_CONF: confPath });
  const globalFlags = ['--root', root, '--runroot', runroot, '--storage-driver', 'overlay'];

  const podman: PodmanInstance['podman'] = (args, runOptions = {}) =>
    run('nsenter', [...options.node.enterArgs, 'podman', ...globalFlags, ...args], {
      env: { ...env, ...runOptions.env },
      timeoutMs: runOptions.timeoutMs ?? 60_000,
      allowFailure: runOptions.allowFailure ?? false,
    });

  return {
    globalFlags,
    env,
    podman,
    importImage: async (rootfsTar, imageRef) => {
      await podman(['import', '--change', 'CMD ["/bin/sh"]', rootfsTar, imageRef]);
    },
    cleanUp: async () => {
      await podman(['rm', '--all', '--force', '--time', '0'], { allowFailure: true, timeoutMs: 30_000 });
      await podman(['rmi', '--all', '--force'], { allowFailure: true, timeoutMs: 30_000 });
      for (const pid of [...pidsMentioning(root), ...pidsMentioning(runroot)]) await killAndWait(pid, 5_000);
      await unmountUnder([root, runroot, tmpDir]);
      rmSync(options.workDir, { recursive: true, force: true });
    },
  };
}
