// CDI mode (`--use-cdi`) through real gRPC on real unix sockets with the kubelet stand-in: stale
// `sriov-dp-*` specs removed at start, a spec per pool with the vfio/no-IOMMU/uio nodes, Allocate
// answering with CDI names instead of device specs, the spec following
// hot reloads and kubelet restarts, and removed on stop (behaviour 8); the real CLI end to end.
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDeviceInfoFile } from '../../config/devinfo.js';
import type { CdiSpec } from '../../deviceplugin/server/cdi-spec.js';
import { spawnDevicePlugin } from '../helpers/dp-cli.js';
import { startHarness } from '../helpers/dp-harness.js';
import { fakeDevice, fakeSnapshot, fakeVfs } from '../helpers/dp-snapshot.js';
import { buildFakeHost } from '../helpers/fake-sysfs.js';
import { KubeletStandin } from '../helpers/kubelet-standin.js';
import { intelE810 } from '../helpers/nic-models.js';

const DPDK_SPEC = 'sriov-dp-intel.com_dpdk.json';

function cdiDirFor(t: Test): string {
  const root = mkdtempSync(join(tmpdir(), 'npx-dp-cdi-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return join(root, 'run', 'cdi');
}

function readSpec(cdiDir: string, name = DPDK_SPEC): CdiSpec {
  return JSON.parse(readFileSync(join(cdiDir, name), 'utf8')) as CdiSpec;
}

const dpdk = [
  fakeDevice('0000:3b:02.0', { driver: 'vfio-pci', iommuGroup: '41', pfAddress: '0000:3b:00.0', pfNetdev: 'ens1f0', vfIndex: 0 }),
  fakeDevice('0000:3b:02.1', { driver: 'vfio-pci', iommuGroup: '42', pfAddress: '0000:3b:00.0', pfNetdev: 'ens1f0', vfIndex: 1 }),
  fakeDevice('0000:00:05.0', { driver: 'vfio-pci', iommuGroup: '7', noIommu: true, numaNode: null }),
  fakeDevice('0000:00:09.0', { driver: 'igb_uio', uioDevice: 'uio0', numaNode: null }),
];
const kernelVfs = fakeVfs('0000:5e:00.0', 'ens2f0', '5e', 2);

t.test('stale specs removed at start; spec with vfio, no-IOMMU and uio nodes; Allocate names CDI devices instead of specs', async (t) => {
  const cdiDir = cdiDirFor(t);
  mkdirSync(cdiDir, { recursive: true });
  writeFileSync(join(cdiDir, 'sriov-dp-intel.com-net-pci_5f1a.yaml'), 'cdiVersion: 0.5.0\nkind: intel.com/net-pci\n'); // the reference plugin's
  writeFileSync(join(cdiDir, 'sriov-dp-intel.com_gone.json'), '{}'); // ours, from a pool no longer configured
  writeFileSync(join(cdiDir, 'nvidia.com-gpu.json'), '{}');
  const h = await startHarness({ snapshot: fakeSnapshot([{ name: 'dpdk', devices: dpdk }, { name: 'kernel', devices: kernelVfs }]), manager: { cdiDir } });
  t.teardown(() => h.close());
  await h.kubelet.waitForHealthy('intel.com/dpdk', 4);
  await h.kubelet.waitForHealthy('intel.com/kernel', 2);
  t.same(readdirSync(cdiDir).sort(), ['nvidia.com-gpu.json', DPDK_SPEC], "stale sriov-dp-* gone, another vendor's spec kept, no spec for the pool without device nodes");

  const spec = readSpec(cdiDir);
  t.equal(spec.cdiVersion, '0.5.0');
  t.equal(spec.kind, 'intel.com/dpdk');
  const nodes = Object.fromEntries(spec.devices.map((d) => [d.name, d.containerEdits.deviceNodes]));
  t.same(Object.keys(nodes).sort(), ['0000:00:05.0', '0000:00:09.0', '0000:3b:02.0', '0000:3b:02.1']);
  t.same(nodes['0000:3b:02.1'], [{ path: '/dev/vfio/vfio', hostPath: '/dev/vfio/vfio', permissions: 'rw' }, { path: '/dev/vfio/42', hostPath: '/dev/vfio/42', permissions: 'rw' }]);
  t.same(nodes['0000:00:05.0']?.[1], { path: '/dev/vfio/7', hostPath: '/dev/vfio/noiommu-7', permissions: 'rw' }, 'no-IOMMU mapped to /dev/vfio/N');
  t.same(nodes['0000:00:09.0'], [{ path: '/dev/uio0', hostPath: '/dev/uio0', permissions: 'mrw' }]);

  const result = await h.kubelet.allocate('uid-1', 'pod-a', 'ns1', 'app', 'intel.com/dpdk', 2);
  const r = result.response;
  const names = result.deviceIds.map((id) => `intel.com/dpdk=${id}`);
  t.same(r.devices, [], 'no device specs');
  t.same(r.mounts, [], 'no mounts');
  t.same(r.cdiDevices, names.map((name) => ({ name })), 'cdi_devices');
  t.same(r.annotations, { 'cdi.k8s.io/intel.com_dpdk': names.join(',') }, 'the cdi.k8s.io annotation');
  t.equal(r.envs.PCIDEVICE_INTEL_COM_DPDK, result.deviceIds.join(','), 'env vars stay');
  t.ok(JSON.parse(r.envs.PCIDEVICE_INTEL_COM_DPDK_INFO!)[result.deviceIds[0]!].vfio, '_INFO stays');
  t.ok(names.every((name) => spec.devices.some((d) => `${spec.kind}=${d.name}` === name)), 'every name resolves in the spec');
  t.same((await readDeviceInfoFile(join(h.devinfoDir, `intel.com-dpdk-${result.deviceIds[0]}-device.json`))).type, 'pci', 'device-info files are still written');

  const kernel = await h.kubelet.allocateIds('intel.com/kernel', ['0000:5e:02.0']);
  t.same([kernel.devices, kernel.cdiDevices, kernel.annotations], [[], [], {}], 'nothing to inject for a kernel-driver VF');
  t.ok(kernel.envs.PCIDEVICE_INTEL_COM_KERNEL);

  await h.manager.stop();
  t.same(readdirSync(cdiDir), ['nvidia.com-gpu.json'], 'stop removes our specs (behaviour 8)');
});

t.test('hot reload rewrites the spec; an emptied pool loses it; kubelet restart restores a deleted spec', async (t) => {
  const cdiDir = cdiDirFor(t);
  const h = await startHarness({ snapshot: fakeSnapshot([{ name: 'dpdk', devices: dpdk.slice(0, 2) }, { name: 'kernel', devices: kernelVfs }]), manager: { cdiDir } });
  t.teardown(() => h.close());
  const first = await h.kubelet.waitForHealthy('intel.com/dpdk', 2);
  t.same(readSpec(cdiDir).devices.map((d) => d.name), ['0000:3b:02.0', '0000:3b:02.1']);

  // The no-IOMMU device joins, 0000:3b:02.0 leaves; the kernel pool's VF gets rebound to vfio-pci.
  const vfioVf = { ...kernelVfs[0]!, driver: 'vfio-pci', iommuGroup: '90', netdevs: [] };
  h.setSnapshot(fakeSnapshot([{ name: 'dpdk', devices: [dpdk[1]!, dpdk[2]!] }, { name: 'kernel', devices: [vfioVf, kernelVfs[1]!] }]));
  t.equal(await h.manager.reload('test'), true);
  await h.kubelet.waitFor('intel.com/dpdk', (v) => v?.devices.map((d) => d.ID).join() === '0000:00:05.0,0000:3b:02.1', 2000, 'new dpdk list');
  t.equal(h.kubelet.resource('intel.com/dpdk')!.generation, first!.generation, 'same registration: served without a restart');
  t.same(readSpec(cdiDir).devices.map((d) => d.name), ['0000:00:05.0', '0000:3b:02.1'], 'spec rewritten');
  t.same(readSpec(cdiDir, 'sriov-dp-intel.com_kernel.json').devices, [{ name: '0000:5e:02.0', containerEdits: { deviceNodes: [
    { path: '/dev/vfio/vfio', hostPath: '/dev/vfio/vfio', permissions: 'rw' },
    { path: '/dev/vfio/90', hostPath: '/dev/vfio/90', permissions: 'rw' },
  ] } }], 'a pool that gained device nodes gets a spec');
  const r = await h.kubelet.allocateIds('intel.com/dpdk', ['0000:00:05.0']);
  t.same(r.cdiDevices, [{ name: 'intel.com/dpdk=0000:00:05.0' }]);

  // Someone deletes our spec; a kubelet restart re-serves and re-registers and rewrites it.
  unlinkSync(join(cdiDir, DPDK_SPEC));
  const generation = h.kubelet.resource('intel.com/dpdk')!.generation;
  await h.kubelet.restart();
  await h.kubelet.waitFor('intel.com/dpdk', (v) => !!v && v.generation > generation && v.devices.length === 2, 3000, 're-registered');
  t.ok(existsSync(join(cdiDir, DPDK_SPEC)), 'spec restored on re-registration');

  // The dpdk pool empties: its server stops and its spec goes; the other pool's stays.
  h.setSnapshot(fakeSnapshot([{ name: 'dpdk', devices: [] }, { name: 'kernel', devices: kernelVfs }]));
  t.equal(await h.manager.reload('test'), true);
  t.same(readdirSync(cdiDir), [], 'dpdk emptied, kernel VFs back on iavf: no spec left');
});

t.test('without CDI mode nothing changes: device specs in Allocate, no CDI names, no spec written', async (t) => {
  const cdiDir = cdiDirFor(t);
  const h = await startHarness({ snapshot: fakeSnapshot([{ name: 'dpdk', devices: dpdk }]) });
  t.teardown(() => h.close());
  await h.kubelet.waitForHealthy('intel.com/dpdk', 4);
  const r = await h.kubelet.allocateIds('intel.com/dpdk', ['0000:00:05.0']);
  t.same(r.devices.map((d) => d.hostPath), ['/dev/vfio/vfio', '/dev/vfio/noiommu-7']);
  t.same([r.cdiDevices, r.annotations], [[], {}]);
  t.notOk(existsSync(cdiDir));
});

t.test('CDI spec write failure: Allocate falls back to device specs and says why', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'npx-dp-cdi-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const notADir = join(root, 'file');
  writeFileSync(notADir, 'x');
  const h = await startHarness({ snapshot: fakeSnapshot([{ name: 'dpdk', devices: dpdk }]), manager: { cdiDir: notADir } });
  t.teardown(() => h.close());
  await h.kubelet.waitForHealthy('intel.com/dpdk', 4);
  const r = await h.kubelet.allocateIds('intel.com/dpdk', ['0000:3b:02.0']);
  t.same(r.devices.map((d) => d.hostPath), ['/dev/vfio/vfio', '/dev/vfio/41'], 'the container still gets its device nodes');
  t.same(r.cdiDevices, [], 'and no name that no spec defines');
  t.ok((h.logger.lines ?? []).some((l) => l.includes(`cannot write CDI spec ${join(notADir, DPDK_SPEC)}`)), 'the error names the file');
});

t.test('the real CLI: --use-cdi --cdi-dir writes the spec, Allocate answers with CDI names, SIGTERM removes it', async (t) => {
  const host = buildFakeHost({ pci: intelE810({ numVfs: 4, vfioVfs: [2, 3] }) });
  t.teardown(() => host.cleanup());
  const dpDir = join(host.root, 'kubelet', 'device-plugins');
  const cdiDir = join(host.root, 'cdi');
  mkdirSync(dpDir, { recursive: true });
  mkdirSync(cdiDir);
  writeFileSync(join(cdiDir, 'sriov-dp-intel.com_e810.json'), '{"stale":true}');
  const configPath = join(host.root, 'config.json');
  writeFileSync(configPath, JSON.stringify({ resourceList: [{ resourceName: 'e810', selectors: { devices: ['1889'], drivers: ['vfio-pci'] } }] }));
  const kubelet = await KubeletStandin.start({ dir: dpDir });
  t.teardown(() => kubelet.stop());
  const plugin = spawnDevicePlugin([
    '--config', configPath, '--sysfs-root', host.sysfsRoot, '--proc-root', host.procRoot, '--dev-root', host.devRoot,
    '--device-plugin-dir', dpDir, '--devinfo-dir', join(host.root, 'devinfo'), '--pci-ids', 'none', '--log-level', 'debug',
    '--use-cdi', '--cdi-dir', cdiDir,
  ]);
  t.teardown(() => {
    if (plugin.child.exitCode === null) plugin.child.kill('SIGKILL');
  });
  await kubelet.waitForHealthy('intel.com/e810', 2, 10_000).catch((error) => {
    t.comment(plugin.stderr());
    throw error;
  });
  const spec = JSON.parse(readFileSync(join(cdiDir, 'sriov-dp-intel.com_e810.json'), 'utf8')) as CdiSpec;
  t.equal(spec.kind, 'intel.com/e810', 'the stale file was replaced by the real spec');
  t.same(spec.devices.map((d) => d.containerEdits.deviceNodes.map((n) => n.path)), [['/dev/vfio/vfio', '/dev/vfio/43'], ['/dev/vfio/vfio', '/dev/vfio/44']], 'iommu groups of the two vfio VFs');
  const allocation = await kubelet.allocate('uid', 'pod', 'ns', 'c', 'intel.com/e810', 1);
  t.same(allocation.response.devices, []);
  t.same(allocation.response.cdiDevices, [{ name: `intel.com/e810=${allocation.deviceIds[0]}` }]);
  t.equal(allocation.response.annotations['cdi.k8s.io/intel.com_e810'], `intel.com/e810=${allocation.deviceIds[0]}`);
  plugin.child.kill('SIGTERM');
  t.equal((await plugin.exit).code, 0);
  t.same(readdirSync(cdiDir), [], 'SIGTERM removes the spec');
});
