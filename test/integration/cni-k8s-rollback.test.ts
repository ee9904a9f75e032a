// Meta-CNI in Kubernetes mode (corrupt cache, vanished netns, rollback of a failed ADD) against the fake API server, with the REAL reference
// plugins from /usr/lib/cni as delegates in namespaces we create.
import t from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cniEnv, sh } from '../helpers/cni-lab.js';
import { k8sFixture } from '../helpers/cni-k8s-fixture.js';

const { lab, api, cniDir, baseConf, ipamLeases, addresses, newPod } = k8sFixture('kr');

t.test('corrupt cache, vanished netns and empty CNI_NETNS never block DEL, and IPs are released', async (t) => {
  const leases = ipamLeases().length;
  const p = newPod();
  t.equal((await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), baseConf())).exitCode, 0);
  writeFileSync(join(cniDir, p.containerId), '{"plan":{"kind":"nicplexPl');
  api.deletePod('default', p.pod.name);
  const del = await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), baseConf());
  t.equal(del.exitCode, 0, del.stdout + del.stderr);
  t.match(del.stderr, /unreadable/);
  t.equal(lab.link(p.netns.name, 'eth0'), undefined, 'cluster network deleted even with a corrupt cache and no pod');
  t.equal(ipamLeases().length, leases);

  const q = newPod();
  t.equal((await lab.runCni(cniEnv('ADD', q.containerId, q.netns.path, 'eth0', q.args), baseConf())).exitCode, 0);
  sh('ip', ['netns', 'del', q.netns.name]);
  const gone = await lab.runCni(cniEnv('DEL', q.containerId, q.netns.path, 'eth0', q.args), baseConf());
  t.equal(gone.exitCode, 0, gone.stdout + gone.stderr);
  t.equal(ipamLeases().length, leases, 'IPAM released although the netns is gone');

  const r = newPod();
  t.equal((await lab.runCni(cniEnv('ADD', r.containerId, r.netns.path, 'eth0', r.args), baseConf())).exitCode, 0);
  const empty = await lab.runCni(cniEnv('DEL', r.containerId, '', 'eth0', r.args), baseConf());
  t.equal(empty.exitCode, 0, 'containerd sends an empty CNI_NETNS on DEL');
  t.equal(ipamLeases().length, leases);
});

t.test('a failing second network rolls back both and names the network', async (t) => {
  api.addNad({ namespace: 'default', name: 'broken', config: JSON.stringify({ cniVersion: '1.0.0', name: 'broken', type: 'macvlan', master: 'no-such-master', ipam: { type: 'static', addresses: [{ address: '10.231.44.2/24' }] } }) });
  const p = newPod({ 'k8s.v1.cni.cncf.io/networks': 'macvlan-b-missing-is-not-used,broken'.split(',')[1]! });
  const leases = ipamLeases().length;
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), baseConf());
  t.equal(add.exitCode, 1);
  t.match(String(add.json?.['msg']), new RegExp(`^\\[default/${p.pod.name}/${p.pod.uid}:broken\\]: error adding container to network "default/broken": `));
  t.equal(lab.link(p.netns.name, 'eth0'), undefined, 'the cluster network was rolled back');
  t.equal(ipamLeases().length, leases, 'its lease was released');
  t.notOk(existsSync(join(cniDir, p.containerId)));
});
