// Standalone NAD manifests: the small YAML reader and the NAD directory loader.
import t from 'tap';
import { writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseYamlDocuments } from '../../cni/yaml-lite.js';
import { loadNadDirectory } from '../../cni/standalone.js';
import { repoRoot } from '../helpers/paths.js';
import { toConfList } from '../../cni/delegate-conf.js';
import { tempDir } from '../helpers/cni-tempdir.js';

t.test('YAML subset: mappings, sequences, quoting, comments, block scalars, flow JSON, several documents', async (t) => {
  const docs = parseYamlDocuments(`# header
a: 1
b: "two # not a comment"
c: 'it''s'
d:
  - x
  - y: 1
    z: [1, 2]
e: |
  line1
    indented
  # kept in block

f: >-
  folded
  text
g: true   # trailing comment
---
second: ~
`, 'test.yaml');
  t.same(docs, [{ a: 1, b: 'two # not a comment', c: "it's", d: ['x', { y: 1, z: [1, 2] }], e: 'line1\n  indented\n# kept in block\n', f: 'folded text', g: true }, { second: null }]);
  t.throws(() => parseYamlDocuments('a: 1\n   b: 2\n', 'bad.yaml'), /bad\.yaml:2: unexpected indentation/);
  t.throws(() => parseYamlDocuments('just text\n', 'bad.yaml'), /bad\.yaml:1: expected "key: value"/);
});

t.test('the NAD directory loader reads YAML and JSON manifests, defaults the namespace, and rejects bad ones with the file name', async (t) => {
  const examples = loadNadDirectory(join(repoRoot, 'config', 'examples', 'nads'));
  t.same([...examples.keys()].sort(), ['default/macvlan-static', 'default/sriov-vf']);
  t.equal(examples.get('default/sriov-vf')?.resourceName, 'example.com/sriov_a');
  for (const nad of examples.values()) t.ok(toConfList(JSON.parse(nad.config!), nad.name).plugins.length > 0, `${nad.name} config parses`);
  const dir = tempDir('npx-nads-');
  writeFileSync(join(dir, 'a.json'), JSON.stringify({ kind: 'NetworkAttachmentDefinition', metadata: { name: 'plain' }, spec: { config: '{}' } }));
  t.same([...loadNadDirectory(dir).keys()], ['default/plain']);
  writeFileSync(join(dir, 'b.yaml'), 'kind: NetworkAttachmentDefinition\nmetadata:\n  name: Bad_Name\n');
  t.throws(() => loadNadDirectory(dir), /b\.yaml: metadata\.name must be a DNS-1123 label/);
  t.same(readdirSync(dir).length, 2);
  t.same([...loadNadDirectory(join(dir, 'missing'))], [], 'a missing directory means no NADs');
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
