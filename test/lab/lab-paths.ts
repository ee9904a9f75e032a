// Where the lab keeps its inputs and its cache. Shared by the host
// side (prepare, run) so both agree on one layout under test/lab/work/.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelRelease, type LabKernel } from './kernel-choice.js';

/** dist/test/lab/ → the repository root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** Plain (uncompiled) lab files: guest init scripts and the vfio probe's C source. */
export const labSourceDir = join(repoRoot, 'test', 'lab');
export const labWorkDir = process.env['NICPLEX_LAB_WORK'] ?? join(labSourceDir, 'work');

/**
 * One directory per resolved kernel (test/lab/kernel-choice.ts), keyed by ABI and Debian version, so
 * a cache is reused exactly while apt still offers that version as the newest complete set.
 */
export function kernelDirFor(kernel: LabKernel): string {
  return join(labWorkDir, `kernel-${kernelRelease(kernel)}-${kernel.debianVersion}`);
}
export const qemuDir = join(labWorkDir, 'qemu-backports');
export const toolsBinDir = join(labWorkDir, 'bin');
export const runsDir = join(labWorkDir, 'runs');
