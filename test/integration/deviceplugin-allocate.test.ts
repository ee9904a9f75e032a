// Allocate, GetPreferredAllocation and PreStartContainer through the kubelet stand-in over real
// unix sockets, plus what the stand-in then exposes (pod-resources, checkpoint, device-info files).
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMessage } from '../../config/grpc/protowire.js';
import {
  ContainerAllocateResponseSchema,
  PodResourcesListerService,
  type GetPodResourcesResponse,
  type ListPodResourcesResponse,
} from '../../config/grpc/kubelet-api.js';
import { readDeviceInfoFile } from '../../config/devinfo.js';
import { callUnary, unixTarget } from '../../deviceplugin/server/grpc-unix.js';
import { fakeDevice, fakeSnapshot, fakeVfs } from '../helpers/dp-snapshot.js';
import { startHarness } from '../helpers/dp-harness.js';
import { GET_DISABLED_MESSAGE, RATE_LIMITED_MESSAGE } from '../helpers/pod-resources-standin.js';

function rdmaSysfs(root: string): string {
  const sysfs = join(root, 'sys');
  for (const [className, entry, ibdev] of [
    ['infiniband_verbs', 'uverbs2', 'mlx5_2'],
    ['infiniband_verbs', 'uverbs3', 'mlx5_3'],
    ['infiniband_mad', 'umad2', 'mlx5_2'],
    ['infiniband_mad', 'issm2', 'mlx5_2'],
  ] as const) {
    mkdirSync(join(sysfs, 'class', className, entry), { recursive: true });
    writeFileSync(join(sysfs, 'class', className, entry, 'ibdev'), `${ibdev}\n`);
  }
  return sysfs;
}

const dpdkSnapshot = () => fakeSnapshot([
  {
    name: 'dpdk',
    devices: [
      fakeDevice('0000:3b:02.0', { driver: 'vfio-pci', iommuGroup: '41', pfAddress: '0000:3b:00.0', pfNetdev: 'ens1f0', vfIndex: 0 }),
      fakeDevice('0000:3b:02.1', { driver: 'vfio-pci', iommuGroup: '42', pfAddress: '0000:3b:00.0', pfNetdev: 'ens1f0', vfIndex: 1 }),
      fakeDevice('0000:00:05.0', { driver: 'vfio-pci', iommuGroup: '7', noIommu: true, numaNode: null }),
      fakeDevice('0000:00:09.0', { driver: 'igb_uio', uioDevice: 'uio0', numaNode: null }),
    ],
    additionalInfo: { '*': { team: 'blue', mtu: '9000' }, '0000:3b:02.1': { team: 'red' } },
  },
  {
    name: 'rdma-vhost',
    devices: [
      fakeDevice('0000:86:00.2', { driver: 'mlx5_core', rdmaDevices: ['mlx5_2'], netdevs: ['ens3f0v0'], pfAddress: '0000:86:00.0', pfNetdev: 'ens3f0', vfIndex: 0 }),
      fakeDevice('0000:86:00.3', { driver: 'mlx5_core', rdmaDevices: ['mlx5_3'], netdevs: ['ens3f0v1'], pfAddress: '0000:86:00.0', pfNetdev: 'ens3f0', vfIndex: 1 }),
    ],
    selectors: [{ isRdma: true, needVhostNet: true }],
  },
], { vhostNetAvailable: true });

t.test('Allocate: env vars, _INFO, vfio/no-IOMMU/uio specs, de-duplicated, device-info files, pod-resources, checkpoint', async (t) => {
  const h = await startHarness({ snapshot: dpdkSnapshot() });
  t.teardown(() => h.close());
  await h.kubelet.waitForHealthy('intel.com/dpdk', 4);
  const result = await h.kubelet.allocate('uid-1', 'pod-a', 'ns1', 'app', 'intel.com/dpdk', 4);
  const r = result.response;
  t.same(result.deviceIds.slice().sort(), ['0000:00:05.0', '0000:00:09.0', '0000:3b:02.0', '0000:3b:02.1']);
  t.equal(r.envs.PCIDEVICE_INTEL_COM_DPDK, result.deviceIds.join(','), 'comma-joined addresses in allocation order');
  const info = JSON.parse(r.envs.PCIDEVICE_INTEL_COM_DPDK_INFO!);
  t.same(info['0000:3b:02.0'], { generic: { deviceID: '0000:3b:02.0' }, vfio: { mount: '/dev/vfio/vfio', 'dev-mount': '/dev/vfio/41' }, extra: { team: 'blue', mtu: '9000' } });
  t.same(info['0000:3b:02.1'].extra, { team: 'red', mtu: '9000' }, 'per-PCI additionalInfo overrides "*"');
  t.same(info['0000:00:05.0'].vfio, { mount: '/dev/vfio/vfio', 'dev-mount': '/dev/vfio/7' });
  t.same(info['0000:00:09.0'].uio, { mount: '/dev/uio0' });
  const byHost = Object.fromEntries(r.devices.map((d) => [d.hostPath, d]));
  t.same(Object.keys(byHost).sort(), ['/dev/uio0', '/dev/vfio/41', '/dev/vfio/42', '/dev/vfio/noiommu-7', '/dev/vfio/vfio']);
  t.equal(r.devices.filter((d) => d.hostPath === '/dev/vfio/vfio').length, 1, '/dev/vfio/vfio once');
  t.same(byHost['/dev/vfio/noiommu-7'], { hostPath: '/dev/vfio/noiommu-7', containerPath: '/dev/vfio/7', permissions: 'rw' }, 'no-IOMMU host node mapped to /dev/vfio/N');
  t.same(byHost['/dev/uio0'], { hostPath: '/dev/uio0', containerPath: '/dev/uio0', permissions: 'mrw' });
  t.same(r.mounts, []);
  // device-info files
  const files = readdirSync(h.devinfoDir).sort();
  t.same(files, result.deviceIds.slice().sort().map((id) => `intel.com-dpdk-${id}-device.json`));
  const written = await readDeviceInfoFile(join(h.devinfoDir, 'intel.com-dpdk-0000:3b:02.0-device.json'));
  t.same(written, { type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:3b:02.0', 'pf-pci-address': '0000:3b:00.0' } });
  // checkpoint
  const checkpoint = JSON.parse(readFileSync(h.kubelet.checkpointPath, 'utf8'));
  const entry = checkpoint.Data.PodDeviceEntries[0];
  t.equal(entry.PodUID, 'uid-1');
  t.equal(entry.ResourceName, 'intel.com/dpdk');
  t.same(Object.values(entry.DeviceIDs).flat().sort(), result.deviceIds.slice().sort());
  t.same(decodeMessage(ContainerAllocateResponseSchema, Buffer.from(entry.AllocResp, 'base64')).envs, r.envs, 'AllocResp is the protobuf answer');
  t.type(checkpoint.Checksum, 'number');
  // pod-resources
  const Client = grpc.makeGenericClientConstructor(PodResourcesListerService, 'PodResourcesLister');
  const client = new Client(unixTarget(h.kubelet.podResources!.socketPath), grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const list = await callUnary<ListPodResourcesResponse>(client, 'List', {}, 3000);
  t.equal(list.podResources.length, 1);
  t.same(list.podResources[0]!.containers[0]!.devices[0]!.deviceIds.slice().sort(), result.deviceIds.slice().sort());
  const got = await callUnary<GetPodResourcesResponse>(client, 'Get', { podName: 'pod-a', podNamespace: 'ns1' }, 3000);
  t.equal(got.podResources?.containers[0]?.name, 'app');
  h.kubelet.podResources!.setGetEnabled(false);
  await t.rejects(callUnary(client, 'Get', { podName: 'pod-a', podNamespace: 'ns1' }, 3000), { code: grpc.status.UNKNOWN, details: GET_DISABLED_MESSAGE });
  h.kubelet.podResources!.setRateLimit({ qps: 0, burst: 0 });
  await t.rejects(callUnary(client, 'List', {}, 3000), { code: grpc.status.RESOURCE_EXHAUSTED, details: RATE_LIMITED_MESSAGE });
  // everything allocated: a further request fails in the stand-in, not with a bogus device
  await t.rejects(h.kubelet.allocate('uid-2', 'pod-b', 'ns1', 'app', 'intel.com/dpdk', 1), /unavailable/);
  // the pool stops (shutdown): its device-info files go away
  await h.manager.stop();
  t.same(readdirSync(h.devinfoDir), [], 'device-info files removed on stop');
});

t.test('RDMA and vhost-net devices only for selectors asking for them', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'npx-dp-rdma-'));
  const h = await startHarness({ snapshot: dpdkSnapshot(), sysfsRoot: rdmaSysfs(root) });
  t.teardown(async () => {
    await h.close();
    rmSync(root, { recursive: true, force: true });
  });
  await h.kubelet.waitForHealthy('intel.com/rdma-vhost', 2);
  const r = await h.kubelet.allocateIds('intel.com/rdma-vhost', ['0000:86:00.2']);
  t.same(r.devices.map((d) => d.hostPath), ['/dev/infiniband/uverbs2', '/dev/infiniband/issm2', '/dev/infiniband/umad2', '/dev/infiniband/rdma_cm', '/dev/vhost-net', '/dev/net/tun']);
  t.ok(r.devices.every((d) => d.permissions === 'rw'));
  t.ok('PCIDEVICE_INTEL_COM_RDMA_VHOST' in r.envs, 'the hyphen becomes _ in the env name');
  const info = JSON.parse(r.envs.PCIDEVICE_INTEL_COM_RDMA_VHOST_INFO!)['0000:86:00.2'];
  t.same(info.rdma, { uverbs: '/dev/infiniband/uverbs2', issm: '/dev/infiniband/issm2', umad: '/dev/infiniband/umad2', rdma_cm: '/dev/infiniband/rdma_cm', rdma_dev: 'mlx5_2' });
  t.same(info.vhost, { 'net-mount': '/dev/vhost-net', 'tun-mount': '/dev/net/tun' });
  const file = await readDeviceInfoFile(join(h.devinfoDir, 'intel.com-rdma-vhost-0000:86:00.2-device.json'));
  t.same(file.pci, { 'pci-address': '0000:86:00.2', 'vhost-net': '/dev/vhost-net', 'rdma-device': 'mlx5_2', 'pf-pci-address': '0000:86:00.0' });
  const plain = await h.kubelet.allocateIds('intel.com/dpdk', ['0000:3b:02.0']);
  t.notOk(plain.devices.some((d) => d.hostPath.startsWith('/dev/infiniband') || d.hostPath === '/dev/vhost-net'), 'the other pool gets none');
});

t.test('Allocate rejects unknown and unhealthy IDs naming them; empty request → no responses; PreStart answers empty', async (t) => {
  const snapshot = fakeSnapshot([{ name: 'a', devices: fakeVfs('0000:3b:00.0', 'ens1f0', '3b', 2) }, { name: 'b', devices: fakeVfs('0000:5e:00.0', 'ens2f0', '5e', 1) }]);
  const h = await startHarness({ snapshot });
  t.teardown(() => h.close());
  await h.kubelet.waitForHealthy('intel.com/a', 2);
  await h.kubelet.waitForHealthy('intel.com/b', 1);
  await t.rejects(h.kubelet.allocateIds('intel.com/a', ['0000:3b:02.0', '0000:99:00.0']), { code: grpc.status.INVALID_ARGUMENT, details: /unknown device IDs 0000:99:00\.0/ });
  await t.rejects(h.kubelet.allocateIds('intel.com/a', ['0000:5e:02.0']), { code: grpc.status.INVALID_ARGUMENT, details: /0000:5e:02\.0/ }, "another pool's device is unknown here");
  t.ok(!existsSync(h.devinfoDir) || readdirSync(h.devinfoDir).length === 0, 'a rejected Allocate writes no device-info file');
  (h.linkState as import('../helpers/fake-link-state.js').FakeLinkStateSource).set('ens1f0', false);
  await h.kubelet.waitFor('intel.com/a', (v) => !!v && v.devices.every((d) => d.health === 'Unhealthy'), 2000, 'unhealthy');
  await t.rejects(h.kubelet.allocateIds('intel.com/a', ['0000:3b:02.1']), { code: grpc.status.FAILED_PRECONDITION, details: /0000:3b:02\.1 are unhealthy/ });
  const endpoint = (h.kubelet as unknown as { endpoints: Map<string, { client: grpc.Client }> }).endpoints.get('intel.com/b')!;
  const empty = await callUnary<{ containerResponses: unknown[] }>(endpoint.client, 'Allocate', { containerRequests: [] }, 3000);
  t.same(empty.containerResponses, [], 'empty request → zero container responses');
  t.same(await h.kubelet.preStartContainer('intel.com/b', ['0000:5e:02.0']), {});
});

t.test('GetPreferredAllocation via the kubelet: one NUMA node, packed onto few PFs, deterministic', async (t) => {
  // NUMA 0: PF A with 4 free VFs, PF B with 2; NUMA 1: PFs C and D with 8 each.
  const devices = [
    ...fakeVfs('0000:3b:00.0', 'pfA', '3b', 4, { numaNode: 0 }),
    ...fakeVfs('0000:3c:00.0', 'pfB', '3c', 2, { numaNode: 0 }),
    ...fakeVfs('0000:af:00.0', 'pfC', 'af', 8, { numaNode: 1 }),
    ...fakeVfs('0000:b0:00.0', 'pfD', 'b0', 8, { numaNode: 1 }),
  ];
  const h = await startHarness({ snapshot: fakeSnapshot([{ name: 'numa', devices }]) });
  t.teardown(() => h.close());
  await h.kubelet.waitForHealthy('intel.com/numa', 22);
  const pfOf = (id: string) => id.slice(0, 7);
  const numaOf = (id: string) => (['0000:3b', '0000:3c'].includes(pfOf(id)) ? 0 : 1);
  const two = await h.kubelet.allocate('p1', 'p1', 'ns', 'c', 'intel.com/numa', 2);
  t.same(two.preferred, ['0000:3c:02.0', '0000:3c:02.1'], 'size 2: the PF with exactly 2 free (best fit) on NUMA 0');
  const five = await h.kubelet.allocate('p2', 'p2', 'ns', 'c', 'intel.com/numa', 5);
  t.same(new Set(five.deviceIds.map(numaOf)).size, 1, 'size 5: one NUMA node');
  t.same(new Set(five.deviceIds.map(pfOf)).size, 1, 'size 5: one PF (NUMA 1 can, NUMA 0 would need two)');
  const again = await h.kubelet.getPreferredAllocation('intel.com/numa', h.kubelet.healthyIds('intel.com/numa'), [], 3);
  const repeat = await h.kubelet.getPreferredAllocation('intel.com/numa', h.kubelet.healthyIds('intel.com/numa').reverse(), [], 3);
  t.same(again, repeat, 'same answer for the same set in any order');
  const must = await h.kubelet.getPreferredAllocation('intel.com/numa', h.kubelet.healthyIds('intel.com/numa'), ['0000:3b:02.3'], 3);
  t.equal(must[0], '0000:3b:02.3', 'mustInclude comes first');
  t.ok(must.every((id) => pfOf(id) === '0000:3b'), 'and the rest join its PF');
});

t.test('vDPA (vhost): /dev/vhost-vdpa-N and a type vdpa device-info file', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'npx-dp-vdpa-'));
  mkdirSync(join(root, 'bus', 'pci', 'devices', '0000:65:00.2', 'vdpa0', 'vhost-vdpa-0'), { recursive: true });
  const snapshot = fakeSnapshot([{
    name: 'vdpa', selectors: [{ vdpaType: 'vhost' }],
    devices: [fakeDevice('0000:65:00.2', { driver: 'mlx5_core', vdpaType: 'vhost', pfAddress: '0000:65:00.0', pfNetdev: 'p0', vfIndex: 0 })],
  }]);
  const h = await startHarness({ snapshot, sysfsRoot: root });
  t.teardown(async () => {
    await h.close();
    rmSync(root, { recursive: true, force: true });
  });
  await h.kubelet.waitForHealthy('intel.com/vdpa', 1);
  const r = await h.kubelet.allocateIds('intel.com/vdpa', ['0000:65:00.2']);
  t.same(r.devices, [{ hostPath: '/dev/vhost-vdpa-0', containerPath: '/dev/vhost-vdpa-0', permissions: 'mrw' }]);
  t.same(await readDeviceInfoFile(join(h.devinfoDir, 'intel.com-vdpa-0000:65:00.2-device.json')), {
    type: 'vdpa', version: '1.1.0', vdpa: { 'parent-device': 'vdpa0', driver: 'vhost', path: '/dev/vhost-vdpa-0', 'pci-address': '0000:65:00.2', 'pf-pci-address': '0000:65:00.0' },
  });
});

t.test("a pool's allocationPolicy 'spread' spreads over PFs, the other pool still packs", async (t) => {
  const devices = (bus: string) => [...fakeVfs(`0000:${bus}:00.0`, `p${bus}a`, bus, 4), ...fakeVfs(`0000:${bus}:00.1`, `p${bus}b`, `${(Number.parseInt(bus, 16) + 1).toString(16)}`, 4)];
  const h = await startHarness({ snapshot: fakeSnapshot([{ name: 'spread', allocationPolicy: 'spread', devices: devices('3b') }, { name: 'pack', devices: devices('5e') }]) });
  t.teardown(() => h.close());
  await h.kubelet.waitForHealthy('intel.com/spread', 8);
  await h.kubelet.waitForHealthy('intel.com/pack', 8);
  const spread = await h.kubelet.getPreferredAllocation('intel.com/spread', h.kubelet.healthyIds('intel.com/spread'), [], 2);
  t.same(spread, ['0000:3b:02.0', '0000:3c:02.0'], 'one VF from each PF');
  const pack = await h.kubelet.getPreferredAllocation('intel.com/pack', h.kubelet.healthyIds('intel.com/pack'), [], 2);
  t.same(pack, ['0000:5e:02.0', '0000:5e:02.1'], 'both from one PF');
});
