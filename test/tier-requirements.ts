// What each test tier needs from the machine. Each check returns null when the tier can run,
// or the reason it cannot, which the tier runner prints.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { commandExists } from './helpers/host-tools.js';

export type TierName = 'unit' | 'integration' | 'reliability' | 'e2e' | 'lab';

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
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
    for (const plugin of ['bridge', 'macvlan', 'host-local', 'static']) {
      if (!existsSync(`/usr/lib/cni/${plugin}`)) return `needs the reference CNI plugin /usr/lib/cni/${plugin} (apt: containernetworking-plugins)`;
    }
    return null;
  },
  // Crash, race, churn and hostile-input tests: the same host needs as integration (they drive the
  // agent and thin mode on veth/macvlan in namespaces they create).
  reliability: async () => tierRequirements.integration(),
  e2e: async () => {
    if (!isRoot()) return 'needs root (containerd and podman)';
    // mmdebstrap, strip and curl: deploy/build-image.sh, which the image test runs.
    for (const tool of ['containerd', 'containerd-shim-runc-v2', 'ctr', 'runc', 'podman', 'conmon', 'nsenter', 'tar', 'mmdebstrap', 'strip', 'curl']) {
      if (!commandExists(tool)) return `needs ${tool} (installed by test/setup.sh with apt)`;
    }
    if (!existsSync('/usr/lib/cni/bridge') || !existsSync('/usr/lib/cni/macvlan') || !existsSync('/usr/lib/cni/loopback')) {
      return 'needs the reference CNI plugins in /usr/lib/cni (apt: containernetworking-plugins)';
    }
    // The test images are a rootfs holding the static busybox; there is no registry to pull from.
    if (!existsSync('/bin/busybox')) return 'needs /bin/busybox for the test images (apt: busybox-static)';
    if (!canCreateNetns()) return 'cannot create a network namespace here (unshare --net failed)';
    return null;
  },
  lab: async () => {
    if (!isRoot()) return 'needs root (QEMU lab VM)';
    if (process.arch !== 'x64') return `needs an x86_64 host (the lab boots Debian's amd64 kernel; this is ${process.arch})`;
    // The lab fetches its kernel and QEMU >= 8 itself with apt (test/lab/prepare.ts); the host's
    // bookworm QEMU provides the shared libraries the extracted backports QEMU links against.
    for (const tool of ['qemu-system-x86_64', 'apt-get', 'dpkg-deb', 'cpio', 'gcc', 'make', 'depmod']) {
      if (!commandExists(tool)) return `needs ${tool} (installed by test/setup.sh with apt)`;
    }
    if (!existsSync('/bin/busybox')) return 'needs a static /bin/busybox for the initramfs (apt: busybox-static)';
    return null;
  },
};
