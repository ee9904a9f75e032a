// One regression test per defect the hostile-input and fault tests found (each failed before its fix). The
// agent's oversized-body and stalled-client answers are checked against a live agent in
// test/reliability/hostile-agent-socket.test.ts.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCni } from '../../cni/entry.js';
import { CniError } from '../../cni/errors.js';
import type { PluginExecutor, PluginInvocation } from '../../cni/exec.js';
import { silentLogger } from '../../cni/log.js';
import { readRequest } from '../../cni/request.js';
import { writeFileAtomic } from '../../config/atomic-file.js';
import { MultusConfigError, parseMultusNetConf } from '../../config/multus-config.js';
import { nearestKey } from '../../config/nearest-key.js';
import { servedConf } from '../../deploy/agent.js';
import type { AgentArgs } from '../../deploy/agent-cli.js';
import { shimPath } from '../helpers/agent-harness.js';
import { scratchDir } from '../helpers/hostile.js';

const dir = scratchDir('npx-regress-');

t.test('K8S_POD_NAMESPACE / K8S_POD_NAME must be Kubernetes names before they reach an API path', async (t) => {
  const env = (command: string, args: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: 'c1', CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_ARGS: args });
  t.throws(() => readRequest(env('ADD', 'K8S_POD_NAMESPACE=..;K8S_POD_NAME=secrets')), { code: 4, message: /^CNI_ARGS: K8S_POD_NAMESPACE "\.\." is not a Kubernetes namespace/ });
  t.throws(() => readRequest(env('ADD', 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=../x')), { code: 4, message: /K8S_POD_NAME "\.\.\/x" is not a Kubernetes pod name/ });
  t.equal(readRequest(env('DEL', 'K8S_POD_NAMESPACE=..;K8S_POD_NAME=x')).pod, undefined, 'DEL goes on without the pod (cleans from the cache)');
  t.equal(readRequest(env('ADD', 'K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-5d78c9869d-abcde')).pod?.name, 'coredns-5d78c9869d-abcde');
});

t.test('nearestKey: a huge unknown key costs no length² table per known key', async (t) => {
  const started = process.hrtime.bigint();
  for (let i = 0; i < 50; i++) nearestKey('k'.repeat(100_000), ['cniVersion', 'delegates', 'clusterNetwork']);
  t.ok(Number(process.hrtime.bigint() - started) / 1e6 < 2000, 'fast (it took minutes before)');
  t.equal(nearestKey('delegate', ['delegates', 'cniVersion']), 'delegates', 'still suggests near misses');
});

t.test('daemon-config.json: a relative socketDir or cniConfigDir is an error naming the file', async (t) => {
  const file = join(dir, 'daemon-config.json');
  const args = { 'multus-daemon-config': file, 'socket-dir': '/run/nicplex' } as unknown as AgentArgs;
  writeFileSync(file, JSON.stringify({ socketDir: ' /host/run/multus/' }));
  t.throws(() => servedConf(args), { message: `--multus-daemon-config ${file}: "socketDir" must be an absolute path, got " /host/run/multus/"` });
  writeFileSync(file, JSON.stringify({ cniConfigDir: 'etc/cni/net.d' }));
  t.throws(() => servedConf(args), { message: /"cniConfigDir" must be an absolute path/ });
  writeFileSync(file, JSON.stringify({ socketDir: '/host/run/multus/' }));
  t.equal(servedConf(args).socketDir, '/host/run/multus/');
});

t.test('standalone.allocationDir / nadDir of the wrong type is an error, not the host default directory', async (t) => {
  const conf = { cniVersion: '1.0.0', delegates: [{ type: 'x', name: 'x' }], standalone: { allocationDir: -1091476637, nadDir: 'relative/nads', devicePools: {} } };
  let thrown: unknown;
  try { parseMultusNetConf(conf, 'stdin'); } catch (error) { thrown = error; }
  t.ok(thrown instanceof MultusConfigError, 'a config error');
  t.same((thrown as MultusConfigError).issues.map((issue) => issue.path).sort(), ['$.standalone.allocationDir', '$.standalone.nadDir']);
});

t.test('an atomic write next to a 255-character file name works (its temp name is shortened)', async (t) => {
  const path = join(dir, 'c'.repeat(255));
  await writeFileAtomic(path, 'x');
  t.equal(readFileSync(path, 'utf8'), 'x');
  t.same(readdirSync(dir).filter((name) => name.endsWith('.tmp')), [], 'no temp file left');
});

t.test('the shim answers VERSION with valid JSON whatever cniVersion the caller sent', { skip: !existsSync(shimPath) && 'the shim is not built' }, async (t) => {
  const run = spawnSync(shimPath, [], { input: '{"cniVersion":"1\\"x\\n\\u0001"}', env: { CNI_COMMAND: 'VERSION' }, encoding: 'utf8' });
  t.equal(run.status, 0);
  t.equal((JSON.parse(run.stdout) as { cniVersion: string }).cniVersion, '1"x\n?', 'escaped (the shim maps \\u escapes to "?")');
});

class RecordingExec implements PluginExecutor {
  readonly calls: PluginInvocation[] = [];
  async run(call: PluginInvocation): Promise<unknown> {
    this.calls.push(call);
    return call.command === 'ADD' ? { cniVersion: '1.0.0', interfaces: [{ name: call.ifname, sandbox: call.netns }], ips: [{ address: '10.0.0.2/24', interface: 0 }] } : undefined;
  }
}

const cniDir = join(dir, 'cache');
const netns = join(dir, 'netns');
writeFileSync(netns, '');
const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'nicplex', cniDir, logToStderr: false, delegates: [{ cniVersion: '1.0.0', name: 'cluster', type: 'fake' }] });
const run = (exec: RecordingExec, command: string, containerId: string, extra: Record<string, string> = {}) =>
  runCni({ env: { CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: '/nowhere', ...extra }, stdin: extra['STDIN'] ?? stdin, overrides: { executor: exec, log: silentLogger } });

t.test('a second ADD for an attached container is refused and leaves the first one intact', async (t) => {
  const exec = new RecordingExec();
  t.equal((await run(exec, 'ADD', 'twice')).exitCode, 0);
  const cache = readFileSync(join(cniDir, 'twice'), 'utf8');
  const again = await run(exec, 'ADD', 'twice');
  t.equal(again.exitCode, 1);
  t.match(JSON.parse(again.stdout), { code: 4, msg: /container twice is already attached .*a second ADD needs a DEL first/ });
  t.equal(exec.calls.length, 1, 'no delegate ran (and none was rolled back)');
  t.equal(readFileSync(join(cniDir, 'twice'), 'utf8'), cache, 'the first ADD\'s cache is untouched');
  t.equal((await run(exec, 'DEL', 'twice')).exitCode, 0);
});

t.test('DEL and GC work in the namespace ADD used when the request names none that exists and it is still the same', async (t) => {
  const exec = new RecordingExec();
  t.equal((await run(exec, 'ADD', 'gone-path')).exitCode, 0);
  t.equal((await run(exec, 'DEL', 'gone-path', { CNI_NETNS: join(dir, 'no-such-netns') })).exitCode, 0);
  t.equal(exec.calls.at(-1)?.netns, netns, 'DEL removed the interfaces in the (still living) namespace');
  t.equal((await run(exec, 'ADD', 'for-gc')).exitCode, 0);
  const gc = JSON.stringify({ ...JSON.parse(stdin) as object, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] });
  t.equal((await runCni({ env: { CNI_COMMAND: 'GC', CNI_PATH: '/nowhere' }, stdin: gc, overrides: { executor: exec, log: silentLogger } })).exitCode, 0);
  t.equal(exec.calls.filter((call) => call.command === 'DEL').at(-1)?.netns, netns, 'GC too');
  // A namespace path that now names another namespace (another inode) is never used.
  t.equal((await run(exec, 'ADD', 'replaced')).exitCode, 0);
  const other = join(dir, 'netns-other');
  writeFileSync(other, '');
  const plan = JSON.parse(readFileSync(join(cniDir, 'replaced'), 'utf8')) as { plan: { netnsId: string } };
  plan.plan.netnsId = '0:0';
  writeFileSync(join(cniDir, 'replaced'), JSON.stringify(plan));
  t.equal((await run(exec, 'DEL', 'replaced', { CNI_NETNS: '' })).exitCode, 0);
  t.equal(exec.calls.at(-1)?.netns, '', 'a different namespace under the old path is left alone');
});

t.test('a rollback whose DEL of an added network fails keeps the cache, and the DEL that follows cleans up', async (t) => {
  let delFailures = 1;
  const exec: PluginExecutor = {
    async run(call: PluginInvocation): Promise<unknown> {
      if (call.type === 'fake2' && call.command === 'ADD') throw new CniError(11, 'second network fails on purpose');
      if (call.type === 'fake' && call.command === 'DEL' && delFailures-- > 0) throw new CniError(11, 'cluster DEL fails once on purpose');
      return call.command === 'ADD' ? { cniVersion: '1.0.0', interfaces: [{ name: call.ifname, sandbox: call.netns }], ips: [{ address: '10.0.0.2/24', interface: 0 }] } : undefined;
    },
  };
  const two = JSON.stringify({ ...JSON.parse(stdin) as object, delegates: [{ cniVersion: '1.0.0', name: 'cluster', type: 'fake' }, { cniVersion: '1.0.0', name: 'second', type: 'fake2' }] });
  const runTwo = (command: string) => runCni({ env: { CNI_COMMAND: command, CNI_CONTAINERID: 'halfway', CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: '/nowhere' }, stdin: two, overrides: { executor: exec, log: silentLogger } });
  const add = await runTwo('ADD');
  t.equal(add.exitCode, 1, 'the ADD fails');
  t.ok(existsSync(join(cniDir, 'halfway')), 'the cluster network may still be attached: its plan is kept');
  t.equal((await runTwo('DEL')).exitCode, 0, 'the runtime\'s DEL after the failed ADD');
  t.notOk(existsSync(join(cniDir, 'halfway')), 'and the cache is gone once everything is deleted');
});
