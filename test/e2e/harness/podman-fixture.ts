// Everything one podman test needs, torn down in reverse through t.teardown: node netns →
// CNI dirs → private podman storage with a busybox image imported.
import { existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCniBinDir } from './cni-dirs.js';
import { buildBusyboxRootfsTar } from './images.js';
import { sweepStaleE2eState } from './stale-sweep.js';
import { createNodeNetns, type NodeNetns } from './node-netns.js';
import { preparePodman, type PodmanInstance } from './podman.js';
import { waitFor } from './run.js';
import type { Teardownable } from './containerd-fixture.js';

export interface PodmanFixture {
  workDir: string;
  node: NodeNetns;
  cniBinDir: string;
  cniConfDir: string;
  ipamDataDir: string;
  podman: PodmanInstance;
  imageRef: string;
}

export const busyboxImageRef = 'localhost/nicplex-e2e-busybox:latest';

export async function preparePodmanFixture(t: Teardownable, tag: string, masterPeerCidr: string): Promise<PodmanFixture> {
  await sweepStaleE2eState();
  const workDir = mkdtempSync(join(tmpdir(), `nicplex-e2e-${tag}-${process.pid}-`));
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
  const node = await createNodeNetns(tag, masterPeerCidr);
  t.teardown(() => node.destroy());
  const cniBinDir = makeCniBinDir(join(workDir, 'cni-bin'));
  const cniConfDir = join(workDir, 'net.d');
  const ipamDataDir = join(workDir, 'ipam');
  mkdirSync(cniConfDir);
  mkdirSync(ipamDataDir);
  const imageDir = join(workDir, 'image');
  mkdirSync(imageDir);
  const rootfsTar = await buildBusyboxRootfsTar(imageDir);
  const podman = await preparePodman({ workDir: join(workDir, 'podman'), node, cniBinDir, cniConfDir });
  t.teardown(() => podman.cleanUp());
  await podman.importImage(rootfsTar, busyboxImageRef);
  return { workDir, node, cniBinDir, cniConfDir, ipamDataDir, podman, imageRef: busyboxImageRef };
}

/** podman's network namespaces in /run/netns (it names them netns-<uuid>); other tools' are ignored. */
export function podmanNetnsNames(): Set<string> {
  return new Set((existsSync('/run/netns') ? readdirSync('/run/netns') : []).filter((name) => name.startsWith('netns-')));
}

/**
 * podman network namespaces added since `before` that are still there after a bounded wait
 * (podman's cleanup may lag a moment behind `podman run --rm` returning). Empty: nothing was left.
 */
export async function netnsLeftSince(before: Set<string>, timeoutMs = 10_000): Promise<string[]> {
  const added = (): string[] => [...podmanNetnsNames()].filter((name) => !before.has(name));
  return waitFor('the container netns to disappear', async () => (added().length === 0 ? [] : undefined), timeoutMs).catch(() => added());
}

/** Prefix for a container command that first prints its netns identity (`net:[<inode>]`). */
export const printNetnsThen = (command: string): string[] => ['sh', '-c', `readlink /proc/self/ns/net; ${command}`];

/** The netns inode a container printed through printNetnsThen. */
export function printedNetnsInode(output: string): number | undefined {
  const match = /net:\[(\d+)\]/.exec(output);
  return match ? Number(match[1]) : undefined;
}

/** Bind mounts in /run/netns still holding the netns with this inode, after a bounded wait for cleanup. */
export async function netnsMountsLeft(inode: number, timeoutMs = 10_000): Promise<string[]> {
  return waitFor('the container netns to be unmounted', async () => (netnsMountsOf(inode).length === 0 ? [] : undefined), timeoutMs).catch(() => netnsMountsOf(inode));
}

function netnsMountsOf(inode: number): string[] {
  return (existsSync('/run/netns') ? readdirSync('/run/netns') : []).filter((name) => {
    try {
      return statSync(join('/run/netns', name)).ino === inode;
    } catch {
      return false;
    }
  });
}

export interface ContainerAddress {
  ifname: string;
  cidr: string;
}

/** Parses busybox `ip -o -4 addr show` output: "2: eth0    inet 10.231.70.2/24 brd ... scope global eth0". */
export function parseIpOneLineAddresses(output: string): ContainerAddress[] {
  const found: ContainerAddress[] = [];
  for (const line of output.split('\n')) {
    const match = /^\d+:\s+(\S+)\s+inet\s+(\S+)/.exec(line.trim());
    if (match) found.push({ ifname: match[1]!, cidr: match[2]! });
  }
  return found;
}
