// Where the lab keeps its inputs and its cache, and which kernel it boots. Shared by the host
// side (prepare, run) so both agree on one layout under test/lab/work/.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/lab/ → the repository root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** Plain (uncompiled) lab files: guest init scripts and the vfio probe's C source. */
export const labSourceDir = join(repoRoot, 'test', 'lab');
export const labWorkDir = process.env['NICPLEX_LAB_WORK'] ?? join(labSourceDir, 'work');

/**
 * The guest kernel is pinned: `linux-image-amd64` moves with every security update, which changes
 * the ABI, the module directory and the package names. Old ABIs disappear from deb.debian.org, so
 * when this one is gone, bump both values to what `apt-cache policy linux-image-amd64` offers
 * (or override them through the environment without editing the file).
 */
export const pinnedKernel = {
  abi: process.env['NICPLEX_LAB_KERNEL_ABI'] ?? '6.1.0-56',
  debianVersion: process.env['NICPLEX_LAB_KERNEL_VERSION'] ?? '6.1.192-2',
  series: '6.1',
  flavour: 'amd64',
};

export const kernelRelease = `${pinnedKernel.abi}-${pinnedKernel.flavour}`;
export const kernelDir = join(labWorkDir, `kernel-${kernelRelease}`);
export const qemuDir = join(labWorkDir, 'qemu-backports');
export const toolsBinDir = join(labWorkDir, 'bin');
export const runsDir = join(labWorkDir, 'runs');
