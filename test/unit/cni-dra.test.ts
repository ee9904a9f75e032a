// The pure parts of the DRA device lookup and Multus's legacy MAC=/IP= CNI_ARGS.
import t from 'tap';
import {
  type DraApi,
  claimAllocatedDevices,
  indexResourceSlices,
  mergePodDevices,
  podClaimNames,
  podDevicesFromDra,
  resourceMapFromClaims,
} from '../../cni/dra-devices.js';
import { buildPlan, withLegacyRequestArgs, type ResolvedNetwork } from '../../cni/plan.js';
import type { Logger } from '../../cni/log.js';

const silent: Logger = { error() {}, warn() {}, verbose() {}, debug() {} };
const RESOURCE = 'dra.example.com/sriov';
const slice = (driver: string, pool: string, nodeName: string, devices: Array<[string, Record<string, string>]>) => ({
  apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name: `${nodeName}-${driver}` },
  spec: { driver, nodeName, pool: { name: pool, generation: 1, resourceSliceCount: 1 }, devices: devices.map(([name, attributes]) => ({ name, attributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, { string: v }])) })) },
});
const claim = (results: Array<[string, string, string]> | null) => ({
  apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'c' },
  status: results ? { allocation: { devices: { results: results.map(([driver, pool, device]) => ({ request: 'r', driver, pool, device })) } } } : {},
});
const cni = (id: string) => ({ 'k8s.cni.cncf.io/deviceID': id, 'k8s.cni.cncf.io/resourceName': RESOURCE });

t.test('the resource map is populated from ResourceSlices; devices without CNI attributes are skipped', async (t) => {
  const slices = indexResourceSlices([
    slice('sriov.x', 'node-a', 'node-a', [['vf-1', cni('0000:00:06.1')], ['vf-0', cni('0000:00:06.0')]]),
    slice('gpu.x', 'node-a', 'node-a', [['gpu-0', { model: 'h100' }]]),
    slice('sriov.x', 'node-a', 'node-a', [['vf-2', { 'k8s.cni.cncf.io/deviceID': '0000:00:06.2' }]]),
  ]);
  const map = resourceMapFromClaims([
    { claim: 'ns/net', devices: [{ driver: 'sriov.x', pool: 'node-a', device: 'vf-1' }, { driver: 'sriov.x', pool: 'node-a', device: 'vf-0' }, { driver: 'sriov.x', pool: 'node-a', device: 'vf-2' }] },
    { claim: 'ns/gpu', devices: [{ driver: 'gpu.x', pool: 'node-a', device: 'gpu-0' }, { driver: 'gpu.x', pool: 'node-a', device: 'not-published' }] },
  ], slices, silent);
  t.same([...map], [[RESOURCE, ['0000:00:06.0', '0000:00:06.1']]], 'sorted like the DP path; no resourceName, GPU and unknown devices skipped');
});

t.test('DP entries and DRA entries merge per resource, de-duplicated and sorted', async (t) => {
  const merged = mergePodDevices(new Map([['dp/vf', ['0000:00:05.1', '0000:00:05.0']], [RESOURCE, ['0000:00:07.0']]]), new Map([[RESOURCE, ['0000:00:06.0', '0000:00:07.0']]]));
  t.same([...merged], [['dp/vf', ['0000:00:05.0', '0000:00:05.1']], [RESOURCE, ['0000:00:06.0', '0000:00:07.0']]]);
});

t.test('claims come from spec.resourceClaims and status.resourceClaimStatuses; allocations are required', async (t) => {
  t.same(podClaimNames({ spec: { resourceClaims: [{ name: 'a', resourceClaimName: 'shared' }, { name: 'b', resourceClaimTemplateName: 'tpl' }] }, status: { resourceClaimStatuses: [{ name: 'b', resourceClaimName: 'pod-b-x' }, { name: 'c' }] } }), ['pod-b-x', 'shared']);
  t.same(podClaimNames({ spec: {}, status: {} }), []);
  t.same(claimAllocatedDevices(claim([['d', 'p', 'x']]), 'ns/c'), [{ driver: 'd', pool: 'p', device: 'x' }]);
  t.throws(() => claimAllocatedDevices(claim(null), 'ns/c'), /ResourceClaim ns\/c has no device allocation/);
  t.throws(() => claimAllocatedDevices({ status: { allocation: { devices: { results: [{ driver: 'd' }] } } } }, 'ns/c'), /results\[0\] lacks driver, pool or device/);
});

t.test('podDevicesFromDra calls nothing without claims, narrows slices to node and driver, and names the claim on errors', async (t) => {
  const calls: string[] = [];
  const api = (fail?: 'claim' | 'slices'): DraApi => ({
    async readResourceClaim(namespace, name) {
      calls.push(`claim ${namespace}/${name}`);
      if (fail === 'claim') throw new Error('HTTP 403: forbidden');
      return name === 'gpu' ? claim([['gpu.x', 'node-a', 'gpu-0']]) : claim([['sriov.x', 'node-a', 'vf-0']]);
    },
    async listResourceSlices(selector) {
      calls.push(`slices ${selector}`);
      if (fail === 'slices') throw new Error('HTTP 500: boom');
      return [slice('sriov.x', 'node-a', 'node-a', [['vf-0', cni('0000:00:06.0')]]), slice('gpu.x', 'node-a', 'node-a', [['gpu-0', {}]])];
    },
  });
  t.same([...(await podDevicesFromDra(api(), { namespace: 'ns', name: 'p', nodeName: 'node-a' }, silent))], []);
  t.same(calls, [], 'no API call for a pod without claims');
  const map = await podDevicesFromDra(api(), { namespace: 'ns', name: 'p', nodeName: 'node-a', resourceClaims: ['gpu', 'net'] }, silent);
  t.same([...map], [[RESOURCE, ['0000:00:06.0']]]);
  t.same(calls, ['claim ns/gpu', 'claim ns/net', 'slices spec.nodeName=node-a,spec.driver=gpu.x', 'slices spec.nodeName=node-a,spec.driver=sriov.x']);
  calls.length = 0;
  const viaKubelet = await podDevicesFromDra(api('claim'), { namespace: 'ns', name: 'p', resourceClaims: ['net'] }, silent, [{ claim: 'ns/net', devices: [{ driver: 'sriov.x', pool: 'node-a', device: 'vf-0' }] }, { claim: 'other/net', devices: [] }]);
  t.same([...viaKubelet], [[RESOURCE, ['0000:00:06.0']]]);
  t.same(calls, ['slices spec.driver=sriov.x'], 'a claim the kubelet reported is not read from the API; no node name: driver selector only');
  await t.rejects(podDevicesFromDra(api('claim'), { namespace: 'ns', name: 'p', resourceClaims: ['net'] }, silent), /pod ns\/p: DRA device lookup failed: cannot read ResourceClaim ns\/net \(resource.k8s.io\/v1\): HTTP 403/);
  await t.rejects(podDevicesFromDra(api('slices'), { namespace: 'ns', name: 'p', resourceClaims: ['net'] }, silent), /DRA device lookup failed for ResourceClaim ns\/net: cannot list ResourceSlices of driver sriov.x/);
});

t.test('Multus legacy CNI_ARGS: mac and ips also become MAC= and IP=', async (t) => {
  t.equal(withLegacyRequestArgs('IgnoreUnknown=true;K8S_POD_NAME=p', { mac: '02:00:00:00:00:01', ips: ['10.0.0.2/24', 'fd00::2/64'] }), 'IgnoreUnknown=true;K8S_POD_NAME=p;MAC=02:00:00:00:00:01;IP=10.0.0.2/24,fd00::2/64');
  t.equal(withLegacyRequestArgs('IgnoreUnknown=true;MAC=runtime', { mac: '02:00:00:00:00:01' }), 'IgnoreUnknown=true;MAC=02:00:00:00:00:01', 'the annotation replaces a runtime MAC=');
  t.equal(withLegacyRequestArgs('IgnoreUnknown=true;MAC=runtime', {}), 'IgnoreUnknown=true;MAC=runtime', 'untouched without requests');
  const net = (name: string): ResolvedNetwork => ({ networkName: name, config: { cniVersion: '1.0.0', name, plugins: [{ type: 'macvlan', capabilities: { ips: true, mac: true } }] }, source: `NAD ${name}` });
  const plan = buildPlan({
    request: { containerId: 'c1', netns: '/run/netns/p', ifname: 'eth0', args: [['K8S_POD_NAME', 'p']], pod: { namespace: 'ns', name: 'p', uid: 'u', infraContainerId: 'c1' } },
    requestCniVersion: '1.0.0', runtimeConfig: {}, clusterNetworks: [net('cluster')],
    secondary: [{ selection: { namespace: 'ns', name: 'a', ips: ['10.0.0.2/24'] }, network: net('ns/a') }, { selection: { namespace: 'ns', name: 'b' }, network: net('ns/b') }],
    podDevices: new Map(), cniDeviceInfoDir: '/run/devinfo',
  });
  t.same(plan.attachments.map((a) => a.cniArgs), ['IgnoreUnknown=true;K8S_POD_NAME=p', 'IgnoreUnknown=true;K8S_POD_NAME=p;IP=10.0.0.2/24', 'IgnoreUnknown=true;K8S_POD_NAME=p']);
});
