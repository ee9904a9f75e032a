// Meta-CNI in Kubernetes mode (cluster network sources, bad input, ID validation, versions) against the fake API server, with the REAL reference
// plugins from /usr/lib/cni as delegates in namespaces we create.
import t from 'tap';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cniEnv } from '../helpers/cni-lab.js';
import { k8sFixture } from '../helpers/cni-k8s-fixture.js';

const { lab, api, cniDir, confDir, bridgeConf, macvlanConf, baseConf, addresses, newPod } = k8sFixture('kc');

t.test('clusterNetwork as file and directory, default-network annotation override, defaultNetworks skipped in kube-system', async (t) => {
  const file = join(confDir, '10-cluster.conflist');
  writeFileSync(file, JSON.stringify({ ...bridgeConf, name: 'from-file' }));
  const p = newPod();
  const viaFile = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), baseConf({ clusterNetwork: file }));
  t.equal(viaFile.exitCode, 0, viaFile.stdout);
  const status = JSON.parse(api.podAnnotations('default', p.pod.name)!['k8s.v1.cni.cncf.io/network-status']!) as Array<Record<string, unknown>>;
  t.equal(status[0]!['name'], 'from-file');
  t.equal((await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), baseConf({ clusterNetwork: file }))).exitCode, 0);

  const viaDir = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), baseConf({ clusterNetwork: confDir, defaultNetworks: ['macvlan-a'] }));
  t.equal(viaDir.exitCode, 1, 'defaultNetworks resolve in multusNamespace (kube-system), where macvlan-a does not exist');
  t.match(String(viaDir.json?.['msg']), /defaultNetworks "macvlan-a" not found; looked for NetworkAttachmentDefinition kube-system\/macvlan-a/);
  api.addNad({ namespace: 'kube-system', name: 'macvlan-a', config: macvlanConf('macvlan-a', { ipam: { type: 'static', addresses: [{ address: '10.231.45.3/24' }] } }) });
  const withDefault = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), baseConf({ clusterNetwork: confDir, defaultNetworks: ['macvlan-a'] }));
  t.equal(withDefault.exitCode, 0, withDefault.stdout);
  t.same(addresses(p.netns.name, 'net1'), ['10.231.45.3/24']);
  t.equal((await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), baseConf({ clusterNetwork: confDir, defaultNetworks: ['macvlan-a'] }))).exitCode, 0);

  const sys = newPod({}, 'kube-system');
  const inSystem = await lab.runCni(cniEnv('ADD', sys.containerId, sys.netns.path, 'eth0', sys.args), baseConf({ defaultNetworks: ['macvlan-a'] }));
  t.equal(inSystem.exitCode, 0, inSystem.stdout);
  t.equal(lab.link(sys.netns.name, 'net1'), undefined, 'kube-system pods get no defaultNetworks');
  t.equal((await lab.runCni(cniEnv('DEL', sys.containerId, sys.netns.path, 'eth0', sys.args), baseConf({ defaultNetworks: ['macvlan-a'] }))).exitCode, 0);

  api.addNad({ namespace: 'kube-system', name: 'alt-cluster', config: macvlanConf('alt-cluster', { ipam: { type: 'static', addresses: [{ address: '10.231.46.4/24' }] } }) });
  const o = newPod({ 'v1.multus-cni.io/default-network': 'alt-cluster' });
  const override = await lab.runCni(cniEnv('ADD', o.containerId, o.netns.path, 'eth0', o.args), baseConf());
  t.equal(override.exitCode, 0, override.stdout);
  t.same(addresses(o.netns.name, 'eth0'), ['10.231.46.4/24'], 'eth0 comes from the override NAD');
  t.equal((await lab.runCni(cniEnv('DEL', o.containerId, o.netns.path, 'eth0', o.args), baseConf())).exitCode, 0);
});

t.test('a garbage netns fails ADD; bad JSON fails ADD and DEL', async (t) => {
  const p = newPod();
  const garbage = await lab.runCni(cniEnv('ADD', p.containerId, '/var/run/netns/does-not-exist-npx', 'eth0', p.args), baseConf());
  t.equal(garbage.exitCode, 1);
  t.equal(garbage.json?.['code'], 8);
  for (const command of ['ADD', 'DEL']) {
    const bad = await lab.runCni(cniEnv(command, p.containerId, p.netns.path, 'eth0', p.args), '{"cniVersion": "1.0.0", ');
    t.equal(bad.exitCode, 1, command);
    t.equal(bad.json?.['code'], 6, `${command}: decode failure`);
  }
});

t.test('container IDs and ifnames are validated before they become file or link names', async (t) => {
  const p = newPod();
  for (const [id, ifname] of [['../../etc', 'eth0'], ['ok1', 'a/b'], ['ok1', 'x'.repeat(16)], ['ok1', '..'], ['ok1', 'a b']] as const) {
    const call = await lab.runCni(cniEnv('ADD', id, p.netns.path, ifname, p.args), baseConf());
    t.equal(call.exitCode, 1, `${id} ${ifname}`);
    t.equal(call.json?.['code'], 4);
  }
  t.notOk(existsSync(join(lab.dir, 'etc')));
  t.same(readdirSync(cniDir).filter((name) => name.includes('..')), []);
});

t.test('VERSION answers every spec version; results convert to the caller\'s version (0.2.0 ip4)', async (t) => {
  const version = await lab.runCni({ CNI_COMMAND: 'VERSION' }, { cniVersion: '0.4.0' });
  t.same(version.json, { cniVersion: '0.4.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  const p = newPod();
  const legacy = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), { ...baseConf(), cniVersion: '0.2.0' });
  t.equal(legacy.exitCode, 0, legacy.stdout);
  t.match(legacy.json, { cniVersion: '0.2.0', ip4: { ip: /^10\.231\.40\.\d+\/24$/, gateway: '10.231.40.1' } });
  const modern = await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), { ...baseConf(), cniVersion: '0.2.0' });
  t.equal(modern.exitCode, 0);
  const unknown = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), { ...baseConf(), cniVersion: '0.9.0' });
  t.equal(unknown.json?.['code'], 1);
  t.match(String(unknown.json?.['msg']), /not supported version/);
});
