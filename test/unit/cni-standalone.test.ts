// Standalone NAD manifests: the NAD directory loader (YAML through the yaml library, JSON) and network selection.
import t from 'tap';
import { writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadNadDirectory } from '../../cni/standalone.js';
import { repoRoot } from '../helpers/paths.js';
import { toConfList } from '../../cni/delegate-conf.js';
import { tempDir } from '../helpers/cni-tempdir.js';

t.test('YAML manifests: several documents per file, block scalars, comments, a List; a syntax error names the file and line', async (t) => {
  const dir = tempDir('npx-nads-yaml-');
  writeFileSync(join(dir, 'two.yaml'), `# two NADs
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: first
  namespace: lab   # trailing comment
  annotations:
    k8s.v1.cni.cncf.io/resourceName: example.com/a
spec:
  config: |
    {"cniVersion": "1.0.0", "name": "first", "type": "macvlan"}
---
kind: List
items:
- kind: NetworkAttachmentDefinition
  metadata: {name: second}
  spec: {config: '{"cniVersion":"1.0.0","name":"second","type":"ipvlan"}'}
`);
  const nads = await loadNadDirectory(dir);
  t.same([...nads.keys()].sort(), ['default/second', 'lab/first']);
  t.same(nads.get('lab/first'), { namespace: 'lab', name: 'first', config: '{"cniVersion": "1.0.0", "name": "first", "type": "macvlan"}\n', resourceName: 'example.com/a' });
  writeFileSync(join(dir, 'bad.yaml'), 'kind: NetworkAttachmentDefinition\nmetadata:\n  name: x\n   oops: [\n');
  await t.rejects(loadNadDirectory(dir), /standalone NAD file .*bad\.yaml: line \d+: /);
});

t.test('the NAD directory loader reads YAML and JSON manifests, defaults the namespace, and rejects bad ones with the file name', async (t) => {
  const examples = await loadNadDirectory(join(repoRoot, 'config', 'examples', 'nads'));
  t.same([...examples.keys()].sort(), ['default/ena-host-device', 'default/ena-ipvlan', 'default/macvlan-static', 'default/sriov-vf']);
  t.equal(examples.get('default/sriov-vf')?.resourceName, 'example.com/sriov_a');
  for (const nad of examples.values()) t.ok(toConfList(JSON.parse(nad.config!), nad.name).plugins.length > 0, `${nad.name} config parses`);
  const dir = tempDir('npx-nads-');
  writeFileSync(join(dir, 'a.json'), JSON.stringify({ kind: 'NetworkAttachmentDefinition', metadata: { name: 'plain' }, spec: { config: '{}' } }));
  t.same([...(await loadNadDirectory(dir)).keys()], ['default/plain']);
  writeFileSync(join(dir, 'b.yaml'), 'kind: NetworkAttachmentDefinition\nmetadata:\n  name: Bad_Name\n');
  await t.rejects(loadNadDirectory(dir), /b\.yaml: metadata\.name must be a DNS-1123 label/);
  t.same(readdirSync(dir).length, 2);
  t.same([...(await loadNadDirectory(join(dir, 'missing')))], [], 'a missing directory means no NADs');
});

t.test('standalone network selection: args.cni.networks, then CNI_ARGS NICPLEX_NETWORKS, then the CRI pod-annotations capability', async (t) => {
  const { standaloneNetworksFrom } = await import('../../cni/commands.js');
  const { parseMultusNetConf } = await import('../../config/multus-config.js');
  const { readRequest } = await import('../../cni/request.js');
  const request = readRequest({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/n', CNI_IFNAME: 'eth0', CNI_ARGS: 'IgnoreUnknown=1;NICPLEX_NETWORKS=lab/a@x,b' });
  const base = { cniVersion: '1.0.0', name: 'n', type: 'nicplex', delegates: [{ cniVersion: '1.0.0', name: 'd', type: 'bridge' }], standalone: {} };
  const conf = (extra: Record<string, unknown>) => parseMultusNetConf({ ...base, ...extra }, 't').conf;
  const annotations = { 'io.kubernetes.cri.pod-annotations': { 'k8s.v1.cni.cncf.io/networks': 'from-annotation' } };
  t.equal(standaloneNetworksFrom(request, conf({ args: { cni: { networks: [{ name: 'z' }] } }, runtimeConfig: annotations })), '[{"name":"z"}]');
  t.equal(standaloneNetworksFrom(request, conf({ runtimeConfig: annotations })), 'lab/a@x,b');
  t.equal(standaloneNetworksFrom(readRequest({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/n', CNI_IFNAME: 'eth0' }), conf({ runtimeConfig: annotations })), 'from-annotation');
  t.equal(standaloneNetworksFrom(readRequest({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/n', CNI_IFNAME: 'eth0' }), conf({})), undefined);
});
