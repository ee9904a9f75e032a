// Locations tests need, computed from the compiled file's place in dist/test/helpers/.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const cliPath = join(repoRoot, 'dist', 'deploy', 'nicplex.js');
