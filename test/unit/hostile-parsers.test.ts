// Hostile input, in-process: ≥10,000 generated cases per parser. Every parser either returns a value that
// satisfies its own validation rules or throws its typed error naming the input — never anything else,
// never a hang. Covers CNI_ARGS and the CNI_* environment, both forms of the networks annotation, NAD
// configs (spec.config and conflists), sriov-network-device-plugin's config.json, the meta-CNI conf,
// Multus's daemon-config.json and the agent's request body.
import t from 'tap';
import fc from 'fast-check';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { parseNetworksAnnotation } from '../../cni/annotation.js';
import { parseCniCall } from '../../cni/agent-server.js';
import { toConfList } from '../../cni/delegate-conf.js';
import { CniError } from '../../cni/errors.js';
import { cachePath } from '../../cni/cache.js';
import { containerIdProblem, formatCniArgs, ifnameProblem, parseCniArgs, readRequest } from '../../cni/request.js';
import { fromNad } from '../../cni/resolve.js';
import { SUPPORTED_VERSIONS } from '../../cni/version.js';
import { ConfigError, parseDevicePluginConfig } from '../../config/deviceplugin-config.js';
import { MultusConfigError, loadMultusConfigFile, parseMultusNetConf } from '../../config/multus-config.js';
import { servedConf } from '../../deploy/agent.js';
import type { AgentArgs } from '../../deploy/agent-cli.js';
import { checkProperty, garbledText, hostileJson, hostileString, isWithin, mutatedObject, scratchDir } from '../helpers/hostile.js';

const RUNS = 10_000;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dir = scratchDir('npx-hostile-');

function expectCniError(error: unknown, code: number | number[], prefix: string | RegExp): void {
  if (!(error instanceof CniError)) throw new Error(`expected a CniError, got ${String((error as Error)?.stack ?? error)}`);
  const codes = Array.isArray(code) ? code : [code];
  if (!codes.includes(error.code)) throw new Error(`expected CNI code ${codes.join('/')}, got ${error.code}: ${error.message}`);
  const named = typeof prefix === 'string' ? error.message.includes(prefix) : prefix.test(error.message);
  if (!named) throw new Error(`the error does not name the input (${String(prefix)}): ${error.message}`);
}

t.test('CNI_ARGS: pairs that round-trip, or error 4 naming the item', async (t) => {
  const text = fc.oneof(hostileString(), fc.array(fc.tuple(hostileString(30), hostileString(30)).map(([key, value]) => `${key}=${value}`), { maxLength: 6 }).map((pairs) => pairs.join(';')));
  await checkProperty(t, 'CNI_ARGS', fc.property(text, (input) => {
    let pairs: Array<[string, string]>;
    try {
      pairs = parseCniArgs(input);
    } catch (error) {
      expectCniError(error, 4, /^CNI_ARGS: ".*" is not KEY=VALUE$/s);
      return;
    }
    for (const [key, value] of pairs) if (key === '' || key.includes(';') || key.includes('=') || value.includes(';')) throw new Error(`bad pair ${JSON.stringify([key, value])}`);
    if (JSON.stringify(parseCniArgs(formatCniArgs(pairs))) !== JSON.stringify(pairs.filter(([key, value]) => `${key}=${value}`.trim() !== ''))) throw new Error('does not round-trip');
  }), RUNS);
});

t.test('CNI_* environment: a request with safe IDs and names, or error 4 naming the variable', async (t) => {
  const env = fc.record({
    CNI_COMMAND: fc.oneof(fc.constantFrom('ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'), hostileString(10)),
    CNI_CONTAINERID: fc.oneof(hostileString(), fc.stringMatching(/^[a-f0-9]{64}$/)),
    CNI_NETNS: fc.oneof(hostileString(), fc.constant('/var/run/netns/x')),
    CNI_IFNAME: fc.oneof(hostileString(20), fc.constantFrom('eth0', 'net1')),
    CNI_ARGS: fc.tuple(hostileString(70), hostileString(70), hostileString(30)).map(([ns, name, uid]) => `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${name};K8S_POD_UID=${uid}`),
  }, { requiredKeys: ['CNI_COMMAND'] });
  await checkProperty(t, 'CNI_* environment', fc.property(env, (input) => {
    let request;
    try {
      request = readRequest(input);
    } catch (error) {
      expectCniError(error, 4, /^(CNI_COMMAND|CNI_CONTAINERID|CNI_IFNAME|CNI_NETNS|CNI_ARGS)\b/);
      return;
    }
    if (['ADD', 'DEL', 'CHECK'].includes(request.command)) {
      if (containerIdProblem(request.containerId) || ifnameProblem(request.ifname)) throw new Error('accepted an invalid container ID or ifname');
      if (!isWithin(dir, cachePath(dir, request.containerId)) || cachePath(dir, request.containerId) === dir) throw new Error('cache path escapes its directory');
    }
    if (request.pod) {
      if (!DNS_LABEL.test(request.pod.namespace)) throw new Error(`accepted pod namespace ${JSON.stringify(request.pod.namespace)}`);
      if (request.pod.name.length > 253 || !request.pod.name.split('.').every((label) => DNS_LABEL.test(label))) throw new Error(`accepted pod name ${JSON.stringify(request.pod.name)}`);
    }
  }), RUNS);
});

function checkSelections(selections: ReturnType<typeof parseNetworksAnnotation>): void {
  for (const selection of selections) {
    if (!DNS_LABEL.test(selection.name) || !DNS_LABEL.test(selection.namespace)) throw new Error(`accepted ${selection.namespace}/${selection.name}`);
    if (selection.interface !== undefined && ifnameProblem(selection.interface)) throw new Error(`accepted interface ${JSON.stringify(selection.interface)}`);
    for (const ip of selection.ips ?? []) if (isIP(ip.split('/')[0]!) === 0) throw new Error(`accepted ip ${ip}`);
  }
}

t.test('networks annotation, comma form: DNS names and valid ifnames, or error 7 naming the annotation', async (t) => {
  const item = fc.tuple(fc.option(hostileString(30)), hostileString(30), fc.option(hostileString(20))).map(([ns, name, ifname]) => `${ns === null ? '' : `${ns}/`}${name}${ifname === null ? '' : `@${ifname}`}`);
  const text = fc.oneof(hostileString(), fc.array(item, { maxLength: 5 }).map((items) => items.join(',')));
  await checkProperty(t, 'annotation (comma form)', fc.property(text, (input) => {
    try {
      checkSelections(parseNetworksAnnotation(input, 'default'));
    } catch (error) {
      expectCniError(error, 7, /^annotation k8s\.v1\.cni\.cncf\.io\/networks: /);
    }
  }), RUNS);
});

t.test('networks annotation, JSON form: validated elements, or error 7 naming the element', async (t) => {
  const valid = { name: 'macvlan-a', namespace: 'default', interface: 'net1', ips: ['10.1.1.2/24'], mac: 'c2:11:22:33:44:55', 'default-route': ['10.1.1.1'] };
  const keys = [...Object.keys(valid), 'interfaceRequest', 'portMappings', 'bandwidth', 'cni-args', 'deviceID', 'infiniband-guid'];
  const element = fc.oneof(mutatedObject(valid, keys), hostileJson());
  const text = fc.oneof(fc.array(element, { maxLength: 4 }).map((elements) => JSON.stringify(elements)), garbledText(JSON.stringify([valid])));
  await checkProperty(t, 'annotation (JSON form)', fc.property(text, (input) => {
    try {
      checkSelections(parseNetworksAnnotation(input, 'default'));
    } catch (error) {
      expectCniError(error, 7, /^annotation k8s\.v1\.cni\.cncf\.io\/networks: /);
    }
  }), RUNS);
});

const validPlugin = { type: 'macvlan', master: 'eth1', mode: 'bridge', ipam: { type: 'static' }, capabilities: { ips: true } };
const validList = { cniVersion: '1.0.0', name: 'mv', plugins: [validPlugin] };

function checkConfList(list: ReturnType<typeof toConfList>): void {
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(list.cniVersion)) throw new Error(`accepted cniVersion ${list.cniVersion}`);
  if (typeof list.name !== 'string' || list.name === '') throw new Error('accepted an empty name');
  if (list.plugins.length === 0) throw new Error('accepted an empty plugin list');
  for (const plugin of list.plugins) if (typeof plugin['type'] !== 'string' || plugin['type'] === '') throw new Error('accepted a plugin without type');
}

t.test('NAD spec.config (single plugin and conflist): a conflist, or an error naming the NAD', async (t) => {
  const single = { cniVersion: '1.0.0', name: 'mv', ...validPlugin };
  const config = fc.oneof(
    mutatedObject(single, Object.keys(single)).map((object) => JSON.stringify(object)),
    mutatedObject(validList, ['cniVersion', 'name', 'plugins', 'disableCheck', 'disableGC']).map((object) => JSON.stringify(object)),
    fc.array(fc.oneof(mutatedObject(validPlugin, Object.keys(validPlugin)), hostileJson()), { maxLength: 3 }).map((plugins) => JSON.stringify({ ...validList, plugins })),
    garbledText(JSON.stringify(validList)),
  );
  const confDir = join(dir, 'net.d');
  mkdirSync(confDir, { recursive: true });
  await checkProperty(t, 'NAD spec.config', fc.property(config, (text) => {
    try {
      const resolved = fromNad({ namespace: 'ns1', name: 'nad1', config: text }, confDir);
      checkConfList(resolved.config);
    } catch (error) {
      expectCniError(error, [1, 6, 7], 'NetworkAttachmentDefinition ns1/nad1');
    }
  }), RUNS);
});

t.test('inline delegates / conflists via toConfList: a conflist, or an error naming the source', async (t) => {
  await checkProperty(t, 'toConfList', fc.property(fc.oneof(hostileJson(), mutatedObject(validList, ['cniVersion', 'name', 'plugins'])), (raw) => {
    try {
      checkConfList(toConfList(raw, 'delegates[3]'));
    } catch (error) {
      expectCniError(error, [1, 6, 7], 'delegates[3]');
    }
  }), RUNS);
});

t.test('config.json (sriov-network-device-plugin): valid pools, or ConfigError naming the file and path', async (t) => {
  const resource = { resourceName: 'intel_sriov', resourcePrefix: 'intel.com', deviceType: 'netDevice', selectors: { vendors: ['8086'], drivers: ['iavf'], pfNames: ['ens1f0#0-3'] }, additionalInfo: { '*': { k: 'v' } } };
  const selector = { vendors: ['8086'], devices: ['154c'], drivers: ['iavf'], pfNames: ['ens1f0#0-3'], rootDevices: ['0000:3b:00.0'], linkTypes: ['ether'], ddpProfiles: ['x'], isRdma: true, needVhostNet: false, vdpaType: 'vhost', pciAddresses: ['0000:3b:02.1'], acpiIndexes: ['1'] };
  const resources = fc.array(fc.oneof(
    mutatedObject(resource, Object.keys(resource)),
    mutatedObject(selector, Object.keys(selector)).map((selectors) => ({ ...resource, selectors })),
    hostileJson(),
  ), { maxLength: 3 });
  const text = fc.oneof(resources.map((resourceList) => JSON.stringify({ resourceList })), garbledText(JSON.stringify({ resourceList: [resource] })));
  await checkProperty(t, 'config.json', fc.property(text, (input) => {
    let parsed;
    try {
      parsed = parseDevicePluginConfig(input, '/etc/pcidp/config.json', { defaultPrefix: 'intel.com' });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      if (error.problems.length === 0 || error.problems.some((problem) => problem.file !== '/etc/pcidp/config.json' || problem.message === '')) throw new Error(`problems without file or message: ${error.message}`);
      return;
    }
    for (const pool of parsed.config.resourceList) {
      if (!/^[a-zA-Z0-9_-]+$/.test(pool.resourceName) || !pool.resourcePrefix.split('.').every((label) => DNS_LABEL.test(label))) throw new Error(`accepted pool ${pool.fullName}`);
    }
  }), RUNS);
});

const validMultus = {
  cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', kubeconfig: '/etc/cni/net.d/multus.d/multus.kubeconfig', cniDir: '/var/lib/cni/multus',
  delegates: [{ cniVersion: '1.0.0', name: 'flannel', plugins: [{ type: 'flannel' }] }], logLevel: 'verbose', capabilities: { portMappings: true },
  standalone: { nadDir: '/etc/nicplex/nads', devicePools: { 'example.com/dev': ['dev0'] }, allocationDir: '/var/lib/nicplex/devices' },
  namespaceIsolation: false, systemNamespaces: ['kube-system'], builtinDelegates: ['sriov'], readinessTimeoutSeconds: 3,
};
const PATH_KEYS = ['confDir', 'cniDir', 'binDir', 'kubeconfig', 'readinessindicatorfile', 'logFile', 'podResourcesSocket', 'kubeletCheckpointFile', 'deviceInfoDir', 'cniDeviceInfoDir', 'delegateStateDir'];

function checkMultusConf(conf: ReturnType<typeof parseMultusNetConf>['conf']): void {
  for (const key of PATH_KEYS) {
    const value = (conf as unknown as Record<string, unknown>)[key];
    if (value !== undefined && (typeof value !== 'string' || !value.startsWith('/'))) throw new Error(`accepted a relative ${key}: ${JSON.stringify(value)}`);
  }
  if (!conf.clusterNetwork && conf.delegates.length === 0) throw new Error('accepted a conf without a cluster network');
  for (const [resource, ids] of Object.entries(conf.standalone?.devicePools ?? {})) {
    if (resource.split('/').some((part) => part === '..' || part === '.') || ids.some((id) => id.includes('/') || id === '..')) throw new Error(`accepted pool ${resource}`);
  }
}

t.test('the meta-CNI conf (00-multus.conf / 00-nicplex.conf): a conf with absolute paths, or MultusConfigError naming the file', async (t) => {
  const keys = [...Object.keys(validMultus), ...PATH_KEYS, 'clusterNetwork', 'defaultNetworks', 'globalNamespaces', 'retryDeleteOnError', 'delegateTimeoutSeconds', 'podLookupTimeoutMs'];
  const standalone = mutatedObject(validMultus.standalone, ['nadDir', 'devicePools', 'allocationDir']).map((value) => ({ ...validMultus, standalone: value }));
  const pools = fc.dictionary(hostileString(30), fc.oneof(fc.array(hostileString(20), { maxLength: 3 }), hostileJson()), { maxKeys: 3 }).map((devicePools) => ({ ...validMultus, standalone: { ...validMultus.standalone, devicePools } }));
  const document = fc.oneof(mutatedObject(validMultus, keys), standalone, pools);
  const file = join(dir, '00-multus.conf');
  const listFile = join(dir, '00-multus.conflist');
  await checkProperty(t, 'multus conf', fc.property(fc.oneof(document.map((object) => JSON.stringify(object)), garbledText(JSON.stringify(validMultus))), fc.boolean(), (text, asList) => {
    const path = asList ? listFile : file;
    let body = text;
    if (asList) {
      try { body = JSON.stringify({ cniVersion: '1.0.0', name: 'multus', plugins: [JSON.parse(text)] }); } catch { body = text; }
    }
    writeFileSync(path, body);
    try {
      checkMultusConf(loadMultusConfigFile(path).conf);
    } catch (error) {
      if (!(error instanceof MultusConfigError)) throw error;
      if (!error.message.startsWith(`${path}: `) || error.issues.length === 0) throw new Error(`the error does not name the file: ${error.message}`);
    }
  }), RUNS);
});

t.test('Multus daemon-config.json (--multus-daemon-config): a served conf, or an error naming the file', async (t) => {
  const daemon = {
    chrootDir: '', cniVersion: '1.0.0', logLevel: 'verbose', logToStderr: true, cniConfigDir: '/host/etc/cni/net.d', multusAutoconfigDir: '/host/etc/cni/net.d',
    multusConfigFile: 'auto', socketDir: '/host/run/multus/', readinessindicatorfile: '', type: 'multus-shim', overrideNetworkName: false,
  };
  const file = join(dir, 'daemon-config.json');
  const args = { 'multus-daemon-config': file, 'socket-dir': '/run/nicplex' } as unknown as AgentArgs;
  const text = fc.oneof(mutatedObject(daemon, [...Object.keys(daemon), 'multusMasterCNI', 'binDir', 'cniDir']).map((object) => JSON.stringify(object)), garbledText(JSON.stringify(daemon)));
  await checkProperty(t, 'daemon-config.json', fc.property(text, (input) => {
    writeFileSync(file, input);
    let served;
    try {
      served = servedConf(args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes(file)) throw new Error(`the error does not name the file: ${String(error)}`);
      return;
    }
    if (!served.socketDir.startsWith('/')) throw new Error(`accepted a relative socketDir ${JSON.stringify(served.socketDir)}`);
    if (!['multus.sock', 'nicplex.sock'].includes(served.socketName)) throw new Error(`socket name ${served.socketName}`);
    if (served.install && !served.install.confDir.startsWith('/')) throw new Error(`accepted a relative cniConfigDir ${JSON.stringify(served.install.confDir)}`);
  }), RUNS);
});

t.test('the agent request body ({env, config}): CNI_* strings only, or error 6 naming the body', async (t) => {
  const valid = { env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' }, config: Buffer.from('{"cniVersion":"1.0.0"}').toString('base64') };
  const body = fc.oneof(
    mutatedObject(valid, ['env', 'config']).map((object) => JSON.stringify(object)),
    mutatedObject(valid.env, [...Object.keys(valid.env), 'PATH', 'LD_PRELOAD', 'CNI_ARGS']).map((env) => JSON.stringify({ ...valid, env })),
    garbledText(JSON.stringify(valid)),
  );
  await checkProperty(t, 'agent request body', fc.property(body, (input) => {
    let call;
    try {
      call = parseCniCall(input);
    } catch (error) {
      expectCniError(error, 6, /^request body /);
      return;
    }
    for (const [key, value] of Object.entries(call.env)) if (!key.startsWith('CNI_') || typeof value !== 'string') throw new Error(`passed ${key}`);
    if (typeof call.stdin !== 'string') throw new Error('stdin is not a string');
  }), RUNS);
});
