// Hostile input through the whole CNI command path in-process (no root needed, but ~1 min on 2 cores: a
// reliability-tier file rather than a unit test) (runCni, standalone mode, a recording
// fake executor): ≥10,000 generated stdin configs and ≥10,000 hostile requests (container IDs, ifnames, pod
// names, annotation elements, NAD names and namespaces, resource names and device IDs). Every answer is
// CNI JSON (an error with a code and a message naming the input, exit 1), an ADD that fails leaves no cache
// and no allocation, an ADD that succeeds is undone completely by its DEL, and every file nicplex writes
// stays inside its directory with a name of one path component.
import t from 'tap';
import fc from 'fast-check';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runCni, type CniRunOutcome } from '../../cni/entry.js';
import type { PluginExecutor, PluginInvocation } from '../../cni/exec.js';
import { silentLogger } from '../../cni/log.js';
import { containerIdProblem } from '../../cni/request.js';
import { checkProperty, garbledText, hostileJson, hostileString, isWithin, mutatedObject, scratchDir } from '../helpers/hostile.js';

const RUNS = 10_000;
const sandbox = scratchDir('npx-hostile-cni-');
const dirs = {
  cniDir: join(sandbox, 'cache'), confDir: join(sandbox, 'net.d'), binDir: join(sandbox, 'bin'), deviceInfoDir: join(sandbox, 'devinfo-dp'),
  cniDeviceInfoDir: join(sandbox, 'devinfo-cni'), delegateStateDir: join(sandbox, 'state'), podResourcesSocket: join(sandbox, 'no-kubelet.sock'),
  kubeletCheckpointFile: join(sandbox, 'no-checkpoint'),
};
const nadDir = join(sandbox, 'nads');
const allocationDir = join(sandbox, 'alloc');
const netns = join(sandbox, 'netns');
for (const path of [dirs.confDir, dirs.binDir, nadDir]) mkdirSync(path, { recursive: true });
writeFileSync(netns, '');
const nad = (name: string, namespace: string, resourceName?: string) => JSON.stringify({
  apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
  metadata: { name, namespace, ...(resourceName ? { annotations: { 'k8s.v1.cni.cncf.io/resourceName': resourceName } } : {}) },
  spec: { config: JSON.stringify({ cniVersion: '1.0.0', name, type: 'fake-mv', capabilities: { ips: true, mac: true } }) },
});
writeFileSync(join(nadDir, 'mv.json'), nad('mv', 'default'));
writeFileSync(join(nadDir, 'dev.json'), nad('dev', 'default', 'example.com/dev'));
writeFileSync(join(nadDir, 'other.json'), nad('other', 'other-ns'));
// The device plugin's device-info file for dev0, which ADD copies for the attachment.
mkdirSync(dirs.deviceInfoDir, { recursive: true });
writeFileSync(join(dirs.deviceInfoDir, 'example.com-dev-dev0-device.json'), JSON.stringify({ type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:00:01.0' } }));

const validConf = {
  cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', logToStderr: false, ...dirs,
  standalone: { nadDir, allocationDir, devicePools: { 'example.com/dev': ['dev0', 'dev1'] } },
  delegates: [{ cniVersion: '1.0.0', name: 'cluster', type: 'fake-bridge' }],
};

class FakeExec implements PluginExecutor {
  calls = 0;
  async run(call: PluginInvocation): Promise<unknown> {
    this.calls++;
    if (call.command !== 'ADD') return undefined;
    return { cniVersion: String(call.stdin['cniVersion']), interfaces: [{ name: call.ifname, sandbox: call.netns }], ips: [{ address: '10.9.0.2/24', interface: 0 }] };
  }
}
const exec = new FakeExec();

/** Words at least one of which an error message must contain: it names the input that was wrong. */
const NAMES_INPUT = /clusterNetwork|defaultNetworks|stdin|CNI_[A-Z]+|annotation|cniVersion|delegates|NetworkAttachmentDefinition|network "|standalone|\$\.|plugin|resource|device|container|pod /;

async function call(env: Record<string, string>, stdin: string): Promise<CniRunOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('no answer within 5 s (hang)')), 5000); });
  try {
    return await Promise.race([runCni({ env, stdin, overrides: { executor: exec, log: silentLogger } }), hang]);
  } finally {
    clearTimeout(timer);
  }
}

function checkAnswer(outcome: CniRunOutcome, what: string): Record<string, unknown> | undefined {
  if (outcome.exitCode !== 0 && outcome.exitCode !== 1) throw new Error(`${what}: exit code ${outcome.exitCode}`);
  if (outcome.stdout === '') {
    if (outcome.exitCode !== 0) throw new Error(`${what}: failed without a CNI error on stdout`);
    return undefined;
  }
  const answer = JSON.parse(outcome.stdout) as Record<string, unknown>;
  if (outcome.exitCode === 1) {
    if (!Number.isInteger(answer['code']) || typeof answer['msg'] !== 'string' || answer['msg'] === '' || typeof answer['cniVersion'] !== 'string') throw new Error(`${what}: not a CNI error: ${outcome.stdout}`);
    if (!NAMES_INPUT.test(answer['msg'])) throw new Error(`${what}: the error names no input: ${answer['msg']}`);
  }
  return answer;
}

// Where nicplex writes by default: a hostile conf must never make it write there instead of the sandbox.
const HOST_DEFAULTS = ['/var/lib/cni/multus', '/var/lib/nicplex', '/var/run/k8s.cni.cncf.io/devinfo/cni', '/etc/cni/multus'];
const hostState = (path: string) => `${path}:${existsSync(path) ? 'present' : 'absent'}`;
const hostBefore = HOST_DEFAULTS.map(hostState);
const hostEntries = (path: string) => `${path}:${existsSync(path) ? readdirSync(path, { recursive: true }).length : 'absent'}`;
const hostEntriesBefore = HOST_DEFAULTS.map(hostEntries);
/** Every file under the sandbox's writable dirs: where nicplex may write and with what names. */
function strayFiles(): string[] {
  const stray: string[] = [];
  const walk = (dir: string): string[] => (existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).map((name) => join(dir, name)) : []);
  for (const path of walk(dirs.cniDir)) if (relative(dirs.cniDir, path).includes('/') || containerIdProblem(relative(dirs.cniDir, path)) !== undefined) stray.push(path);
  for (const path of walk(allocationDir)) if (relative(allocationDir, path).split('/').length > 2) stray.push(path);
  for (const path of walk(dirs.cniDeviceInfoDir)) if (relative(dirs.cniDeviceInfoDir, path).includes('/')) stray.push(path);
  const known = new Set(['cache', 'net.d', 'bin', 'devinfo-dp', 'devinfo-cni', 'state', 'nads', 'alloc', 'netns']);
  for (const name of readdirSync(sandbox)) if (!known.has(name)) stray.push(join(sandbox, name));
  for (const path of walk(sandbox)) if (!isWithin(sandbox, path)) stray.push(path);
  HOST_DEFAULTS.forEach((path, index) => { if (hostState(path) !== hostBefore[index]) stray.push(`${path} (a host default directory)`); });
  return stray;
}

const held = () => (existsSync(allocationDir) ? (readdirSync(allocationDir, { recursive: true }) as string[]).filter((name) => name.includes('/')) : []);
const cached = () => (existsSync(dirs.cniDir) ? readdirSync(dirs.cniDir) : []);

function reset(): void {
  for (const dir of [dirs.cniDir, allocationDir, dirs.cniDeviceInfoDir, dirs.delegateStateDir]) rmSync(dir, { recursive: true, force: true });
}

t.teardown(() => reset());

/** A key a mutation removed (or set to null or "") falls back to the host's default directory: pin it to the sandbox. */
function pinDefaults(conf: Record<string, unknown>): Record<string, unknown> {
  const pinned = { ...conf };
  const empty = (value: unknown) => value === undefined || value === null || value === '';
  for (const [key, value] of Object.entries(dirs)) if (empty(pinned[key])) pinned[key] = value;
  const standalone = pinned['standalone'];
  if (typeof standalone === 'object' && standalone !== null && !Array.isArray(standalone)) {
    const copy = { ...(standalone as Record<string, unknown>) };
    if (empty(copy['nadDir'])) copy['nadDir'] = nadDir;
    if (empty(copy['allocationDir'])) copy['allocationDir'] = allocationDir;
    pinned['standalone'] = copy;
  }
  return pinned;
}

/**
 * A hostile conf may name any directory; one outside the sandbox (or a default the conf no longer
 * overrides) is the operator's choice of where nicplex writes, not input this test may let loose on the host.
 */
function staysInSandbox(text: string): boolean {
  let conf: unknown;
  try { conf = JSON.parse(text); } catch { return true; }
  if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) return true;
  const object = conf as Record<string, unknown>;
  const pinnedOrInvalid = (value: unknown, expected: string) => value === expected || (value !== undefined && value !== null && value !== '' && (typeof value !== 'string' || !value.startsWith('/')));
  if (!Object.entries(dirs).every(([key, expected]) => pinnedOrInvalid(object[key], expected))) return false;
  if (['logFile', 'readinessindicatorfile', 'kubeconfig'].some((key) => typeof object[key] === 'string' && (object[key] as string).startsWith('/'))) return false;
  const standalone = object['standalone'];
  if (typeof standalone !== 'object' || standalone === null || Array.isArray(standalone)) return true;
  const inner = standalone as Record<string, unknown>;
  return pinnedOrInvalid(inner['nadDir'], nadDir) && pinnedOrInvalid(inner['allocationDir'], allocationDir);
}

let counter = 0;
const envFor = (command: string, containerId: string, extra: Record<string, string> = {}) => ({ CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: dirs.binDir, ...extra });

async function addThenDel(env: Record<string, string>, stdin: string): Promise<'added' | 'failed'> {
  const add = await call(env, stdin);
  checkAnswer(add, 'ADD');
  const containerId = env['CNI_CONTAINERID']!;
  if (add.exitCode !== 0) {
    if (containerIdProblem(containerId) === undefined && cached().includes(containerId)) throw new Error(`failed ADD left its cache: ${add.stdout}`);
    if (held().length > 0) throw new Error(`failed ADD left allocations ${held().join(', ')}: ${add.stdout}`);
  } else {
    const del = await call({ ...env, CNI_COMMAND: 'DEL' }, stdin);
    checkAnswer(del, 'DEL');
    if (del.exitCode !== 0) throw new Error(`DEL after a successful ADD failed: ${del.stdout}`);
    if (cached().length > 0 || held().length > 0) throw new Error(`ADD + DEL left cache ${cached().join(', ')} / allocations ${held().join(', ')}`);
    if (existsSync(dirs.cniDeviceInfoDir) && readdirSync(dirs.cniDeviceInfoDir).length > 0) throw new Error('ADD + DEL left a device-info file');
  }
  const stray = strayFiles();
  if (stray.length > 0) throw new Error(`files outside their directories: ${stray.join(', ')}`);
  reset();
  return add.exitCode === 0 ? 'added' : 'failed';
}

t.test('CNI stdin: hostile meta-CNI configs through ADD/DEL/CHECK/GC/STATUS/VERSION', async (t) => {
  const keys = [...Object.keys(validConf), 'clusterNetwork', 'defaultNetworks', 'runtimeConfig', 'args', 'prevResult', 'capabilities', 'cni.dev/valid-attachments', 'retryDeleteOnError', 'builtinDelegates'];
  const delegates = fc.array(fc.oneof(mutatedObject(validConf.delegates[0]!, ['cniVersion', 'name', 'type', 'plugins']), hostileJson()), { maxLength: 3 }).map((list) => ({ ...validConf, delegates: list }));
  const standalone = mutatedObject(validConf.standalone, ['nadDir', 'devicePools', 'allocationDir']).map((value) => ({ ...validConf, standalone: value }));
  const document = fc.oneof(mutatedObject(validConf, keys), delegates, standalone).map(pinDefaults).map((conf) => JSON.stringify(conf));
  const stdin = fc.oneof({ weight: 4, arbitrary: document }, { weight: 1, arbitrary: garbledText(JSON.stringify(validConf)) }).filter(staysInSandbox);
  const command = fc.constantFrom('ADD', 'ADD', 'ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION');
  const networks = fc.constantFrom('mv', 'dev', 'mv,dev', 'other-ns/other', '');
  const tally = { added: 0, failed: 0, other: 0 };
  await checkProperty(t, 'CNI stdin', fc.asyncProperty(stdin, command, networks, async (text, cmd, nets) => {
    const env = envFor(cmd, `hs${counter++}`, { CNI_ARGS: `IgnoreUnknown=1;NICPLEX_NETWORKS=${nets}` });
    if (cmd === 'ADD') {
      tally[await addThenDel(env, text)]++;
      return;
    }
    checkAnswer(await call(env, text), cmd);
    tally.other++;
    const stray = strayFiles();
    if (stray.length > 0) throw new Error(`files outside their directories: ${stray.join(', ')}`);
    reset();
  }), RUNS);
  t.comment(`CNI stdin: ${tally.added} ADDs succeeded (and their DEL cleaned up), ${tally.failed} failed cleanly, ${tally.other} other commands`);
  t.ok(tally.added > 100 && tally.failed > 100, 'the generator reaches both outcomes');
});

t.test('path inputs: container IDs, ifnames, pod names, annotation elements, NAD names, resource names, device IDs', async (t) => {
  const element = fc.record({
    name: fc.oneof(fc.constantFrom('mv', 'dev', 'other'), hostileString(40)),
    namespace: fc.oneof(fc.constantFrom('default', 'other-ns'), hostileString(40)),
    interface: fc.oneof(fc.constantFrom('net1', 'net2'), hostileString(20)),
    deviceID: fc.oneof(fc.constantFrom('dev0', 'dev1'), hostileString(40)),
    ips: fc.array(fc.oneof(fc.constant('10.1.1.5/24'), hostileString(20)), { maxLength: 1 }),
    'cni-args': fc.option(fc.dictionary(hostileString(10), hostileJson(), { maxKeys: 2 })),
  }, { requiredKeys: ['name'] });
  const annotation = fc.oneof(fc.array(element, { maxLength: 3 }).map((list) => JSON.stringify(list)), hostileString(60));
  const containerId = fc.oneof(hostileString(), fc.stringMatching(/^[a-f0-9]{64}$/), fc.integer({ min: 200, max: 256 }).map((length) => 'c'.repeat(length)));
  const ifname = fc.oneof(fc.constant('eth0'), hostileString(20));
  const podName = fc.oneof(fc.constant('pod-a'), hostileString(60));
  // Pools and NADs written by a hostile operator file: resource names and device IDs with traversal in them.
  const pool = fc.oneof(fc.constant('dev0'), hostileString(30));
  const resource = fc.oneof(fc.constant('example.com/dev'), hostileString(40));
  const tally = { added: 0, failed: 0 };
  await checkProperty(t, 'path inputs', fc.asyncProperty(containerId, ifname, podName, annotation, resource, pool, async (id, ifn, pod, networks, resourceName, deviceId) => {
    writeFileSync(join(nadDir, 'hostile.json'), nad('dev', 'default', resourceName).replace('"name":"dev"', '"name":"hostile"'));
    const conf = { ...validConf, standalone: { ...validConf.standalone, devicePools: { [resourceName]: [deviceId, 'dev1'] } } };
    const env = envFor('ADD', id, { CNI_IFNAME: ifn, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};NICPLEX_NETWORKS=${networks}` });
    tally[await addThenDel(env, JSON.stringify(conf))]++;
  }), RUNS);
  rmSync(join(nadDir, 'hostile.json'), { force: true });
  t.comment(`path inputs: ${tally.added} ADDs succeeded (and their DEL cleaned up), ${tally.failed} failed cleanly`);
  t.ok(tally.added > 100 && tally.failed > 100, 'the generator reaches both outcomes');
});

t.test('nothing was written to the host\'s default directories', async (t) => {
  t.same(HOST_DEFAULTS.map(hostEntries), hostEntriesBefore);
});
