// Entry of the thin-mode CNI bundle (deploy/build-cni-fast.ts bundles it, from dist/, into one CommonJS
// file and a Node startup snapshot of it). A runtime's exec of build/Release/nicplex-cni starts
// `node --snapshot-blob dist/cni-fast/nicplex-cni.blob dist/deploy/nicplex.js ...`: the modules below are
// then already compiled and initialised, so a call costs a bare Node start plus its own work.
// Nothing here may read the environment, argv, stdin or the cwd at module level: in a snapshot that
// would be the build's, not the call's. The native addon and the packages kept out of the bundle
// (pino, @kubernetes/client-node, @grpc/grpc-js, yargs) are loaded at run time through
// globalThis.__nicplexRequire, which `start` points at the real install.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startupSnapshot } from 'node:v8';
import { runCniEntry } from '../cni/entry.js';

declare global {
  // Set by `start`; the bundle's import.meta.url and its external requires read them.
  // eslint-disable-next-line no-var
  var __nicplexImportMetaUrl: string | undefined;
  // eslint-disable-next-line no-var
  var __nicplexRequire: NodeJS.Require | undefined;
}

/**
 * The modules a thin-mode call imports lazily (entry.ts, commands.ts): initialised while the snapshot
 * is built, so the call finds them ready. Heavy, rare packages stay out (they are external).
 */
async function preload(): Promise<void> {
  await Promise.all([
    import('../cni/k8s-api.js'),
    import('../cni/kube-client.js'),
    import('js-yaml'),
    import('../cni/standalone.js'),
    import('../cni/pod-devices.js'),
    import('../cni/dra-devices.js'),
    import('../cni/default-route.js'),
    import('../cni/reconcile.js'),
    import('../cni/delegates/registry.js'),
    import('../native/index.js'),
  ]);
}

/** Runs one CNI call; `script` is the path of dist/deploy/nicplex.js, which module paths are relative to. */
async function start(): Promise<void> {
  const script = resolve(process.argv[1] ?? 'nicplex');
  globalThis.__nicplexImportMetaUrl = pathToFileURL(script).href;
  globalThis.__nicplexRequire = createRequire(script);
  const args = process.argv.slice(2);
  process.exitCode = await runCniEntry(args[0] === 'cni' ? args.slice(1) : args);
}

function fail(error: unknown): void {
  process.stderr.write(`nicplex: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}

if (startupSnapshot.isBuildingSnapshot()) {
  // Top-level await is not available to a snapshot's CommonJS entry; the build waits for the event loop.
  preload().catch((error: unknown) => { throw error; });
  startupSnapshot.setDeserializeMainFunction(() => { start().catch(fail); });
} else {
  start().catch(fail);
}
