// What build/Release/nicplex-cni runs: the thin-mode CNI bundle (dist/cni-fast/nicplex-cni.cjs), compiled
// with V8's code cache for it (Node 20 has no compile cache of its own; module.enableCompileCache is
// Node 22+). The cache is made by `npm run build` (`--make-cache`: one failing ADD, so what every call runs
// is in it) and is named by V8's version: V8 rejects a cache made by another build, and the bundle is then
// compiled from source as if there were none. Reads no file but those two.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

// esbuild defines the bundle's import.meta.url as this file's URL (deploy/build-cni-fast.ts).
const dir = dirname(fileURLToPath(import.meta.url));
const bundle = join(dir, 'nicplex-cni.cjs');
// The code cache of the bundle for this V8.
const cachePath = join(dir, `nicplex-cni.v8-${process.versions.v8}.cache`);

const makeCache = process.argv[2] === '--make-cache';
if (makeCache) process.argv.splice(2, 1);
let cachedData: Buffer | undefined;
if (!makeCache) {
  try { cachedData = readFileSync(cachePath); } catch { cachedData = undefined; }
}
// CommonJS's wrapper, plus the bundle's import() of ES-module packages (@kubernetes/client-node), made here:
// V8 drops a vm.Script's dynamic-import callback when the script comes from a code cache.
const source = `(function (exports, require, module, __filename, __dirname, __nicplexImport) {${readFileSync(bundle, 'utf8')}\n})`;
const script = new Script(source, { filename: bundle, ...(cachedData ? { cachedData } : {}) });
type Wrapper = (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string, importEsm: (specifier: string) => Promise<unknown>) => void;
const run = script.runInThisContext() as Wrapper;
const module = { exports: {} };
run.call(module.exports, module.exports, createRequire(bundle), module, bundle, dir, (specifier) => import(specifier));
if (makeCache) {
  process.once('beforeExit', () => {
    const temp = `${cachePath}.tmp`;
    writeFileSync(temp, script.createCachedData());
    renameSync(temp, cachePath);
  });
}
