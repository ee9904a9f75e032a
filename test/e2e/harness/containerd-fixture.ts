// Everything one containerd test needs, set up in order and torn down in reverse through
// t.teardown (so a failing assertion still removes containerd, its mounts, the node netns and
// the temp dirs): node netns → images → CNI dirs → containerd.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerdSandboxInfo, podSandboxConfig, sandboxNetnsPath, type ContainerdSandboxInfo, type PodIdentity } from '../../helpers/cri-client.js';
import type { PodSandboxStatusResponse } from '../../helpers/cri-api.js';
import { startContainerd, type ContainerdInstance } from './containerd.js';
import { makeCniBinDir } from './cni-dirs.js';
import { buildBusyboxRootfsTar, buildOciArchive } from './images.js';
import { sweepStaleE2eState } from './stale-sweep.js';
import { createNodeNetns, listLinks, type LinkInfo, type NodeNetns } from './node-netns.js';

export interface Teardownable {
  teardown(fn: () => unknown): void;
}

export interface ContainerdFixture {
  workDir: string;
  node: NodeNetns;
  cniBinDir: string;
  cniConfDir: string;
  /** host-local dataDir for every network of this test, so leases can be checked. */
  ipamDataDir: string;
  /** Set by start(). */
  containerd?: ContainerdInstance;
  start(): Promise<ContainerdInstance>;
}

export const sandboxImageRef = 'localhost/nicplex-e2e-pause:latest';

/**
 * Creates the node netns, the images and the CNI dirs. The caller writes its network config into
 * `cniConfDir` (and anything else) and then calls start().
 */
export async function prepareContainerd(t: Teardownable, tag: string, masterPeerCidr: string): Promise<ContainerdFixture> {
  await sweepStaleE2eState();
  const workDir = mkdtempSync(join(tmpdir(), `nicplex-e2e-${tag}-${process.pid}-`));
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
  const node = await createNodeNetns(tag, masterPeerCidr);
  t.teardown(() => node.destroy());
  const imageDir = join(workDir, 'image');
  mkdirSync(imageDir);
  const layer = await buildBusyboxRootfsTar(imageDir);
  // The pause stand-in: busybox sleep. StopPodSandbox kills it with SIGKILL, so no signal handling is needed.
  const archive = await buildOciArchive(imageDir, layer, sandboxImageRef, ['/bin/sleep', '86400']);
  const cniBinDir = makeCniBinDir(join(workDir, 'cni-bin'));
  const cniConfDir = join(workDir, 'net.d');
  const ipamDataDir = join(workDir, 'ipam');
  mkdirSync(cniConfDir);
  mkdirSync(ipamDataDir);
  const fixture: ContainerdFixture = {
    workDir,
    node,
    cniBinDir,
    cniConfDir,
    ipamDataDir,
    start: async () => {
      const containerd = await startContainerd({
        workDir: join(workDir, 'containerd'),
        node,
        cniBinDir,
        cniConfDir,
        sandboxImageRef,
        sandboxImageArchive: archive,
        instanceName: `containerd-${tag}`,
      });
      // Registered after the node netns teardown, so it runs first (tap runs teardowns in reverse).
      t.teardown(() => containerd.stop());
      fixture.containerd = containerd;
      return containerd;
    },
  };
  return fixture;
}

export interface RunningSandbox {
  id: string;
  status: PodSandboxStatusResponse;
  info: ContainerdSandboxInfo;
  netnsPath: string;
  links: LinkInfo[];
}

/** RunPodSandbox the way the kubelet would, then look at the sandbox's netns from the outside. */
export async function runSandbox(containerd: ContainerdInstance, workDir: string, pod: PodIdentity, annotations: Record<string, string> = {}): Promise<RunningSandbox> {
  const logDirectory = join(workDir, 'pod-logs', `${pod.namespace}_${pod.name}_${pod.uid}`);
  mkdirSync(logDirectory, { recursive: true });
  const id = await containerd.cri.runPodSandbox(podSandboxConfig(pod, { annotations, logDirectory }));
  const status = await containerd.cri.podSandboxStatus(id, true);
  const info = containerdSandboxInfo(status);
  // The bind mount containerd made (under its state dir); the leftover check needs the path.
  const netnsPath = sandboxNetnsPath(info);
  if (!netnsPath) throw new Error(`containerd reported no network namespace path for sandbox ${id} (pid ${info.pid})`);
  const links = await listLinks({ path: netnsPath });
  return { id, status, info, netnsPath, links };
}
