// Device IDs for NADs with k8s.v1.cni.cncf.io/resourceName (pod-resources Get/List/rate limit, checkpoint fallback, CHECK/STATUS/GC); delegates are recording
// "spy" plugins, the kubelet is the pod-resources stand-in on a real unix socket.
import t from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { podDevicesFromPodResources } from '../../cni/pod-devices.js';
import { silentLogger } from '../../cni/log.js';
import { cniEnv } from '../helpers/cni-lab.js';
import { writeCheckpoint } from '../helpers/kubelet-checkpoint.js';
import { devicesFixture } from '../helpers/cni-devices-fixture.js';

const { lab, api, socketPath, checkpointFile, standin, RESOURCE, conf, pod, spyCallsFor } = devicesFixture('ds', 7927);

t.test('pod-resources: Get disabled falls back to List; RESOURCE_EXHAUSTED is retried with back-off', async (t) => {
  const p = pod({ 'k8s.v1.cni.cncf.io/networks': 'vf-b' }, [['0000:00:05.3']]);
  standin.setGetEnabled(false);
  const listBefore = standin.calls.List;
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(add.exitCode, 0, add.stdout);
  t.equal(standin.calls.List, listBefore + 1);
  t.equal(spyCallsFor('net1').at(-1)?.stdin['deviceID'], '0000:00:05.3');
  t.equal((await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), conf())).exitCode, 0);
  standin.setGetEnabled(true);
  standin.setRateLimit({ qps: 0, burst: 0 }); // the kubelet rejects everything until the client has been rejected once
  const rejectedBefore = standin.calls.rejected;
  const pending = lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
  for (let waited = 0; standin.calls.rejected === rejectedBefore && waited < 30_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  standin.setRateLimit(null);
  const limited = await pending;
  t.equal(limited.exitCode, 0, limited.stdout);
  t.ok(standin.calls.rejected > rejectedBefore, 'the kubelet rejected at least one call and the client retried');
  t.equal((await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), conf())).exitCode, 0);
});

t.test('pod-resources client: empty pod name is an error, unknown pod gives no devices, a garbage socket is an error', async (t) => {
  await t.rejects(podDevicesFromPodResources(socketPath, '', 'x', silentLogger), /needs the pod name and namespace/);
  t.same([...(await podDevicesFromPodResources(socketPath, 'default', 'no-such-pod', silentLogger))], []);
  const garbage = join(lab.dir, 'garbage.sock');
  writeFileSync(garbage, 'not a socket');
  await t.rejects(podDevicesFromPodResources(garbage, 'default', 'x', silentLogger), /pod-resources API/);
});

t.test('the checkpoint file is the fallback when the pod-resources socket is absent', async (t) => {
  const p = pod({ 'k8s.v1.cni.cncf.io/networks': 'vf-b' }, []);
  await writeCheckpoint(checkpointFile, {
    PodDeviceEntries: [{ PodUID: p.uid, ContainerName: 'c0', ResourceName: RESOURCE, DeviceIDs: { '-1': ['0000:00:06.1', '0000:00:06.0'] }, AllocResp: '' }],
    RegisteredDevices: {},
  });
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf({ podResourcesSocket: join(lab.dir, 'absent.sock'), kubeletCheckpointFile: checkpointFile }));
  t.equal(add.exitCode, 0, add.stdout);
  t.equal(spyCallsFor('net1').at(-1)?.stdin['deviceID'], '0000:00:06.0');
  t.equal((await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), conf({ podResourcesSocket: join(lab.dir, 'absent.sock'), kubeletCheckpointFile: checkpointFile }))).exitCode, 0);
});

t.test('CHECK replays cached results; STATUS and GC reach the cluster network; GC accepts both attachment keys', async (t) => {
  const p = pod({}, []);
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(add.exitCode, 0);
  const check = await lab.runCni(cniEnv('CHECK', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(check.exitCode, 0, check.stdout);
  const checked = spyCallsFor('eth0', 'CHECK').at(-1);
  t.match(checked?.stdin['prevResult'], { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }] }, 'CHECK gets the cached result');
  api.addNad({ namespace: 'kube-system', name: 'cluster-spy', config: JSON.stringify({ cniVersion: '1.1.0', name: 'cluster-spy', plugins: [{ type: 'spy' }] }) });
  const status = await lab.runCni({ CNI_COMMAND: 'STATUS' }, { ...conf(), cniVersion: '1.1.0' });
  t.equal(status.exitCode, 0, status.stdout);
  writeFileSync(join(lab.dir, 'spy', 'fail-spy-STATUS'), '');
  const statusFail = await lab.runCni({ CNI_COMMAND: 'STATUS' }, { ...conf(), cniVersion: '1.1.0' });
  t.equal(statusFail.exitCode, 1, 'a delegate STATUS error propagates');
  t.equal(statusFail.json?.['code'], 11);
  const q = pod({}, []);
  t.equal((await lab.runCni(cniEnv('ADD', q.containerId, q.netns.path, 'eth0', q.args), { ...conf(), cniVersion: '1.1.0' })).exitCode, 0);
  const gc = await lab.runCni({ CNI_COMMAND: 'GC' }, { ...conf(), cniVersion: '1.1.0', 'cni.dev/attachments': [{ containerID: q.containerId, ifname: 'eth0' }] });
  t.equal(gc.exitCode, 0, gc.stdout);
  t.notOk(existsSync(join(lab.dir, 'cache', p.containerId)), 'the stale container was collected');
  t.ok(existsSync(join(lab.dir, 'cache', q.containerId)), 'the valid one kept');
  const gcCall = lab.spyCalls().filter((call) => call.file.includes('-GC-')).at(-1);
  t.same(gcCall?.stdin['cni.dev/valid-attachments'], [{ containerID: q.containerId, ifname: 'eth0' }]);
  t.ok(lab.spyCalls().some((call) => call.file.includes('-DEL-') && call.env['CNI_CONTAINERID'] === p.containerId), 'GC deleted the stale attachment');
});
