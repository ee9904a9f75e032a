// The pure planner and delegate-config surgery.
import t from 'tap';
import { buildPlan, deviceInfoFileName, type ResolvedNetwork } from '../../cni/plan.js';
import { injectDeviceId, mergeCniArgs, pluginStdin, runtimeConfigFor, toConfList } from '../../cni/delegate-conf.js';
import type { NetworkSelection } from '../../cni/annotation.js';

const request = { containerId: 'c1', netns: '/run/netns/p', ifname: 'eth0', args: [['IgnoreUnknown', '1'], ['K8S_POD_NAMESPACE', 'ns'], ['K8S_POD_NAME', 'p']] as Array<[string, string]>, pod: { namespace: 'ns', name: 'p', uid: 'u', infraContainerId: 'c1' } };
const net = (name: string, extra: Partial<ResolvedNetwork> = {}, plugin: Record<string, unknown> = { type: 'macvlan', capabilities: { ips: true, mac: true, portMappings: true } }): ResolvedNetwork => ({
  networkName: name, config: { cniVersion: '1.0.0', name: name.split('/').pop()!, plugins: [plugin] }, source: `NAD ${name}`, ...extra,
});
const sel = (name: string, extra: Partial<NetworkSelection> = {}): NetworkSelection => ({ name: name.split('/')[1]!, namespace: name.split('/')[0]!, ...extra });
const input = (secondary: Array<[string, Partial<NetworkSelection>, Partial<ResolvedNetwork>?]>, devices: Record<string, string[]> = {}) => ({
  request, requestCniVersion: '1.0.0', runtimeConfig: { portMappings: [{ hostPort: 1, containerPort: 2, protocol: 'tcp' }] },
  clusterNetworks: [net('cluster', {}, { type: 'bridge', capabilities: { portMappings: true } })],
  secondary: secondary.map(([name, s, n]) => ({ selection: sel(name, s), network: net(name, n) })),
  podDevices: new Map(Object.entries(devices)), cniDeviceInfoDir: '/run/devinfo',
});

t.test('the master gets CNI_IFNAME, the others net<index> unless the annotation names one', async (t) => {
  const plan = buildPlan(input([['ns/a', {}], ['ns/b', { interface: 'fast0' }], ['ns/c', {}]]));
  t.same(plan.attachments.map((a) => [a.networkName, a.ifname, a.isDefault]), [['cluster', 'eth0', true], ['ns/a', 'net1', false], ['ns/b', 'fast0', false], ['ns/c', 'net3', false]]);
  t.equal(plan.attachments[1]!.cniArgs, 'IgnoreUnknown=true;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p', 'runtime CNI_ARGS forwarded');
  t.throws(() => buildPlan(input([['ns/a', { interface: 'eth0' }]])), /wants interface "eth0", which network "cluster" already uses/);
});

t.test('runtime runtimeConfig only for the master; per-network requests only for their network', async (t) => {
  const plan = buildPlan(input([['ns/a', { ips: ['10.0.0.2/24'], mac: '02:00:00:00:00:09' }]]));
  t.same(plan.attachments[0]!.runtimeConfig, { portMappings: [{ hostPort: 1, containerPort: 2, protocol: 'tcp' }] });
  t.same(plan.attachments[1]!.runtimeConfig, { ips: ['10.0.0.2/24'], mac: '02:00:00:00:00:09' });
});

t.test('device rule: sorted IDs, annotation order, explicit deviceID pins; too few devices is an error', async (t) => {
  const shared = { resourceName: 'x.com/vf' };
  const plan = buildPlan(input([['ns/a', {}, shared], ['ns/b', {}, shared]], { 'x.com/vf': ['0000:00:02.0', '0000:00:01.0'] }));
  t.same(plan.attachments.slice(1).map((a) => a.deviceId), ['0000:00:01.0', '0000:00:02.0']);
  t.equal(plan.attachments[1]!.conf.plugins[0]!['pciBusID'], '0000:00:01.0');
  t.equal(plan.attachments[1]!.runtimeConfig['deviceID'], '0000:00:01.0');
  t.equal(plan.attachments[1]!.deviceInfoFile, '/run/devinfo/ns-a-c1_net1');
  const pinned = buildPlan(input([['ns/a', {}, shared], ['ns/b', { deviceId: '0000:00:01.0' }, shared]], { 'x.com/vf': ['0000:00:02.0', '0000:00:01.0'] }));
  t.same(pinned.attachments.slice(1).map((a) => a.deviceId), ['0000:00:02.0', '0000:00:01.0']);
  t.throws(() => buildPlan(input([['ns/a', {}, shared]], {})), /needs a device of resource "x\.com\/vf".*has none allocated/);
  t.throws(() => buildPlan(input([['ns/a', {}, shared], ['ns/b', {}, shared]], { 'x.com/vf': ['0000:00:01.0'] })), /has 1 device\(s\) of resource "x\.com\/vf" but 2 networks use it/);
  t.throws(() => buildPlan(input([['ns/a', { deviceId: '0000:09:00.0' }, shared]], { 'x.com/vf': ['0000:00:01.0'] })), /no such device/);
  const noResource = buildPlan(input([['ns/a', { deviceId: '0000:05:00.0' }]]));
  t.equal(noResource.attachments[1]!.deviceId, '0000:05:00.0', 'an annotation deviceID is used when no resource supplies one');
  t.equal(deviceInfoFileName('ns/n', 'c', 'net1'), 'ns-n-c_net1');
});

t.test('deviceID/pciBusID and cni-args go into every plugin of conf and conflist', async (t) => {
  const conf = toConfList({ cniVersion: '0.3.1', name: 'one', type: 'sriov', args: { cni: { a: 1, b: 1 } } }, 'test');
  injectDeviceId(conf, '0000:01:00.1');
  mergeCniArgs(conf, { b: 2 });
  t.same(conf.plugins, [{ type: 'sriov', args: { cni: { a: 1, b: 2 } }, deviceID: '0000:01:00.1', pciBusID: '0000:01:00.1' }]);
  const list = toConfList({ cniVersion: '1.0.0', name: 'two', plugins: [{ type: 'sriov' }, { type: 'tuning', custom: { deep: [1] } }], disableCheck: 'true', vendorKey: 'x' }, 'test');
  injectDeviceId(list, '0000:01:00.2');
  mergeCniArgs(list, { c: 3 });
  t.same(list.plugins.map((p) => [p['deviceID'], p['pciBusID'], p['args']]), [['0000:01:00.2', '0000:01:00.2', { cni: { c: 3 } }], ['0000:01:00.2', '0000:01:00.2', { cni: { c: 3 } }]]);
  t.equal(list.disableCheck, true);
  t.same(JSON.parse(JSON.stringify(list)).plugins[1].custom, { deep: [1] }, 'plugin-specific fields survive the cache round-trip');
  t.same(list.extra, { vendorKey: 'x' });
  t.throws(() => toConfList({ cniVersion: '1.0.0', name: 'x' }, 'NAD ns/x'), /NAD ns\/x: neither "type"/);
  t.equal(toConfList({ cniVersion: '1.0.0', type: 'macvlan' }, 't', 'nad-name').name, 'nad-name', 'a NAD config without name gets the NAD name');
});

t.test('runtimeConfig per plugin holds only declared capabilities, matched case-insensitively', async (t) => {
  const offered = { portMappings: [1], IPs: ['10.0.0.1/24'], mac: 'x', deviceID: 'd' };
  t.same(runtimeConfigFor({ type: 'a', capabilities: { portMappings: true, ips: true, mac: false } }, offered), { portMappings: [1], ips: ['10.0.0.1/24'] });
  t.equal(runtimeConfigFor({ type: 'b' }, offered), undefined, 'no capabilities, no runtimeConfig key at all');
  const list = toConfList({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'a', runtimeConfig: { stale: true }, prevResult: {} }] }, 't');
  t.same(pluginStdin(list, list.plugins[0]!, { runtimeConfig: { mac: 'x' } }), { type: 'a', cniVersion: '1.0.0', name: 'n', runtimeConfig: { mac: 'x' } });
});
