// How every tier starts tap. The suites are compiled JavaScript under dist/, so tap's TypeScript
// plugin is removed: on Node < 22 it loads ts-node into every test process (about 0.5 s per file on an
// idle host, 10 s under the lab's TCG). Removing a plugin makes tap rebuild its test class once, into
// node_modules/@tapjs/test/test-built (test/setup.sh does that right after `npm ci`).
import { join } from 'node:path';

export function tapBin(repoRoot: string): string {
  // tap's own bin entry (its package.json "bin": dist/esm/run.mjs).
  return join(repoRoot, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs');
}

export const tapPluginArgs = ['--plugin=!@tapjs/typescript'];

/** Options common to every tier: no coverage (tap's default coverage check fails a run without it). */
export const tapCommonArgs = ['--disable-coverage', '--reporter=tap', ...tapPluginArgs];

/** The environment every tap run gets: no .taprc or package.json "tap" section from the caller's tree. */
export const tapEnv = { TAP_RCFILE: '/dev/null' };
