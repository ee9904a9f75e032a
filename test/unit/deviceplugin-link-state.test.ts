// The sysfs operstate link source, the health rule, and the kubelet's resource-name check.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SysfsLinkStateSource } from '../../deviceplugin/link-state.js';
import { healthNetdevs, isDeviceHealthy } from '../../deviceplugin/server/device-health.js';
import { isExtendedResourceName } from '../../deviceplugin/server/resource-name.js';
import { fakeDevice } from '../helpers/dp-snapshot.js';
import { FakeLinkStateSource } from '../helpers/fake-link-state.js';

function sysfsWith(netdevs: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'npx-linkstate-'));
  for (const [name, state] of Object.entries(netdevs)) {
    mkdirSync(join(root, 'class', 'net', name), { recursive: true });
    writeFileSync(join(root, 'class', 'net', name, 'operstate'), `${state}\n`);
  }
  return root;
}

t.test('read: up / not up / unknown; unsafe names are unknown', async (t) => {
  const root = sysfsWith({ eth1: 'up', eth2: 'down', eth3: 'lowerlayerdown' });
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const source = new SysfsLinkStateSource({ sysfsRoot: root });
  t.teardown(() => source.close());
  t.equal(source.read('eth1'), true);
  t.equal(source.read('eth2'), false);
  t.equal(source.read('eth3'), false);
  t.equal(source.read('missing0'), null);
  t.equal(source.read('../../etc'), null);
  t.equal(source.read('..'), null);
});

t.test('watch reports a change within 1 s, and stops after unsubscribe', async (t) => {
  const root = sysfsWith({ eth1: 'up' });
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const source = new SysfsLinkStateSource({ sysfsRoot: root, pollIntervalMs: 50 });
  t.teardown(() => source.close());
  source.read('eth1');
  const seen: string[] = [];
  const unsubscribe = source.watch((netdev) => seen.push(`${netdev}:${source.read(netdev)}`));
  const started = Date.now();
  writeFileSync(join(root, 'class', 'net', 'eth1', 'operstate'), 'down\n');
  while (seen.length === 0 && Date.now() - started < 1000) await new Promise((r) => setTimeout(r, 10));
  t.same(seen, ['eth1:false'], `noticed in ${Date.now() - started} ms`);
  unsubscribe();
  writeFileSync(join(root, 'class', 'net', 'eth1', 'operstate'), 'up\n');
  await new Promise((r) => setTimeout(r, 150));
  t.same(seen, ['eth1:false'], 'no callbacks after unsubscribe');
});

t.test('health: VFs follow the PF netdev, others their own; unknown is healthy; vanished is not', async (t) => {
  const links = new FakeLinkStateSource({ pf0: false, vf0: true, eth5: false });
  const vf = fakeDevice('0000:3b:02.0', { pfAddress: '0000:3b:00.0', pfNetdev: 'pf0', netdevs: ['vf0'] });
  const vfioVf = fakeDevice('0000:3b:02.1', { pfAddress: '0000:3b:00.0', pfNetdev: 'pf0', netdevs: [], driver: 'vfio-pci' });
  const whole = fakeDevice('0000:00:05.0', { netdevs: ['eth5'] });
  const noNetdev = fakeDevice('0000:00:06.0', { netdevs: [] });
  t.same(healthNetdevs(vf), ['pf0']);
  t.same(healthNetdevs(whole), ['eth5']);
  t.equal(isDeviceHealthy(vf, links, new Set()), false);
  t.equal(isDeviceHealthy(vfioVf, links, new Set()), false);
  t.equal(isDeviceHealthy(whole, links, new Set()), false);
  t.equal(isDeviceHealthy(noNetdev, links, new Set()), true);
  links.set('pf0', null);
  t.equal(isDeviceHealthy(vf, links, new Set()), true, 'unreadable PF state is not "down"');
  t.equal(isDeviceHealthy(vf, links, new Set(['0000:3b:02.0'])), false, 'a vanished device is unhealthy');
});

t.test("the kubelet's IsExtendedResourceName", async (t) => {
  for (const name of ['intel.com/sriov_netdevice', 'openshift.io/mlx5_vf', 'example.com/a-b.c_d']) t.ok(isExtendedResourceName(name), name);
  for (const name of ['sriov', 'kubernetes.io/x', 'requests.intel.com/x', 'Intel.com/x', 'intel.com/-x', 'intel.com/a/b', `intel.com/${'x'.repeat(64)}`]) {
    t.notOk(isExtendedResourceName(name), name);
  }
});
