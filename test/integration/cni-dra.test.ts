// DRA device IDs through the real `nicplex cni` process: ResourceClaims and ResourceSlices on the fake API
// server, device-plugin devices from the pod-resources stand-in, recording "spy" delegates; plus Multus's
// legacy MAC=/IP= CNI_ARGS.
import t from 'tap';
import { cniEnv } from '../helpers/cni-lab.js';
import { devicesFixture } from '../helpers/cni-devices-fixture.js';

const { lab, api, conf, pod, spyCallsFor } = devicesFixture('dra', 8111);

const NODE = 'node-a';
const SRIOV_DRIVER = 'sriov.dra.example.com';
const DRA_RESOURCE = 'dra.example.com/sriov';
const NETWORKS = 'k8s.v1.cni.cncf.io/networks';

api.addNad({
  namespace: 'default', name: 'vf-dra',
  config: JSON.stringify({ cniVersion: '1.0.0', name: 'vf-dra', plugins: [{ type: 'spy', capabilities: { deviceID: true, mac: true, ips: true } }] }),
  annotations: { 'k8s.v1.cni.cncf.io/resourceName': DRA_RESOURCE },
});
api.addResourceSlice({
  name: `${NODE}-sriov`, driver: SRIOV_DRIVER, pool: NODE, nodeName: NODE,
  devices: [
    { name: 'vf-0', attributes: { 'k8s.cni.cncf.io/deviceID': '0000:00:06.0', 'k8s.cni.cncf.io/resourceName': DRA_RESOURCE } },
    { name: 'vf-1', attributes: { 'k8s.cni.cncf.io/deviceID': '0000:00:06.1', 'k8s.cni.cncf.io/resourceName': DRA_RESOURCE } },
  ],
});
// The same driver and pool name on another node: the per-node field selector must keep it out.
api.addResourceSlice({
  name: 'node-b-sriov', driver: SRIOV_DRIVER, pool: NODE, nodeName: 'node-b',
  devices: [{ name: 'vf-1', attributes: { 'k8s.cni.cncf.io/deviceID': '0000:99:00.1', 'k8s.cni.cncf.io/resourceName': DRA_RESOURCE } }],
});
api.addResourceSlice({ name: `${NODE}-gpu`, driver: 'gpu.example.com', pool: NODE, nodeName: NODE, devices: [{ name: 'gpu-0', attributes: { model: 'h100' } }] });

const draRequests = () => api.requests.filter((request) => request.path.startsWith('/apis/resource.k8s.io/'));

t.test('DP and DRA devices are merged; each delegate receives its deviceID/pciBusID; a GPU claim without CNI attributes is skipped silently; MAC=/IP= reach CNI_ARGS', async (t) => {
  const before = draRequests().length;
  const p = pod(
    { [NETWORKS]: JSON.stringify([{ name: 'vf-a' }, { name: 'vf-dra', mac: '02:11:22:33:44:55', ips: ['10.9.0.5/24', 'fd00::5/64'] }]) },
    [['0000:00:05.0']],
    { nodeName: NODE, resourceClaims: [{ name: 'gpu', resourceClaimName: 'dpod-gpu-x1' }, { name: 'net', resourceClaimName: 'dpod-net-x1' }] },
  );
  api.addResourceClaim({ namespace: 'default', name: 'dpod-net-x1', results: [{ request: 'vf', driver: SRIOV_DRIVER, pool: NODE, device: 'vf-1' }] });
  api.addResourceClaim({ namespace: 'default', name: 'dpod-gpu-x1', results: [{ request: 'gpu', driver: 'gpu.example.com', pool: NODE, device: 'gpu-0' }] });
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(add.exitCode, 0, add.stdout + add.stderr);
  const dpCall = spyCallsFor('net1').at(-1);
  t.equal(dpCall?.stdin['deviceID'], '0000:00:05.0', 'device-plugin device to the DP network');
  const draCall = spyCallsFor('net2').at(-1);
  t.equal(draCall?.stdin['deviceID'], '0000:00:06.1', 'the DRA device from this node\'s ResourceSlice to the DRA network');
  t.equal(draCall?.stdin['pciBusID'], '0000:00:06.1');
  t.match(draCall?.stdin['runtimeConfig'], { deviceID: '0000:00:06.1', mac: '02:11:22:33:44:55', ips: ['10.9.0.5/24', 'fd00::5/64'] });
  t.equal(draCall?.env['CNI_ARGS'], `IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${p.name};K8S_POD_INFRA_CONTAINER_ID=x;K8S_POD_UID=${p.uid};MAC=02:11:22:33:44:55;IP=10.9.0.5/24,fd00::5/64`, 'legacy MAC=/IP= appended as Multus does');
  t.notMatch(dpCall?.env['CNI_ARGS'] ?? '', /MAC=|IP=/, 'no MAC=/IP= for a network without such requests');
  t.notMatch(add.stderr, /gpu/i, 'the GPU claim is skipped without a warning');
  const requests = draRequests().slice(before).map((request) => request.path).sort();
  t.same(requests, [
    '/apis/resource.k8s.io/v1/namespaces/default/resourceclaims/dpod-gpu-x1',
    '/apis/resource.k8s.io/v1/namespaces/default/resourceclaims/dpod-net-x1',
    '/apis/resource.k8s.io/v1/resourceslices',
    '/apis/resource.k8s.io/v1/resourceslices',
  ], 'both claims read, one slice list per driver');
  const del = await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(del.exitCode, 0, del.stdout);
  t.equal(spyCallsFor('net2', 'DEL').at(-1)?.stdin['deviceID'], '0000:00:06.1', 'DEL replays the DRA device');
});

t.test('a pod without DRA claims costs no resource.k8s.io call', async (t) => {
  const before = draRequests().length;
  const p = pod({ [NETWORKS]: 'vf-a' }, [['0000:00:05.0']], { nodeName: NODE });
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(add.exitCode, 0, add.stdout);
  t.equal(spyCallsFor('net1').at(-1)?.stdin['deviceID'], '0000:00:05.0');
  t.equal(draRequests().length, before);
  t.equal((await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), conf())).exitCode, 0);
});

t.test('claims the kubelet reports in pod-resources dynamicResources need no ResourceClaim read', async (t) => {
  const before = draRequests().length;
  const p = pod({ [NETWORKS]: 'vf-dra' }, [], {
    nodeName: NODE,
    resourceClaims: [{ name: 'net', resourceClaimName: 'dpod-net-kubelet' }],
    kubeletClaims: [{ claimName: 'dpod-net-kubelet', claimNamespace: 'default', claimResources: [{ cdiDevices: [], driverName: SRIOV_DRIVER, poolName: NODE, deviceName: 'vf-0', shareId: '' }] }],
  });
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(add.exitCode, 0, add.stdout + add.stderr);
  t.equal(spyCallsFor('net1').at(-1)?.stdin['deviceID'], '0000:00:06.0', 'device from the kubelet\'s claim resources, ID from the ResourceSlice');
  t.same(draRequests().slice(before).map((request) => request.path), ['/apis/resource.k8s.io/v1/resourceslices'], 'no ResourceClaim GET (the claim does not even exist on the API server)');
  t.equal((await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), conf())).exitCode, 0);
});

t.test('a DRA client error fails ADD with a message naming the claim, before any delegate runs', async (t) => {
  const p = pod({ [NETWORKS]: 'vf-dra' }, [], { nodeName: NODE, resourceClaims: [{ name: 'net', resourceClaimName: 'dpod-net-err' }] });
  api.addResourceClaim({ namespace: 'default', name: 'dpod-net-err', results: [{ request: 'vf', driver: SRIOV_DRIVER, pool: NODE, device: 'vf-0' }] });
  const callsBefore = lab.spyCalls().length;
  api.draErrors.set('resourceclaims', { code: 403, reason: 'Forbidden', message: 'resourceclaims.resource.k8s.io "dpod-net-err" is forbidden: User "system:node" cannot get resource "resourceclaims"' });
  t.teardown(() => void api.draErrors.clear());
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(add.exitCode, 1);
  t.equal(add.json?.['code'], 11, 'try again later');
  t.match(String(add.json?.['msg']), /DRA device lookup failed: cannot read ResourceClaim default\/dpod-net-err .*HTTP 403.*forbidden/);
  t.equal(lab.spyCalls().length, callsBefore, 'no delegate was called');
  api.draErrors.clear();
  api.draErrors.set('resourceslices', { code: 500, reason: 'InternalError', message: 'etcd timeout' });
  const again = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(again.exitCode, 1);
  t.match(String(again.json?.['msg']), /DRA device lookup failed for ResourceClaim default\/dpod-net-err: cannot list ResourceSlices of driver sriov\.dra\.example\.com .*HTTP 500/);
  api.draErrors.clear();
  const ok = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(ok.exitCode, 0, `${ok.stdout}${ok.stderr}`);
  t.equal(spyCallsFor('net1').at(-1)?.stdin['deviceID'], '0000:00:06.0', 'works once the API answers');
  t.equal((await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), conf())).exitCode, 0);
});
