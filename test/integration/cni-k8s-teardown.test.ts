// Meta-CNI in Kubernetes mode (pod lookup retries, DEL without cache or pod) against the fake API server, with the REAL reference
// plugins from /usr/lib/cni as delegates in namespaces we create.
import t from 'tap';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { cniEnv, podArgs } from '../helpers/cni-lab.js';
import { k8sFixture } from '../helpers/cni-k8s-fixture.js';

const { lab, api, cniDir, baseConf, ipamLeases, newPod } = k8sFixture('kt');

t.test('the pod is not found twice, then found: ADD retries and succeeds; never found gives an empty result', async (t) => {
  const p = newPod();
  api.podNotFoundBudget.set(`default/${p.pod.name}`, 2);
  api.failures.set(`/pods/${p.pod.name}`, 1);
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), baseConf());
  t.equal(add.exitCode, 0, add.stdout + add.stderr);
  t.ok(lab.link(p.netns.name, 'eth0'));
  t.equal((await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), baseConf())).exitCode, 0);

  const gone = lab.containerNetns('gone');
  const empty = await lab.runCni(cniEnv('ADD', 'ctrgone1', gone.path, 'eth0', podArgs('default', 'never-there')), { ...baseConf(), cniVersion: '0.3.1', podLookupTimeoutMs: 600 });
  t.equal(empty.exitCode, 0, empty.stdout);
  t.equal(empty.json?.['cniVersion'], '0.3.1', 'the top-level cniVersion');
  t.equal(lab.link(gone.name, 'eth0'), undefined, 'nothing attached');
});

t.test('DEL without cache rebuilds from the API; DEL of a deleted pod with cache succeeds', async (t) => {
  const p = newPod({ 'k8s.v1.cni.cncf.io/networks': JSON.stringify([{ name: 'macvlan-a', ips: ['10.231.41.7/24'] }]) });
  const leases = ipamLeases().length;
  t.equal((await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), baseConf())).exitCode, 0);
  t.equal(ipamLeases().length, leases + 1);
  rmSync(join(cniDir, p.containerId));
  const del = await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), baseConf());
  t.equal(del.exitCode, 0, del.stdout + del.stderr);
  t.equal(lab.link(p.netns.name, 'net1'), undefined, 'net1 deleted from the rebuilt plan');
  t.equal(ipamLeases().length, leases, 'lease released from the rebuilt plan');

  const q = newPod();
  t.equal((await lab.runCni(cniEnv('ADD', q.containerId, q.netns.path, 'eth0', q.args), baseConf())).exitCode, 0);
  api.deletePod('default', q.pod.name);
  const del2 = await lab.runCni(cniEnv('DEL', q.containerId, q.netns.path, 'eth0', q.args), baseConf());
  t.equal(del2.exitCode, 0);
  t.equal(lab.link(q.netns.name, 'eth0'), undefined);
  t.equal(ipamLeases().length, leases);
});
