// Device IDs for NADs with k8s.v1.cni.cncf.io/resourceName (device assignment, injection, device-info and capability routing); delegates are recording
// "spy" plugins, the kubelet is the pod-resources stand-in on a real unix socket.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { cniEnv } from '../helpers/cni-lab.js';

import { devicesFixture } from '../helpers/cni-devices-fixture.js';

const { lab, api, cniInfoDir, standin, RESOURCE, conf, pod, spyCallsFor } = devicesFixture('da', 7919);

t.test('devices by sorted ID in annotation order into every plugin; cni-args merged; capabilities reach only declaring plugins of the right network', async (t) => {
  const p = pod({ 'k8s.v1.cni.cncf.io/networks': JSON.stringify([{ name: 'vf-a', 'cni-args': { over: 'pod', extra: 1 }, portMappings: [{ hostPort: 9000, containerPort: 90 }] }, { name: 'vf-b' }]) }, [['0000:00:05.1'], ['0000:00:05.0']]);
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(add.exitCode, 0, add.stdout + add.stderr);
  const [net1spy, net1spy2] = spyCallsFor('net1');
  t.equal(net1spy?.stdin['deviceID'], '0000:00:05.0', 'lowest ID to the first network');
  t.equal(net1spy?.stdin['pciBusID'], '0000:00:05.0');
  t.equal(net1spy2?.stdin['deviceID'], '0000:00:05.0', 'injected into every plugin of the list');
  t.equal(spyCallsFor('net2')[0]?.stdin['deviceID'], '0000:00:05.1');
  const rc = net1spy?.stdin['runtimeConfig'] as Record<string, unknown>;
  t.equal(rc['deviceID'], '0000:00:05.0');
  t.same(rc['portMappings'], [{ hostPort: 9000, containerPort: 90, protocol: 'tcp' }], 'annotation portMappings, not the runtime\'s');
  const infoFile = rc['CNIDeviceInfoFile'] as string;
  t.equal(infoFile, join(cniInfoDir, `default-vf-a-${p.containerId}_net1`));
  t.equal(net1spy2?.stdin['runtimeConfig'], undefined, 'spy2 declares nothing, gets nothing');
  t.same((spyCallsFor('net2')[0]?.stdin['runtimeConfig'] as Record<string, unknown>), { deviceid: '0000:00:05.1' }, 'capability names match case-insensitively, in the plugin\'s spelling');
  t.same((net1spy2?.stdin['args'] as Record<string, unknown>)['cni'], { keep: 'nad', over: 'pod', extra: 1 });
  const eth0 = spyCallsFor('eth0');
  t.same((eth0[0]?.stdin['runtimeConfig'] as Record<string, unknown>)['portMappings'], [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], 'runtime runtimeConfig to the cluster network');
  t.equal(eth0[1]?.stdin['runtimeConfig'], undefined);
  t.equal(eth0[0]?.env['CNI_ARGS'], `IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${p.name};K8S_POD_INFRA_CONTAINER_ID=x;K8S_POD_UID=${p.uid}`, 'kubelet CNI_ARGS reach delegates');
  t.same(JSON.parse(readFileSync(infoFile, 'utf8')), { type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:00:05.0', 'pf-pci-address': '0000:00:03.0' } }, 'device-info copied from the DP file');
  const status = JSON.parse(api.podAnnotations('default', p.name)!['k8s.v1.cni.cncf.io/network-status']!) as Array<Record<string, unknown>>;
  t.match(status[1], { name: 'default/vf-a', interface: 'net1', 'device-info': { type: 'pci', pci: { 'pci-address': '0000:00:05.0' } } });
  t.ok(standin.calls.Get >= 1, 'pod-resources Get used');
  const del = await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(del.exitCode, 0, del.stdout);
  t.notOk(existsSync(infoFile), 'device-info file removed on DEL');
  t.equal(spyCallsFor('net1', 'DEL')[0]?.stdin['deviceID'], '0000:00:05.0', 'DEL replays the same device');
  const delOrder = lab.spyCalls().filter((call) => call.file.includes('-DEL-')).map((call) => call.file.replace(/^\d+-/, ''));
  t.same(delOrder, ['spy-DEL-net2.json', 'spy2-DEL-net1.json', 'spy-DEL-net1.json', 'spy2-DEL-eth0.json', 'spy-DEL-eth0.json'], 'DEL in reverse order');
});

t.test('an explicit deviceID in the annotation pins that device; the others fill in order', async (t) => {
  const p = pod({ 'k8s.v1.cni.cncf.io/networks': JSON.stringify([{ name: 'vf-a' }, { name: 'vf-b', deviceID: '0000:00:05.0' }]) }, [['0000:00:05.0', '0000:00:05.1']]);
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(add.exitCode, 0, add.stdout);
  t.equal(spyCallsFor('net1').at(-1)?.stdin['deviceID'], '0000:00:05.1');
  t.equal(spyCallsFor('net2').at(-1)?.stdin['deviceID'], '0000:00:05.0');
  t.equal((await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), conf())).exitCode, 0);
});

t.test('a NAD with a resourceName but no device in the pod is a clear error, not a silent ADD', async (t) => {
  const p = pod({ 'k8s.v1.cni.cncf.io/networks': 'vf-a' }, [[]]);
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(add.exitCode, 1);
  t.match(String(add.json?.['msg']), `network "default/vf-a" needs a device of resource "${RESOURCE}"`);
  t.match(String(add.json?.['msg']), /has none allocated/);
  const two = pod({ 'k8s.v1.cni.cncf.io/networks': 'vf-a,vf-b' }, [['0000:00:05.0']]);
  const add2 = await lab.runCni(cniEnv('ADD', two.containerId, two.netns.path, 'eth0', two.args), conf());
  t.match(String(add2.json?.['msg']), /has 1 device\(s\) of resource "example.com\/vf" but 2 networks use it/);
});
