// Builds the fast thin-mode CNI entry (part of `npm run build`, after tsc): dist/deploy/cni-fast.js and the
// modules it reaches, bundled by esbuild into dist/cni-fast/nicplex-cni.cjs, then a Node startup snapshot
// of that bundle, dist/cni-fast/nicplex-cni.blob, for the node running this build. A blob only loads in
// the node binary that built it, so dist/cni-fast/nicplex-cni.node names that binary (size, mtime, inode,
// path) for build/Release/nicplex-cni, which otherwise runs the plain dist/deploy/nicplex.js.
// Usage: node dist/deploy/build-cni-fast.js [--node PATH] [--no-snapshot]
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = join(repoRoot, 'dist', 'cni-fast');
const bundlePath = join(outDir, 'nicplex-cni.cjs');
const blobPath = join(outDir, 'nicplex-cni.blob');
const blobNodePath = join(outDir, 'nicplex-cni.node');

/** Packages bundled (and so snapshotted); every other package is required from node_modules at run time. */
const BUNDLED_PACKAGES = new Set(['js-yaml']);

/** Bare package imports become `globalThis.__nicplexRequire(name)`, which deploy/cni-fast.ts sets at run time. */
const runtimeRequire: Plugin = {
  name: 'nicplex-runtime-require',
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, (args) => {
      // `await import('node:https')` in a snapshot: a bundled require of the built-in, made on first use.
      if (args.path.startsWith('node:') && args.kind === 'dynamic-import') return { path: args.path, namespace: 'nicplex-builtin' };
      if (args.path.startsWith('node:') || BUNDLED_PACKAGES.has(args.path.split('/')[0]!)) return undefined;
      return { path: args.path, namespace: 'nicplex-runtime-require' };
    });
    builder.onLoad({ filter: /.*/, namespace: 'nicplex-runtime-require' }, (args) => ({
      contents: `module.exports = globalThis.__nicplexRequire(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
    builder.onLoad({ filter: /.*/, namespace: 'nicplex-builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

/**
 * The identity of a node binary as build/Release/nicplex-cni checks it before it passes the blob:
 * `size mtime-seconds inode path`, one line. A node upgraded in place changes at least one of them.
 */
function nodeIdentity(nodePath: string): string {
  const stat = statSync(nodePath);
  return `${stat.size} ${Math.floor(stat.mtimeMs / 1000)} ${stat.ino} ${nodePath}\n`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const nodeIndex = args.indexOf('--node');
  const nodePath = nodeIndex >= 0 ? args[nodeIndex + 1] : process.execPath;
  if (!nodePath) throw new Error('--node needs the path of a node binary');
  mkdirSync(outDir, { recursive: true });
  rmSync(blobNodePath, { force: true });
  await build({
    entryPoints: [join(repoRoot, 'dist', 'deploy', 'cni-fast.js')],
    outfile: bundlePath,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // The bundle's import.meta.url is the install's dist/deploy/nicplex.js, set at run time.
    define: { 'import.meta.url': 'globalThis.__nicplexImportMetaUrl' },
    plugins: [runtimeRequire],
    logLevel: 'warning',
    legalComments: 'none',
  });
  if (args.includes('--no-snapshot')) return;
  const temp = `${blobPath}.tmp`;
  // The snapshot builder warns about built-ins it has not verified (node:module, node:child_process):
  // none of their run-time state is used before the call starts.
  execFileSync(nodePath, ['--no-warnings', '--snapshot-blob', temp, '--build-snapshot', bundlePath], { stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(temp, blobPath);
  writeFileSync(blobNodePath, nodeIdentity(nodePath));
}

main().catch((error: unknown) => {
  process.stderr.write(`build-cni-fast: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
