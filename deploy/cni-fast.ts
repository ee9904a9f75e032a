// Entry of the thin-mode CNI bundle: deploy/build-cni-fast.ts bundles it, from dist/, into the one
// CommonJS file dist/cni-fast/nicplex-cni.cjs, which build/Release/nicplex-cni runs (through
// dist/cni-fast/main.cjs, with a code cache). One file to read and compile instead of ~36 ES modules to
// resolve, stat and link. The packages kept out of the bundle (pino, @kubernetes/client-node, @grpc/grpc-js) are
// required from node_modules when a call needs them, as the plain entry imports them.
import { runCniEntry } from '../cni/entry.js';

runCniEntry(process.argv[2] === 'cni' ? process.argv.slice(3) : process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    process.stderr.write(`nicplex: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
