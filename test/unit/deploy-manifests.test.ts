// Every manifest under deploy/ is valid against the Kubernetes object schemas (kubernetes-models), a
// broken copy is rejected, the ConfigMap's two files are the reference projects' formats that the
// agent accepts unchanged, and the DaemonSet, its probes, privileges and service account agree with
// the agent's flags and deploy/rbac.yaml.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDevicePluginConfig } from '../../config/deviceplugin-config.js';
import { servedConf } from '../../deploy/agent.js';
import type { AgentArgs } from '../../deploy/agent-cli.js';
import { deployDir, findManifest, manifestFiles, validateManifestFile } from '../helpers/deploy-manifests.js';
import { repoRoot } from '../helpers/paths.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are read field by field
type Json = Record<string, any>;

t.test('every document of every manifest in deploy/ passes its Kubernetes schema', async (t) => {
  const kinds = manifestFiles().flatMap((path) => validateManifestFile(path).map((manifest) => manifest.kind));
  t.same(kinds.sort(), ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'CustomResourceDefinition', 'DaemonSet', 'ServiceAccount']);
});

t.test('a broken copy of a manifest fails validation, naming the file, the object and the field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'npx-manifests-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const mutate = (file: string, from: RegExp, to: string) => {
    const text = readFileSync(join(deployDir, file), 'utf8');
    t.match(text, from, `${file} has the text to break`);
    const path = join(dir, file);
    writeFileSync(path, text.replace(from, to));
    return path;
  };
  const daemonset = mutate('daemonset.yaml', /add: \["NET_ADMIN", "SYS_ADMIN", "NET_RAW"\]/, 'add: "NET_ADMIN"');
  t.throws(() => validateManifestFile(daemonset), /daemonset\.yaml document 2: DaemonSet nicplex: .*capabilities\/add must be array/);
  const noSelector = mutate('daemonset.yaml', /^ {2}selector:\n {4}matchLabels: \{ app: nicplex \}\n/m, '');
  t.throws(() => validateManifestFile(noSelector), /DaemonSet nicplex: .*must have required property selector/);
  const crd = mutate('networkattachmentdefinition-crd.yaml', /^ {2}scope: Namespaced\n/m, '');
  t.throws(() => validateManifestFile(crd), /CustomResourceDefinition .*must have required property scope/);
  const rbac = mutate('rbac.yaml', /verbs: \["patch"\]/, 'verbs: "patch"');
  t.throws(() => validateManifestFile(rbac), /ClusterRole nicplex: .*verbs must be array/);
  const unknownKind = mutate('rbac.yaml', /kind: ServiceAccount/, 'kind: ServiceAcount');
  t.throws(() => validateManifestFile(unknownKind), /v1 ServiceAcount has no schema here/);
});

const configMap = findManifest('ConfigMap', 'nicplex-config') as Json;
const daemonSet = findManifest('DaemonSet', 'nicplex') as Json;
const container = daemonSet['spec'].template.spec.containers[0] as Json;
const flag = (name: string) => (container['args'] as string[]).find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);

t.test("the ConfigMap's config.json and daemon-config.json are accepted by the agent as they are", async (t) => {
  const parsed = parseDevicePluginConfig(configMap['data']['config.json'], 'config.json', { defaultPrefix: 'intel.com' });
  t.same(parsed.config.resourceList.map((pool) => `${pool.resourcePrefix}/${pool.resourceName}`),
    ['intel.com/intel_sriov_netdevice', 'intel.com/intel_sriov_dpdk', 'mellanox.com/mlnx_sriov_rdma']);
  const dir = mkdtempSync(join(tmpdir(), 'npx-daemon-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const daemonConfig = join(dir, 'daemon-config.json');
  writeFileSync(daemonConfig, configMap['data']['daemon-config.json']);
  const served = servedConf({ 'multus-daemon-config': daemonConfig, 'socket-dir': '/run/nicplex' } as AgentArgs);
  t.match(served, { type: 'multus-shim', socketDir: '/host/run/multus/', socketName: 'multus.sock', install: { confDir: '/host/etc/cni/net.d', fileName: '00-multus.conf' } });
  t.match(served.warnings, [/chrootDir is not supported/], 'chrootDir is accepted with a warning');
  const mounts = (container['volumeMounts'] as Json[]).map((mount) => mount['mountPath'] as string);
  for (const path of [served.socketDir.replace(/\/$/, ''), served.install!.confDir]) t.ok(mounts.includes(path), `${path} (from daemon-config.json) is mounted`);
});

t.test('the DaemonSet runs the agent with its files, loopback probes, and only the documented capabilities', async (t) => {
  const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  t.equal(container['image'], `localhost/nicplex:${version}`, 'the image deploy/build-image.sh tags');
  t.equal((container['args'] as string[])[0], 'agent');
  const configMount = (container['volumeMounts'] as Json[]).find((mount) => mount['name'] === 'config')!;
  for (const name of ['config', 'multus-daemon-config']) {
    const path = flag(name)!;
    t.ok(path.startsWith(`${configMount['mountPath']}/`) && configMap['data'][path.slice(configMount['mountPath'].length + 1)] !== undefined, `--${name} ${path} is a key of the ConfigMap`);
  }
  const metrics = flag('metrics-address')!;
  t.match(metrics, /^127\.0\.0\.1:\d+$/, 'metrics on loopback');
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const get = container[probe]?.httpGet as Json | undefined;
    t.equal(`${get?.['host']}:${get?.['port']}`, metrics, `${probe} asks the metrics address`);
  }
  t.equal(container['livenessProbe'].httpGet.path, '/healthz');
  t.equal(container['readinessProbe'].httpGet.path, '/readyz');
  t.equal(daemonSet['spec'].template.spec.hostNetwork, true, 'hostNetwork: the probes and the delegates need the node netns');
  const security = container['securityContext'] as Json;
  t.equal(security['privileged'], false);
  t.same(security['capabilities'].drop, ['ALL']);
  const header = readFileSync(join(deployDir, 'daemonset.yaml'), 'utf8');
  for (const capability of security['capabilities'].add as string[]) t.match(header, new RegExp(`^#\\s+${capability}\\s+\\S`, 'm'), `${capability} is explained in the manifest`);
  t.ok(container['lifecycle']?.preStop?.exec?.command, 'a preStop hook');
  const serviceAccount = findManifest('ServiceAccount', 'nicplex');
  t.equal(daemonSet['spec'].template.spec.serviceAccountName, serviceAccount.metadata.name);
  t.match(findManifest('ClusterRoleBinding', 'nicplex'), { roleRef: { kind: 'ClusterRole', name: 'nicplex' }, subjects: [{ kind: 'ServiceAccount', name: 'nicplex', namespace: serviceAccount.metadata.namespace }] });
  t.equal(flag('kubeconfig'), '/var/run/secrets/kubernetes.io/serviceaccount', 'in-cluster credentials of that service account');
});
