// Builds the fast thin-mode CNI entry (the last step of `npm run build`, after tsc), in dist/cni-fast/:
//   nicplex-cni.cjs   dist/deploy/cni-fast.js and every module it reaches, bundled by esbuild into one
//                     CommonJS file; packages stay in node_modules (required when a call needs them),
//                     except the small ones a Kubernetes-mode call always loads;
//   main.cjs          dist/deploy/cni-fast-main.js, which runs the bundle with V8's code cache;
//   nicplex-cni.v8-<V8 version>.cache  that cache, made by one failing ADD with this node;
//   node              the path of the node that ran the build, which build/Release/nicplex-cni execs.
// Usage: node dist/deploy/build-cni-fast.js [--no-minify]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = join(repoRoot, 'dist', 'cni-fast');

/** Bundled: js-yaml parses every YAML kubeconfig. Every other package stays in node_modules. */
const BUNDLED_PACKAGES = ['js-yaml'];
/** CommonJS packages the sources import() lazily: required instead. */
const REQUIRED_PACKAGES = ['@grpc/grpc-js'];
/**
 * ES-module packages the sources import() lazily. V8 drops a vm.Script's dynamic-import callback when the
 * script comes from a code cache, so main.cjs (compiled by Node's loader) makes these imports for the
 * bundle: it passes `__nicplexImportEsm` to the bundle's wrapper.
 */
const ESM_PACKAGES = ['@kubernetes/client-node'];
const esmImport = new RegExp(`\\bimport\\((['"])(${ESM_PACKAGES.join('|')})\\1\\)`, 'g');

function bundleOptions(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [join(repoRoot, 'dist', 'deploy', entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    plugins: [{
      name: 'nicplex-external-packages',
      setup(builder) {
        builder.onResolve({ filter: /^[^./]/ }, (args) => {
          // `await import('node:https')` left as import() would start the ES module loader for one built-in.
          if (args.kind === 'dynamic-import' && (args.path.startsWith('node:') || REQUIRED_PACKAGES.includes(args.path))) return { path: args.path, namespace: 'nicplex-require' };
          if (args.path.startsWith('node:') || BUNDLED_PACKAGES.includes(args.path.split('/')[0]!)) return undefined;
          return { path: args.path, external: true };
        });
        builder.onLoad({ filter: /.*/, namespace: 'nicplex-require' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
        builder.onLoad({ filter: /\.js$/ }, async (args) => {
          const text = await readFile(args.path, 'utf8');
          return { contents: text.replace(esmImport, (_match, _quote, name: string) => `__nicplexImportEsm(${JSON.stringify(name)})`), loader: 'js' };
        });
      },
    }],
    // Both files sit in dist/cni-fast/, as deep as the dist/ modules they are made of, so paths computed
    // from import.meta.url (the native addon's build/Release) come out the same.
    define: { 'import.meta.url': '__nicplexModuleUrl' },
    banner: {
      js: [
        '"use strict";',
        'var __nicplexModuleUrl = require("node:url").pathToFileURL(__filename).href;',
        // Run by node directly (not through main.cjs) the bundle makes its own imports.
        'var __nicplexImportEsm = typeof __nicplexImport === "function" ? __nicplexImport : (specifier) => import(specifier);',
      ].join('\n'),
    },
    minify: !process.argv.includes('--no-minify'),
    // Error classes and logs name functions and classes: keep their names.
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
  };
}

/**
 * The code cache: one ADD whose kubeconfig does not exist runs what every call runs (request, config,
 * logger, cache lookup, the Kubernetes client's set-up) and fails before any effect: the netns is only
 * checked to exist (this process's own), the cache dir is a temp dir.
 */
function makeCache(): void {
  const node = process.execPath;
  const scratch = mkdtempSync(join(tmpdir(), 'nicplex-cache-'));
  try {
    const conf = { cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', kubeconfig: join(scratch, 'kubeconfig'), cniDir: join(scratch, 'cni'), delegateStateDir: join(scratch, 'delegates'), binDir: scratch, delegates: [{ cniVersion: '1.0.0', name: 'cluster', type: 'bridge' }] };
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'nicplex-build', CNI_NETNS: '/proc/self/ns/net', CNI_IFNAME: 'eth0', CNI_PATH: scratch, CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=build' };
    let answer = '';
    try {
      answer = execFileSync(node, [join(outDir, 'main.cjs'), '--make-cache'], { env, input: JSON.stringify(conf), encoding: 'utf8' });
    } catch (error) {
      answer = String((error as { stdout?: unknown }).stdout ?? '');
    }
    if (!answer.includes('kubeconfig')) throw new Error(`the code-cache run did not fail on the missing kubeconfig as expected: ${answer}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await build(bundleOptions('cni-fast.js', join(outDir, 'nicplex-cni.cjs')));
  await build(bundleOptions('cni-fast-main.js', join(outDir, 'main.cjs')));
  makeCache();
  // Last: build/Release/nicplex-cni uses the bundle only when this is newer than dist/cni/entry.js.
  const temp = join(outDir, 'node.tmp');
  writeFileSync(temp, `${process.execPath}\n`);
  renameSync(temp, join(outDir, 'node'));
}

main().catch((error: unknown) => {
  process.stderr.write(`build-cni-fast: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
