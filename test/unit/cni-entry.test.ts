// The whole CNI command path in-process (runCni) with a recording fake executor: Multus's CmdAdd/CmdDel
// tests with a fake exec — no kernel needed.
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCni } from '../../cni/entry.js';
import { CniError } from '../../cni/errors.js';
import type { PluginExecutor, PluginInvocation } from '../../cni/exec.js';
import { silentLogger } from '../../cni/log.js';
import { tempDir } from '../helpers/cni-tempdir.js';

class FakeExec implements PluginExecutor {
  readonly calls: PluginInvocation[] = [];
  failOn?: (call: PluginInvocation) => boolean;
  result: (call: PluginInvocation) => unknown = (call) => ({ cniVersion: String(call.stdin['cniVersion']), interfaces: [{ name: call.ifname, sandbox: call.netns }], ips: [{ address: `10.0.${this.calls.length}.2/24`, interface: 0 }] });
  async run(call: PluginInvocation): Promise<unknown> {
    this.calls.push(call);
    if (this.failOn?.(call)) throw new CniError(11, `${call.type} refused`);
    return call.command === 'ADD' ? this.result(call) : undefined;
  }
}

const dir = tempDir('npx-cnientry-');
const netns = join(dir, 'netns'); // any existing path stands in for a netns here
writeFileSync(netns, '');
let n = 0;
const env = (command: string, extra: Record<string, string> = {}) => ({ CNI_COMMAND: command, CNI_CONTAINERID: `c${n}`, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: '/nowhere', ...extra });
const conf = (extra: Record<string, unknown> = {}) => JSON.stringify({
  cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', cniDir: join(dir, 'cache'), logToStderr: false,
  delegates: [
    { cniVersion: '1.0.0', name: 'weave1', type: 'weave-net' },
    { cniVersion: '0.4.0', name: 'other1', plugins: [{ type: 'other-plugin' }, { type: 'tuning' }] },
  ],
  ...extra,
});
const run = (exec: FakeExec, command: string, stdin: string, extraEnv: Record<string, string> = {}) => runCni({ env: env(command, extraEnv), stdin, overrides: { executor: exec, log: silentLogger } });

t.beforeEach(() => { n++; });

t.test('delegates run in order, eth0 then net1; the result is the master\'s; a plugin without interfaces is accepted', async (t) => {
  const exec = new FakeExec();
  exec.result = (call) => (call.type === 'tuning' ? { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.9.9.9/24' }] } : { cniVersion: String(call.stdin['cniVersion']), ips: [{ address: '10.1.1.2/24' }] });
  const out = await run(exec, 'ADD', conf());
  t.equal(out.exitCode, 0, out.stdout);
  t.same(exec.calls.map((call) => [call.type, call.ifname]), [['weave-net', 'eth0'], ['other-plugin', 'net1'], ['tuning', 'net1']]);
  t.same(JSON.parse(out.stdout), { cniVersion: '1.0.0', ips: [{ address: '10.1.1.2/24' }], dns: {} });
  t.same(exec.calls[2]!.stdin['prevResult'], { cniVersion: '0.4.0', ips: [{ address: '10.1.1.2/24' }] }, 'prevResult chains inside a conflist');
  t.ok(existsSync(join(dir, 'cache', `c${n}`)));
  const check = await run(exec, 'CHECK', conf());
  t.equal(check.exitCode, 0, check.stdout);
  t.same(exec.calls.slice(3).map((call) => [call.type, call.command]), [['weave-net', 'CHECK'], ['other-plugin', 'CHECK'], ['tuning', 'CHECK']], 'CHECK replays both networks');
  t.same(exec.calls[5]!.stdin['prevResult'], { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.9.9.9/24' }] }, 'CHECK gets the cached final result');
  const del = await run(exec, 'DEL', conf());
  t.equal(del.exitCode, 0);
  t.same(exec.calls.slice(6).map((call) => call.type), ['tuning', 'other-plugin', 'weave-net'], 'DEL in reverse');
});

t.test('delegate #2 fails: both are deleted, error [//:other1]: error adding container to network "other1"', async (t) => {
  const exec = new FakeExec();
  exec.failOn = (call) => call.type === 'tuning' && call.command === 'ADD';
  const out = await run(exec, 'ADD', conf());
  t.equal(out.exitCode, 1);
  t.same(JSON.parse(out.stdout), { cniVersion: '1.0.0', code: 11, msg: '[//:other1]: error adding container to network "other1": tuning refused' });
  t.same(exec.calls.filter((call) => call.command === 'DEL').map((call) => `${call.type}/${call.ifname}`), ['tuning/net1', 'other-plugin/net1', 'weave-net/eth0']);
  t.notOk(existsSync(join(dir, 'cache', `c${n}`)));
});

t.test('STATUS errors propagate for conf and conflist; GC runs for conf and conflist with valid attachments', async (t) => {
  for (const delegate of [{ cniVersion: '1.1.0', name: 'c', type: 'conf-plugin' }, { cniVersion: '1.1.0', name: 'l', plugins: [{ type: 'list-a' }, { type: 'list-b' }] }]) {
    const exec = new FakeExec();
    t.equal((await run(exec, 'STATUS', conf({ cniVersion: '1.1.0', delegates: [delegate] }), { CNI_CONTAINERID: '', CNI_IFNAME: '' })).exitCode, 0);
    exec.failOn = (call) => call.command === 'STATUS';
    const failed = await run(exec, 'STATUS', conf({ cniVersion: '1.1.0', delegates: [delegate] }));
    t.equal(failed.exitCode, 1);
    t.equal(JSON.parse(failed.stdout).code, 11);
    const gcExec = new FakeExec();
    const gc = await run(gcExec, 'GC', JSON.stringify({ ...JSON.parse(conf({ cniVersion: '1.1.0', delegates: [delegate] })), 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] }));
    t.equal(gc.exitCode, 0, gc.stdout);
    const gcCalls = gcExec.calls.filter((call) => call.command === 'GC');
    t.equal(gcCalls.length, 'plugins' in delegate ? 2 : 1);
    t.same(gcCalls[0]!.stdin['cni.dev/valid-attachments'], [{ containerID: 'keep', ifname: 'eth0' }]);
  }
});

t.test('Kubernetes mode with an absent kubeconfig fails ADD with the path in the message', async (t) => {
  const out = await run(new FakeExec(), 'ADD', conf({ kubeconfig: join(dir, 'no-kubeconfig') }), { CNI_ARGS: 'K8S_POD_NAMESPACE=a;K8S_POD_NAME=b' });
  t.equal(out.exitCode, 1);
  t.match(JSON.parse(out.stdout).msg, /kubeconfig .*no-kubeconfig: cannot load it/);
});

t.test('the readiness indicator blocks ADD (bounded), not DEL; STATUS reports 50; logFile receives the log', async (t) => {
  const indicator = join(dir, 'ready');
  const logFile = join(dir, 'nicplex.log');
  const exec = new FakeExec();
  const started = Date.now();
  const add = await runCni({ env: env('ADD'), stdin: conf({ readinessindicatorfile: indicator, readinessTimeoutSeconds: 1, logFile, logLevel: 'verbose' }), overrides: { executor: exec } });
  t.equal(add.exitCode, 1);
  t.match(JSON.parse(add.stdout), { code: 11, msg: /readiness indicator file .*ready did not appear within 1 s/ });
  t.ok(Date.now() - started >= 900);
  t.equal(exec.calls.length, 0, 'nothing ran');
  const del = await runCni({ env: env('DEL'), stdin: conf({ readinessindicatorfile: indicator, logFile }), overrides: { executor: exec } });
  t.equal(del.exitCode, 0);
  t.match(readFileSync(logFile, 'utf8'), /readiness indicator .* is missing; running DEL anyway/);
  const status = await runCni({ env: env('STATUS'), stdin: conf({ readinessindicatorfile: indicator }), overrides: { executor: exec } });
  t.equal(JSON.parse(status.stdout).code, 50);
  writeFileSync(indicator, '');
  t.equal((await runCni({ env: env('ADD'), stdin: conf({ readinessindicatorfile: indicator }), overrides: { executor: exec, log: silentLogger } })).exitCode, 0);
});

t.test('errors: bad JSON is code 6, unsupported version code 1, a bad config key names its path (code 7)', async (t) => {
  const exec = new FakeExec();
  t.equal(JSON.parse((await run(exec, 'ADD', '{')).stdout).code, 6);
  t.equal(JSON.parse((await run(exec, 'DEL', '{')).stdout).code, 6);
  t.equal(JSON.parse((await run(exec, 'ADD', conf({ cniVersion: '2.0.0' }))).stdout).code, 1);
  const bad = JSON.parse((await run(exec, 'ADD', conf({ namespaceIsolation: 'maybe' }))).stdout);
  t.match(bad, { code: 7, msg: /\$\.namespaceIsolation: expected true or false/ });
  t.equal(exec.calls.length, 0);
});

t.test('DEL uses the cached delegates when the annotation no longer parses; status is written with the pod UID', async (t) => {
  const annotations: Record<string, string> = { 'k8s.v1.cni.cncf.io/networks': 'side' };
  const written: unknown[] = [];
  const api = {
    kind: 'kubernetes' as const,
    getPod: async (namespace: string, name: string) => ({ namespace, name, uid: 'uid-1', annotations }),
    getNad: async (namespace: string, name: string) => (name === 'side' ? { namespace, name, config: JSON.stringify({ cniVersion: '1.0.0', type: 'side-plugin' }) } : null),
    setNetworkStatus: async (pod: { uid: string }, status: unknown) => { written.push([pod.uid, status]); },
    recordEvent: async () => undefined,
  };
  const exec = new FakeExec();
  const overrides = { executor: exec, log: silentLogger, clusterApi: async () => api, podDevices: async () => new Map() };
  const args = { CNI_ARGS: 'K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_UID=uid-1' };
  const add = await runCni({ env: env('ADD', args), stdin: conf(), overrides });
  t.equal(add.exitCode, 0, add.stdout);
  t.same(exec.calls.map((call) => `${call.type}/${call.ifname}`), ['weave-net/eth0', 'other-plugin/net1', 'tuning/net1', 'side-plugin/net2']);
  t.equal(exec.calls[3]!.stdin['name'], 'side', 'a NAD config without name gets the NAD name');
  t.match(written[0], ['uid-1', [{ name: 'weave1', interface: 'eth0', default: true }, { name: 'other1', interface: 'net1' }, { name: 'ns/side', interface: 'net2' }]]);
  annotations['k8s.v1.cni.cncf.io/networks'] = '[{"name": broken';
  const del = await runCni({ env: env('DEL', args), stdin: conf(), overrides });
  t.equal(del.exitCode, 0, del.stdout);
  t.same(exec.calls.slice(4).map((call) => `${call.type}/${call.ifname}`), ['side-plugin/net2', 'tuning/net1', 'other-plugin/net1', 'weave-net/eth0']);
});

t.test('a NAD with an empty spec.config uses the on-disk config of the same name; an invalid on-disk config fails', async (t) => {
  const { fromNad } = await import('../../cni/resolve.js');
  const confDir = tempDir('npx-confdir-');
  writeFileSync(join(confDir, '10-a.conf'), JSON.stringify({ cniVersion: '0.4.0', name: 'other', type: 'x' }));
  writeFileSync(join(confDir, '20-b.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'disk-net', plugins: [{ type: 'macvlan' }] }));
  const resolved = fromNad({ namespace: 'ns', name: 'disk-net' }, confDir);
  t.same([resolved.networkName, resolved.config.name, resolved.config.plugins[0]!['type']], ['ns/disk-net', 'disk-net', 'macvlan']);
  t.throws(() => fromNad({ namespace: 'ns', name: 'absent' }, confDir), /NetworkAttachmentDefinition ns\/absent has no spec\.config and no CNI config named "absent" exists in/);
  writeFileSync(join(confDir, '05-broken.conf'), '{nope');
  t.throws(() => fromNad({ namespace: 'ns', name: 'disk-net' }, confDir), /05-broken\.conf is not valid JSON/);
  t.throws(() => fromNad({ namespace: 'ns', name: 'x', config: '{"cniVersion":"1.0.0"' }, confDir), /NetworkAttachmentDefinition ns\/x: spec\.config is not valid JSON/);
});

t.test('migration: DEL of a pod that Multus added replays Multus\'s own cache format (delegates with base64 Bytes)', async (t) => {
  const exec = new FakeExec();
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
  writeFileSync(join(dir, 'cache', `c${n}`), JSON.stringify([
    { Name: 'cbr0', Bytes: b64({ cniVersion: '0.3.1', name: 'cbr0', type: 'flannel' }), IsFilterV4Gateway: false },
    { Name: 'ns/sriov', ifnameRequest: 'vf0', deviceID: '0000:03:02.1', resourceName: 'intel.com/sriov', Bytes: b64({ cniVersion: '0.3.1', name: 'sriov', plugins: [{ type: 'sriov' }, { type: 'tuning' }] }) },
    { Name: 'ns/mv', Bytes: b64({ cniVersion: '0.3.1', name: 'mv', type: 'macvlan' }) },
  ]));
  const del = await run(exec, 'DEL', conf());
  t.equal(del.exitCode, 0, del.stdout);
  t.same(exec.calls.map((call) => `${call.type}/${call.ifname}`), ['macvlan/net2', 'tuning/vf0', 'sriov/vf0', 'flannel/eth0']);
  t.notOk(existsSync(join(dir, 'cache', `c${n}`)), 'the Multus cache file is removed afterwards');
});
