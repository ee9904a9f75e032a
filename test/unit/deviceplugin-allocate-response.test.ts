// The per-container Allocate answer, built without gRPC: env names, the _INFO providers, device
// specs and their de-duplication.
import t from 'tap';
import { containerAllocateResponse, deviceResources, poolEnvName, type AllocateContext } from '../../deviceplugin/server/allocate-response.js';
import type { DeviceSpec } from '../../config/grpc/kubelet-api.js';
import { fakeDevice, fakeSnapshot } from '../helpers/dp-snapshot.js';

function context(fields: Partial<AllocateContext> = {}, poolFields: Parameters<typeof fakeSnapshot>[0][0] = { name: 'sriov_a', devices: [] }): AllocateContext {
  const pool = fakeSnapshot([poolFields]).pools[0]!;
  return { pool, vhostNetAvailable: false, rdmaCharDevices: () => [], vdpaDevice: () => null, ...fields };
}

t.test('env var name: upper case, every non-alphanumeric as _', async (t) => {
  t.equal(poolEnvName(context().pool), 'PCIDEVICE_INTEL_COM_SRIOV_A');
  t.equal(poolEnvName(context({}, { name: 'sriov-net_0', prefix: 'openshift.io', devices: [] }).pool), 'PCIDEVICE_OPENSHIFT_IO_SRIOV_NET_0');
});

t.test('generic only for a netdev-bound device: no specs, deviceID env', async (t) => {
  const r = deviceResources(fakeDevice('0000:3b:02.0'), context());
  t.same(r, { specs: [], info: { generic: { deviceID: '0000:3b:02.0' } } });
});

t.test('vfio: group recomputed from the record; without a group only /dev/vfio/vfio and mount', async (t) => {
  const none = deviceResources(fakeDevice('0000:3b:02.0', { driver: 'vfio-pci', iommuGroup: null }), context());
  t.same(none.specs, [{ hostPath: '/dev/vfio/vfio', containerPath: '/dev/vfio/vfio', permissions: 'rw' }]);
  t.same(none.info.vfio, { mount: '/dev/vfio/vfio' });
  const grouped = deviceResources(fakeDevice('0000:3b:02.0', { driver: 'vfio-pci', iommuGroup: '12' }), context());
  t.same(grouped.specs.map((s) => s.hostPath), ['/dev/vfio/vfio', '/dev/vfio/12']);
  t.same(grouped.info.vfio, { mount: '/dev/vfio/vfio', 'dev-mount': '/dev/vfio/12' });
  const noIommu = deviceResources(fakeDevice('0000:00:05.0', { driver: 'vfio-pci', iommuGroup: '3', noIommu: true }), context());
  t.same(noIommu.specs[1], { hostPath: '/dev/vfio/noiommu-3', containerPath: '/dev/vfio/3', permissions: 'rw' });
});

t.test('uio: /dev/uioN with mrw', async (t) => {
  const r = deviceResources(fakeDevice('0000:00:09.0', { driver: 'igb_uio', uioDevice: 'uio4' }), context());
  t.same(r.specs, [{ hostPath: '/dev/uio4', containerPath: '/dev/uio4', permissions: 'mrw' }]);
  t.same(r.info.uio, { mount: '/dev/uio4' });
});

t.test('RDMA and vhost-net only for the selector index that asks; vhost only when both nodes exist', async (t) => {
  const rdmaSpecs: DeviceSpec[] = [{ hostPath: '/dev/infiniband/uverbs1', containerPath: '/dev/infiniband/uverbs1', permissions: 'rw' }];
  const ctx = context({ rdmaCharDevices: (name) => (name === 'mlx5_1' ? rdmaSpecs : []), vhostNetAvailable: true }, {
    name: 'mixed', devices: [], selectors: [{}, { isRdma: true, needVhostNet: true }],
  });
  const plain = deviceResources(fakeDevice('0000:86:00.2', { rdmaDevices: ['mlx5_1'], selectorIndex: 0 }), ctx);
  t.same(plain.specs, [], 'selector 0 asks for nothing');
  const rich = deviceResources(fakeDevice('0000:86:00.2', { rdmaDevices: ['mlx5_1'], selectorIndex: 1 }), ctx);
  t.same(rich.specs.map((s) => s.hostPath), ['/dev/infiniband/uverbs1', '/dev/vhost-net', '/dev/net/tun']);
  t.same(rich.info.rdma, { uverbs: '/dev/infiniband/uverbs1', rdma_dev: 'mlx5_1' });
  const noVhost = deviceResources(fakeDevice('0000:86:00.2', { selectorIndex: 1 }), { ...ctx, vhostNetAvailable: false });
  t.notOk(noVhost.specs.some((s) => s.hostPath === '/dev/vhost-net'), 'nothing when /dev/vhost-net or /dev/net/tun is missing');
});

t.test('vDPA: char device only for a vhost selector matching the device type (behaviour 22)', async (t) => {
  const vdpaDevice = () => ({ name: 'vdpa0', vhostPath: '/dev/vhost-vdpa-0' });
  const vhostPool = context({ vdpaDevice }, { name: 'v', devices: [], selectors: [{ vdpaType: 'vhost' }] });
  const matching = deviceResources(fakeDevice('0000:65:00.2', { vdpaType: 'vhost', selectorIndex: 0 }), vhostPool);
  t.same(matching.specs, [{ hostPath: '/dev/vhost-vdpa-0', containerPath: '/dev/vhost-vdpa-0', permissions: 'mrw' }]);
  t.same(matching.info.vdpa, { mount: '/dev/vhost-vdpa-0' });
  const wrongType = deviceResources(fakeDevice('0000:65:00.2', { vdpaType: 'virtio', selectorIndex: 0 }), vhostPool);
  t.same(wrongType.specs, [], 'device on virtio while the selector wants vhost: no spec');
  const virtioPool = context({ vdpaDevice }, { name: 'v', devices: [], selectors: [{ vdpaType: 'virtio' }] });
  t.same(deviceResources(fakeDevice('0000:65:00.2', { vdpaType: 'virtio', selectorIndex: 0 }), virtioPool).specs, [], 'virtio type needs no char device');
});

t.test('extra info: "*" for all, per-PCI overrides and extends', async (t) => {
  const ctx = context({}, { name: 'x', devices: [], additionalInfo: { '*': { a: '1', b: '2' }, '0000:3b:02.1': { b: '3', c: '4' } } });
  t.same(deviceResources(fakeDevice('0000:3b:02.0'), ctx).info.extra, { a: '1', b: '2' });
  t.same(deviceResources(fakeDevice('0000:3b:02.1'), ctx).info.extra, { a: '1', b: '3', c: '4' });
});

t.test('container response: comma-joined IDs, _INFO JSON keyed by PCI, specs de-duplicated by host path', async (t) => {
  const devices = [
    fakeDevice('0000:3b:02.0', { driver: 'vfio-pci', iommuGroup: '41' }),
    fakeDevice('0000:3b:02.1', { driver: 'vfio-pci', iommuGroup: '42' }),
    fakeDevice('0000:3b:02.2', { driver: 'vfio-pci', iommuGroup: '42' }),
  ];
  const r = containerAllocateResponse(devices, context());
  t.equal(r.envs.PCIDEVICE_INTEL_COM_SRIOV_A, '0000:3b:02.0,0000:3b:02.1,0000:3b:02.2');
  t.same(Object.keys(JSON.parse(r.envs.PCIDEVICE_INTEL_COM_SRIOV_A_INFO!)), ['0000:3b:02.0', '0000:3b:02.1', '0000:3b:02.2']);
  t.same(r.devices.map((d) => d.hostPath), ['/dev/vfio/vfio', '/dev/vfio/41', '/dev/vfio/42']);
  t.same(r.mounts, []);
  t.same(r.cdiDevices, []);
});
