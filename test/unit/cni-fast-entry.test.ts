// The fast thin-mode entry (build/Release/nicplex-cni → dist/cni-fast/main.cjs, the bundle with its code
// cache) answers exactly what the plain `node dist/deploy/nicplex.js cni` answers, and the launcher picks
// the plain entry when the bundle is missing, older than the tsc build, or its node is gone. A standalone
// ADD/DEL through both entries in a netns is in test/integration/cni-fast-entry.test.ts.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cniLauncherPath } from '../helpers/cni-lab.js';
import { tempDir } from '../helpers/cni-tempdir.js';
import { cliPath, repoRoot } from '../helpers/paths.js';

const fastDir = join(repoRoot, 'dist', 'cni-fast');
const run = (binary: string, args: string[], env: Record<string, string>, stdin: string) => {
  const result = spawnSync(binary, args, { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, input: stdin, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
};
/** Exit code and stdout: the CNI answer (stderr may carry node's own warnings). */
const answer = (result: { status: number | null; stdout: string }) => ({ status: result.status, stdout: result.stdout });
const fast = (env: Record<string, string>, stdin: string, args: string[] = []) => answer(run(cniLauncherPath, args, env, stdin));
const plain = (env: Record<string, string>, stdin: string, args: string[] = []) => answer(run(process.execPath, [cliPath, 'cni', ...args], env, stdin));

t.test('the fast entry is built and the launcher takes it', async (t) => {
  const files = readdirSync(fastDir);
  t.ok(files.includes('main.cjs') && files.includes('nicplex-cni.cjs') && files.includes('node'), `dist/cni-fast holds ${files.join(', ')}`);
  t.ok(files.some((name) => name.endsWith('.cache')), 'a V8 code cache was made by npm run build');
  // A preloaded script reports the main script node was started on (it is also preloaded into threads
  // without one).
  const dir = tempDir('npx-cnifast-main-');
  writeFileSync(join(dir, 'report.cjs'), `if (process.argv[1]) require('node:fs').writeFileSync(${JSON.stringify(join(dir, 'main'))}, process.argv[1]);`);
  const reported = run(cniLauncherPath, [], { CNI_COMMAND: 'VERSION', NODE_OPTIONS: `--require ${join(dir, 'report.cjs')}` }, '{}');
  t.equal(reported.status, 0, reported.stdout + reported.stderr);
  t.equal(readFileSync(join(dir, 'main'), 'utf8'), join(fastDir, 'main.cjs'), 'node runs dist/cni-fast/main.cjs');
});

t.test('same answers as the plain entry', async (t) => {
  const dir = tempDir('npx-cnifast-');
  writeFileSync(join(dir, 'netns'), '');
  const base = { CNI_CONTAINERID: 'c1', CNI_NETNS: join(dir, 'netns'), CNI_IFNAME: 'eth0', CNI_PATH: '/nowhere' };
  const conf = (extra: Record<string, unknown>) => JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'nicplex', cniDir: join(dir, 'cache'), logToStderr: false, delegates: [{ cniVersion: '1.0.0', name: 'c', type: 'bridge' }], ...extra });
  const cases: Array<[string, Record<string, string>, string, string[]?]> = [
    ['VERSION in the caller\'s version', { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.3.1"}'],
    ['VERSION with an empty stdin', { CNI_COMMAND: 'VERSION' }, ''],
    ['no CNI_COMMAND', {}, '{}'],
    ['ADD with stdin that is not JSON', { ...base, CNI_COMMAND: 'ADD' }, '{"cniVersion":'],
    ['ADD in an unsupported version', { ...base, CNI_COMMAND: 'ADD' }, conf({ cniVersion: '9.9.9' })],
    ['ADD with a config error', { ...base, CNI_COMMAND: 'ADD' }, conf({ delegates: 'bridge' })],
    ['ADD with no CNI_CONTAINERID', { ...base, CNI_CONTAINERID: '', CNI_COMMAND: 'ADD' }, conf({})],
    ['ADD whose kubeconfig is missing', { ...base, CNI_COMMAND: 'ADD', CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=p' }, conf({ kubeconfig: join(dir, 'no-kubeconfig') })],
    ['DEL of a container never added', { ...base, CNI_COMMAND: 'DEL' }, conf({})],
    ['--help', {}, '', ['--help']],
  ];
  for (const [what, env, stdin, args] of cases) {
    const expected = plain(env, stdin, args);
    t.same(fast(env, stdin, args), expected, what);
  }
  t.match(plain({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.3.1"}').stdout, /"supportedVersions"/, 'the plain answer is a real one');
});

t.test('a code cache V8 rejects only costs the compile', async (t) => {
  const root = tempDir('npx-cnifast-cache-');
  mkdirSync(join(root, 'dist'), { recursive: true });
  cpSync(fastDir, join(root, 'dist', 'cni-fast'), { recursive: true });
  for (const name of readdirSync(join(root, 'dist', 'cni-fast'))) if (name.endsWith('.cache')) writeFileSync(join(root, 'dist', 'cni-fast', name), 'not a code cache');
  const env = { CNI_COMMAND: 'VERSION' };
  t.same(answer(run(process.execPath, [join(root, 'dist', 'cni-fast', 'main.cjs')], env, '{"cniVersion":"0.4.0"}')), plain(env, '{"cniVersion":"0.4.0"}'));
});

t.test('the launcher falls back to the plain entry', async (t) => {
  // A copy of the launcher in a stand-in install whose entries print which one ran and with what.
  const root = tempDir('npx-cnifast-root-');
  for (const sub of ['build/Release', 'dist/cni-fast', 'dist/deploy', 'dist/cni', 'bin']) mkdirSync(join(root, sub), { recursive: true });
  copyFileSync(cniLauncherPath, join(root, 'build', 'Release', 'nicplex-cni'));
  symlinkSync(join(root, 'build', 'Release', 'nicplex-cni'), join(root, 'bin', 'nicplex'));
  const stub = (entry: string) => `process.stdout.write(JSON.stringify({ entry: ${JSON.stringify(entry)}, argv: process.argv.slice(1), node: process.execPath }));`;
  writeFileSync(join(root, 'dist', 'cni-fast', 'main.cjs'), stub('fast'));
  writeFileSync(join(root, 'dist', 'deploy', 'nicplex.js'), stub('plain'));
  writeFileSync(join(root, 'dist', 'deploy', 'package.json'), '{"type":"commonjs"}');
  const entry = join(root, 'dist', 'cni', 'entry.js');
  const nodeFile = join(root, 'dist', 'cni-fast', 'node');
  const setTimes = (path: string, seconds: number) => utimesSync(path, seconds, seconds);
  writeFileSync(entry, '');
  setTimes(entry, 1_000_000);
  const launch = (path = join(root, 'bin', 'nicplex')) => JSON.parse(run(path, ['x', 'y'], { CNI_COMMAND: 'VERSION' }, '').stdout) as { entry: string; argv: string[]; node: string };

  writeFileSync(nodeFile, `${process.execPath}\n`);
  setTimes(nodeFile, 2_000_000);
  t.same(launch(), { entry: 'fast', argv: [join(root, 'dist', 'cni-fast', 'main.cjs'), 'x', 'y'], node: process.execPath }, 'built after tsc: the bundle, with the node that built it, through a symlink');

  setTimes(entry, 3_000_000);
  t.same(launch().entry, 'plain', 'a tsc build after the bundle: the plain entry');
  t.same(launch().argv, [join(root, 'dist', 'deploy', 'nicplex.js'), 'cni', 'x', 'y'], 'plain entry arguments');
  setTimes(entry, 1_000_000);

  writeFileSync(nodeFile, '/nonexistent/node\n');
  setTimes(nodeFile, 2_000_000);
  t.same(launch().entry, 'plain', 'the node that built it is gone: the plain entry with node from PATH');

  rmSync(nodeFile);
  t.same(launch().entry, 'plain', 'no bundle build: the plain entry');

  rmSync(entry);
  const broken = run(join(root, 'bin', 'nicplex'), [], { CNI_COMMAND: 'VERSION' }, '');
  t.equal(broken.status, 1, 'no build at all: exit 1');
  t.match(JSON.parse(broken.stdout) as object, { code: 999, msg: /build is missing/ }, 'and a CNI error naming the fix');

  // An install path with a quote and a backslash still gives valid error JSON that names it.
  const odd = join(tempDir('npx-cnifast-odd-'), 'a"b\\c');
  mkdirSync(join(odd, 'build', 'Release'), { recursive: true });
  copyFileSync(cniLauncherPath, join(odd, 'build', 'Release', 'nicplex-cni'));
  const oddRun = run(join(odd, 'build', 'Release', 'nicplex-cni'), [], { CNI_COMMAND: 'VERSION' }, '');
  t.equal(oddRun.status, 1);
  t.equal((JSON.parse(oddRun.stdout) as { details: string }).details, join(odd, 'dist', 'cni', 'entry.js'), 'the path, escaped in the JSON');
});
