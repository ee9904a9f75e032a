// Health changes and hot reloads reaching the kubelet stand-in over real gRPC: link down/up (fake
// source and the sysfs operstate source on a fake sysfs), config reload adding/removing pools while
// an unchanged pool keeps its ListAndWatch stream, a bad config rejected, VF count changes.
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SysfsLinkStateSource } from '../../deviceplugin/link-state.js';
import { fakeDevice, fakeSnapshot, fakeVfs } from '../helpers/dp-snapshot.js';
import { realDiscovery, startHarness } from '../helpers/dp-harness.js';
import { FakeLinkStateSource } from '../helpers/fake-link-state.js';
import { buildFakeHost } from '../helpers/fake-sysfs.js';
import { intelE810 } from '../helpers/nic-models.js';

const healthyCount = (devices: { health: string }[] | undefined) => (devices ?? []).filter((d) => d.health === 'Healthy').length;

t.test('link down reaches the kubelet as Unhealthy and back (fake link source)', async (t) => {
  const linkState = new FakeLinkStateSource({ ens1f0: true, ens2f0: true, eth9: true });
  const snapshot = fakeSnapshot([
    { name: 'vfs', devices: fakeVfs('0000:3b:00.0', 'ens1f0', '3b', 3) },
    { name: 'whole', devices: [fakeDevice('0000:00:08.0', { netdevs: ['eth9'], driver: 'ena' })] },
  ]);
  const h = await startHarness({ snapshot, linkState });
  t.teardown(() => h.close());
  const first = await h.kubelet.waitForHealthy('intel.com/vfs', 3);
  t.ok(linkState.reads.has('ens1f0'), 'VF health follows the PF netdev');
  t.notOk(linkState.reads.has('ens1f0v0'), "a VF's own (admin-down when free) netdev is not consulted");
  linkState.set('ens1f0', false);
  const down = await h.kubelet.waitFor('intel.com/vfs', (v) => !!v && v.devices.length === 3 && healthyCount(v.devices) === 0, 1000, 'all Unhealthy');
  t.equal(down!.generation, first!.generation, 'sent on the same stream, no re-registration');
  t.equal(healthyCount(h.kubelet.resource('intel.com/whole')?.devices), 1, 'the other pool is unaffected');
  linkState.set('ens1f0', true);
  await h.kubelet.waitForHealthy('intel.com/vfs', 3, 1000);
  linkState.set('eth9', false);
  await h.kubelet.waitFor('intel.com/whole', (v) => healthyCount(v?.devices) === 0 && v?.devices.length === 1, 1000, 'device with its own netdev down');
  linkState.set('eth9', null);
  await h.kubelet.waitForHealthy('intel.com/whole', 1, 1000);
  t.pass('unknown link state counts as healthy');
});

t.test('real discovery + sysfs operstate source on a fake sysfs: PF down → VFs Unhealthy within 1 s; VFs removed → gone', async (t) => {
  const host = buildFakeHost({ pci: intelE810({ numVfs: 4, vfioVfs: [3] }) });
  t.teardown(() => host.cleanup());
  const configPath = join(host.root, 'config.json');
  writeFileSync(configPath, JSON.stringify({ resourceList: [{ resourceName: 'e810', selectors: { vendors: ['8086'], devices: ['1889'] } }] }));
  const linkState = new SysfsLinkStateSource({ sysfsRoot: host.sysfsRoot, pollIntervalMs: 100 });
  const h = await startHarness({
    snapshot: fakeSnapshot([]),
    linkState,
    sysfsRoot: host.sysfsRoot,
    manager: { loadSnapshot: await realDiscovery(host, configPath), hostPollIntervalMs: 100 },
  });
  t.teardown(() => h.close());
  const view = await h.kubelet.waitForHealthy('intel.com/e810', 4);
  t.same(view!.devices.map((d) => d.ID), ['0000:3b:01.0', '0000:3b:01.1', '0000:3b:01.2', '0000:3b:01.3']);
  const operstate = join(host.sysfsRoot, 'class', 'net', 'ens1f0', 'operstate');
  writeFileSync(operstate, 'down\n');
  const started = Date.now();
  await h.kubelet.waitFor('intel.com/e810', (v) => v?.devices.length === 4 && healthyCount(v.devices) === 0, 10_000, 'all Unhealthy, including the vfio-bound VF');
  // How fast is the device-plugin benchmark's question; here the change must be seen at all.
  t.comment(`seen after ${Date.now() - started} ms`);
  writeFileSync(operstate, 'up\n');
  await h.kubelet.waitForHealthy('intel.com/e810', 4, 1000);
  // The admin turns VFs 2 and 3 off: sriov_numvfs changes and the functions vanish.
  for (const [index, address] of [[2, '0000:3b:01.2'], [3, '0000:3b:01.3']] as const) {
    unlinkSync(join(host.sysfsRoot, 'bus', 'pci', 'devices', address));
    unlinkSync(join(host.sysfsRoot, 'devices', 'pci0000:00', '0000:3b:00.0', `virtfn${index}`));
    rmSync(join(host.sysfsRoot, 'devices', 'pci0000:00', address), { recursive: true });
  }
  rmSync(join(host.sysfsRoot, 'class', 'net', 'ens1f0v2'));
  writeFileSync(join(host.sysfsRoot, 'devices', 'pci0000:00', '0000:3b:00.0', 'sriov_numvfs'), '2\n');
  const after = await h.kubelet.waitFor('intel.com/e810', (v) => v?.devices.length === 2 && healthyCount(v.devices) === 2, 2000, 'two VFs left');
  t.equal(after!.generation, view!.generation, 'same connection');
});

t.test('config reload: a pool appears, one empties, an unchanged pool keeps its stream; bad config keeps everything', async (t) => {
  const a = fakeVfs('0000:3b:00.0', 'ens1f0', '3b', 3);
  const b = fakeVfs('0000:5e:00.0', 'ens2f0', '5e', 2);
  const c = fakeVfs('0000:af:00.0', 'ens3f0', 'af', 1);
  const h = await startHarness({ snapshot: fakeSnapshot([{ name: 'a', devices: a }, { name: 'b', devices: b }]) });
  const configPath = join(h.root, 'config.json');
  writeFileSync(configPath, '{}');
  t.teardown(() => h.close());
  const a1 = await h.kubelet.waitForHealthy('intel.com/a', 3);
  await h.kubelet.waitForHealthy('intel.com/b', 2);
  const updatesBefore = a1!.updates;
  await h.kubelet.allocate('pod-b', 'pod-b', 'ns', 'c', 'intel.com/b', 1);
  await h.kubelet.allocate('pod-a', 'pod-a', 'ns', 'c', 'intel.com/a', 1);
  t.equal(readdirSync(h.devinfoDir).length, 2);

  // Pool b empties, c appears, a loses one device.
  h.setSnapshot(fakeSnapshot([{ name: 'a', devices: a.slice(0, 2) }, { name: 'b', devices: [] }, { name: 'c', devices: c }]));
  t.equal(await h.manager.reload('test'), true);
  await h.kubelet.waitForHealthy('intel.com/c', 1);
  const a2 = await h.kubelet.waitFor('intel.com/a', (v) => v?.devices.length === 2, 1000, 'a shrinks');
  t.equal(a2!.generation, a1!.generation, 'pool a was not re-registered');
  t.ok(a2!.connected, 'and its ListAndWatch stream is still open');
  t.ok(a2!.updates > updatesBefore, 'the new list came on that same stream');
  await h.kubelet.waitFor('intel.com/b', (v) => !!v && !v.connected, 1000, 'b disconnected');
  t.notOk(existsSync(join(h.devicePluginDir, 'intel.com_b.sock')), "b's socket is gone");
  t.same([...h.manager.poolServers().keys()].sort(), ['intel.com/a', 'intel.com/c']);
  t.notOk(readdirSync(h.devinfoDir).some((f) => f.startsWith('intel.com-b-')), "b's device-info file removed");

  // A bad config: rejected, logged, nothing changes.
  h.setSnapshot(Object.assign(new Error('invalid device plugin config'), { problems: [{ file: configPath, path: 'resourceList[0].resourceName', message: 'must match ^[a-zA-Z0-9_-]+$' }] }));
  t.equal(await h.manager.reload('test'), false);
  t.ok((h.logger.lines ?? []).some((l) => l.includes(`config rejected: ${configPath}: resourceList[0].resourceName: must match`)), 'the problem is logged with file and JSON path');
  t.same([...h.manager.poolServers().keys()].sort(), ['intel.com/a', 'intel.com/c']);
  t.equal(h.kubelet.resource('intel.com/a')!.generation, a1!.generation);
});

t.test('a config file change triggers the reload (fs.watch)', async (t) => {
  const a = fakeVfs('0000:3b:00.0', 'ens1f0', '3b', 2);
  const dir = mkdtempSync(join(tmpdir(), 'npx-dp-cfg-'));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, '1');
  const h = await startHarness({ snapshot: fakeSnapshot([{ name: 'a', devices: a }]), manager: { watchFiles: [configPath], configDebounceMs: 20 } });
  t.teardown(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await h.kubelet.waitForHealthy('intel.com/a', 2);
  h.setSnapshot(fakeSnapshot([{ name: 'a', devices: a }, { name: 'new', devices: fakeVfs('0000:af:00.0', 'ens3f0', 'af', 3) }]));
  writeFileSync(`${configPath}.tmp`, '2');
  renameSync(`${configPath}.tmp`, configPath); // editors and ConfigMaps replace the file
  await h.kubelet.waitForHealthy('intel.com/new', 3, 2000);
  t.pass('new pool served after the file changed');
});
