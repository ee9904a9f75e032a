// CDI mode without gRPC: names (kind, annotation key, file), the spec built from pool devices
// (vfio incl. no-IOMMU, uio, RDMA, vhost-net; devices without nodes left out), the CDI Allocate
// answer, atomic writes and the `sriov-dp-*` clean-up.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerAllocateResponse, type AllocateContext } from '../../deviceplugin/server/allocate-response.js';
import {
  buildCdiSpec,
  CDI_VERSION,
  cdiContainerResponse,
  cdiNames,
  removeCdiSpec,
  removeStaleCdiSpecs,
  writeCdiSpec,
} from '../../deviceplugin/server/cdi-spec.js';
import { fakeDevice, fakeSnapshot, type PoolSpec } from '../helpers/dp-snapshot.js';

function poolAndContext(spec: PoolSpec, fields: Partial<AllocateContext> = {}) {
  const snapshot = fakeSnapshot([spec]);
  const pool = snapshot.pools[0]!;
  const devices = snapshot.devices;
  const context: AllocateContext = { pool, vhostNetAvailable: false, rdmaCharDevices: () => [], vdpaDevice: () => null, ...fields };
  return { pool, devices, context };
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'npx-cdi-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const dpdkDevices = [
  fakeDevice('0000:3b:02.1', { driver: 'vfio-pci', iommuGroup: '42' }),
  fakeDevice('0000:3b:02.0', { driver: 'vfio-pci', iommuGroup: '41' }),
  fakeDevice('0000:00:05.0', { driver: 'vfio-pci', iommuGroup: '7', noIommu: true }),
  fakeDevice('0000:00:09.0', { driver: 'igb_uio', uioDevice: 'uio0' }),
  fakeDevice('0000:3b:02.2', { driver: 'iavf', netdevs: ['ens1f0v2'] }),
];

t.test('names: kind <prefix>/<name>, annotation key cdi.k8s.io/<prefix>_<name>, file sriov-dp-<prefix>_<name>.json', async (t) => {
  const { pool } = poolAndContext({ name: 'sriov_dpdk', prefix: 'openshift.io', devices: [] });
  t.same(cdiNames(pool), {
    kind: 'openshift.io/sriov_dpdk',
    annotationKey: 'cdi.k8s.io/openshift.io_sriov_dpdk',
    fileName: 'sriov-dp-openshift.io_sriov_dpdk.json',
  });
  // The reference test's pair: prefix example.com, class net → cdi.k8s.io/example.com_net.
  t.equal(cdiNames(poolAndContext({ name: 'net', prefix: 'example.com', devices: [] }).pool).annotationKey, 'cdi.k8s.io/example.com_net');
  t.throws(() => cdiNames(poolAndContext({ name: 'a', prefix: '3com.com', devices: [] }).pool), /resourcePrefix "3com\.com" is not a valid CDI vendor \(it must start with a letter/);
  t.throws(() => cdiNames(poolAndContext({ name: '0dpdk', devices: [] }).pool), /resourceName "0dpdk" is not a valid CDI class/);
  t.throws(() => cdiNames(poolAndContext({ name: 'dpdk_', devices: [] }).pool), /resourceName "dpdk_" is not a valid CDI class .*end with a letter or digit/);
  t.throws(() => cdiNames(poolAndContext({ name: '../../etc/x', devices: [] }).pool), /not a valid CDI class/, 'never a path');
});

t.test('spec: one CDI device per device with nodes, vfio group, no-IOMMU host node mapped to /dev/vfio/N, uio', async (t) => {
  const { pool, devices, context } = poolAndContext({ name: 'dpdk', devices: dpdkDevices });
  const spec = buildCdiSpec(cdiNames(pool), devices, context);
  t.equal(spec?.cdiVersion, CDI_VERSION);
  t.equal(CDI_VERSION, '0.5.0', 'the first CDI version with hostPath on device nodes');
  t.equal(spec?.kind, 'intel.com/dpdk');
  t.same(spec?.devices.map((d) => d.name), ['0000:00:05.0', '0000:00:09.0', '0000:3b:02.0', '0000:3b:02.1'], 'sorted; the iavf (kernel netdev) VF has no nodes and is left out');
  const byName = Object.fromEntries(spec!.devices.map((d) => [d.name, d.containerEdits.deviceNodes]));
  t.same(byName['0000:3b:02.0'], [
    { path: '/dev/vfio/vfio', hostPath: '/dev/vfio/vfio', permissions: 'rw' },
    { path: '/dev/vfio/41', hostPath: '/dev/vfio/41', permissions: 'rw' },
  ]);
  t.same(byName['0000:00:05.0'], [
    { path: '/dev/vfio/vfio', hostPath: '/dev/vfio/vfio', permissions: 'rw' },
    { path: '/dev/vfio/7', hostPath: '/dev/vfio/noiommu-7', permissions: 'rw' },
  ], 'no-IOMMU: host /dev/vfio/noiommu-7 appears as /dev/vfio/7');
  t.same(byName['0000:00:09.0'], [{ path: '/dev/uio0', hostPath: '/dev/uio0', permissions: 'mrw' }]);
});

t.test('spec: RDMA and vhost-net nodes only when the selector asks; a pool with no nodes has no spec', async (t) => {
  const rdma = fakeDevice('0000:86:00.2', { driver: 'mlx5_core', rdmaDevices: ['mlx5_2'] });
  const rdmaCharDevices = (name: string) => (name === 'mlx5_2'
    ? [{ hostPath: '/dev/infiniband/uverbs2', containerPath: '/dev/infiniband/uverbs2', permissions: 'rw' }, { hostPath: '/dev/infiniband/rdma_cm', containerPath: '/dev/infiniband/rdma_cm', permissions: 'rw' }]
    : []);
  const asked = poolAndContext({ name: 'rdma', devices: [rdma], selectors: [{ isRdma: true, needVhostNet: true }] }, { rdmaCharDevices, vhostNetAvailable: true });
  const spec = buildCdiSpec(cdiNames(asked.pool), asked.devices, asked.context);
  t.same(spec?.devices[0]?.containerEdits.deviceNodes.map((n) => n.path), ['/dev/infiniband/uverbs2', '/dev/infiniband/rdma_cm', '/dev/vhost-net', '/dev/net/tun']);
  const notAsked = poolAndContext({ name: 'rdma', devices: [rdma] }, { rdmaCharDevices, vhostNetAvailable: true });
  t.equal(buildCdiSpec(cdiNames(notAsked.pool), notAsked.devices, notAsked.context), null, 'kernel-driver devices only: no spec (CDI rejects devices without edits)');
});

t.test('Allocate in CDI mode: CDI names in cdi_devices and the annotation, no devices or mounts, env vars kept', async (t) => {
  const { pool, devices, context } = poolAndContext({ name: 'dpdk', devices: dpdkDevices });
  const names = cdiNames(pool);
  const inSpec = new Set(buildCdiSpec(names, devices, context)!.devices.map((d) => d.name));
  const pick = (...ids: string[]) => ids.map((id) => devices.find((d) => d.pciAddress === id)!);
  const chosen = pick('0000:3b:02.1', '0000:00:05.0', '0000:3b:02.2');
  const classic = containerAllocateResponse(chosen, context);
  t.ok(classic.devices.length > 0, 'the classic answer has device specs');
  const cdi = cdiContainerResponse(chosen, context, names, inSpec);
  t.same(cdi.devices, []);
  t.same(cdi.mounts, []);
  t.same(cdi.envs, classic.envs, 'PCIDEVICE_* and _INFO unchanged');
  t.equal(cdi.envs.PCIDEVICE_INTEL_COM_DPDK, '0000:3b:02.1,0000:00:05.0,0000:3b:02.2');
  t.same(cdi.cdiDevices, [{ name: 'intel.com/dpdk=0000:3b:02.1' }, { name: 'intel.com/dpdk=0000:00:05.0' }], 'in request order; the device without nodes is not named');
  t.same(cdi.annotations, { 'cdi.k8s.io/intel.com_dpdk': 'intel.com/dpdk=0000:3b:02.1,intel.com/dpdk=0000:00:05.0' });
  const none = cdiContainerResponse(pick('0000:3b:02.2'), context, names, inSpec);
  t.same([none.devices, none.cdiDevices, none.annotations], [[], [], {}], 'nothing to inject: no annotation');
  // A device whose nodes are not in the written spec yet: its specs the classic way, never nothing.
  const late = cdiContainerResponse(pick('0000:3b:02.0', '0000:00:09.0'), context, names, new Set(['0000:3b:02.0']));
  t.same(late.cdiDevices, [{ name: 'intel.com/dpdk=0000:3b:02.0' }]);
  t.same(late.devices, [{ hostPath: '/dev/uio0', containerPath: '/dev/uio0', permissions: 'mrw' }]);
});

t.test('write, replace and remove a spec; clean every sriov-dp-* file and temp leftovers, nothing else', async (t) => {
  const dir = tempDir(t);
  const cdiDir = join(dir, 'run', 'cdi');
  const { pool, devices, context } = poolAndContext({ name: 'dpdk', devices: dpdkDevices });
  const names = cdiNames(pool);
  const path = await writeCdiSpec(cdiDir, names, buildCdiSpec(names, devices, context)!);
  t.equal(path, join(cdiDir, 'sriov-dp-intel.com_dpdk.json'), 'the directory is created');
  t.equal(JSON.parse(readFileSync(path, 'utf8')).devices.length, 4);
  await writeCdiSpec(cdiDir, names, buildCdiSpec(names, devices.slice(0, 1), context)!);
  t.equal(JSON.parse(readFileSync(path, 'utf8')).devices.length, 1, 'replaced in place');
  t.same(readdirSync(cdiDir), ['sriov-dp-intel.com_dpdk.json'], 'no temp file left behind');
  await removeCdiSpec(cdiDir, names);
  t.notOk(existsSync(path));
  await removeCdiSpec(cdiDir, names);
  t.pass('removing a missing spec is not an error');

  writeFileSync(join(cdiDir, 'sriov-dp-intel.com-net-pci_0123abcd.yaml'), 'cdiVersion: 0.5.0\n');
  writeFileSync(join(cdiDir, 'sriov-dp-intel.com_old.json'), '{}');
  writeFileSync(join(cdiDir, '.sriov-dp-intel.com_old.json.123.abcd.tmp'), '{');
  writeFileSync(join(cdiDir, 'nvidia.yaml'), 'cdiVersion: 0.5.0\n');
  writeFileSync(join(cdiDir, 'vendor-sriov-dp.json'), '{}');
  const removed = await removeStaleCdiSpecs(cdiDir);
  t.same(removed.sort(), ['.sriov-dp-intel.com_old.json.123.abcd.tmp', 'sriov-dp-intel.com-net-pci_0123abcd.yaml', 'sriov-dp-intel.com_old.json']);
  t.same(readdirSync(cdiDir).sort(), ['nvidia.yaml', 'vendor-sriov-dp.json'], "other vendors' specs stay");
  t.same(await removeStaleCdiSpecs(join(dir, 'missing')), [], 'a missing directory has nothing to clean');
});
