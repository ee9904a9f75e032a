// What each test tier needs from the machine. Each check returns null when the tier can run,
// or the reason it cannot, which the tier runner prints.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export type TierName = 'unit' | 'integration' | 'e2e' | 'lab';

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function commandExists(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function canCreateNetns(): boolean {
  try {
    execFileSync('unshare', ['--net', 'true'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

export const tierRequirements: Record<TierName, () => Promise<string | null>> = {
  unit: async () => null,
  integration: async () => {
    if (!isRoot()) return 'needs root (network namespaces, veth, macvlan, bridge)';
    if (!commandExists('ip')) return 'needs iproute2 (`ip`)';
    if (!canCreateNetns()) return 'cannot create a network namespace here (unshare --net failed)';
    return null;
  },
  e2e: async () => {
    if (!isRoot()) return 'needs root (containerd and podman)';
    for (const tool of ['containerd', 'podman']) {
      if (!commandExists(tool)) return `needs ${tool} (installed by test/setup.sh with apt)`;
    }
    if (!existsSync('/usr/lib/cni/bridge')) return 'needs the reference CNI plugins in /usr/lib/cni (apt: containernetworking-plugins)';
    return null;
  },
  lab: async () => {
    if (!isRoot()) return 'needs root (QEMU lab VM)';
    if (!commandExists('qemu-system-x86_64')) return 'needs qemu-system-x86_64 (installed by test/setup.sh with apt)';
    return null;
  },
};
