// The real `nicplex deviceplugin` process against the kubelet stand-in on a fake sysfs: serves,
// allocates, reloads on SIGHUP and on a config edit, and on SIGTERM removes its sockets and
// device-info files and exits 0. A bad config at start exits 1 naming the file and JSON path.
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFakeHost } from '../helpers/fake-sysfs.js';
import { KubeletStandin } from '../helpers/kubelet-standin.js';
import { intelE810, intelX710 } from '../helpers/nic-models.js';
import { spawnDevicePlugin as runPlugin } from '../helpers/dp-cli.js';

function setup(t: Test) {
  const host = buildFakeHost({ pci: [...intelE810({ numVfs: 4 }), ...intelX710({ numVfs: 2 })] });
  t.teardown(() => host.cleanup());
  const dpDir = join(host.root, 'kubelet', 'device-plugins');
  const devinfoDir = join(host.root, 'devinfo');
  mkdirSync(dpDir, { recursive: true });
  const configPath = join(host.root, 'config.json');
  const args = [
    '--config', configPath, '--sysfs-root', host.sysfsRoot, '--proc-root', host.procRoot, '--dev-root', host.devRoot,
    '--device-plugin-dir', dpDir, '--devinfo-dir', devinfoDir, '--pci-ids', 'none', '--log-level', 'debug',
  ];
  return { host, dpDir, devinfoDir, configPath, args };
}

t.test('serves, reloads on SIGHUP and on file edits, and SIGTERM cleans up and exits 0', async (t) => {
  const { dpDir, devinfoDir, configPath, args } = setup(t);
  writeFileSync(configPath, JSON.stringify({ resourceList: [{ resourceName: 'e810', selectors: { devices: ['1889'] } }] }));
  const kubelet = await KubeletStandin.start({ dir: dpDir });
  t.teardown(() => kubelet.stop());
  const plugin = runPlugin(args);
  t.teardown(() => {
    if (plugin.child.exitCode === null) plugin.child.kill('SIGKILL');
  });
  await kubelet.waitForHealthy('intel.com/e810', 4, 10_000).catch((error) => {
    t.comment(plugin.stderr());
    throw error;
  });
  const allocation = await kubelet.allocate('uid', 'pod', 'ns', 'c', 'intel.com/e810', 2);
  t.equal(readdirSync(devinfoDir).length, 2, 'device-info files written');
  t.equal(allocation.deviceIds.length, 2);

  // Edit the config: a second pool for the X710 VFs, picked up by the file watcher.
  writeFileSync(configPath, JSON.stringify({ resourceList: [
    { resourceName: 'e810', selectors: { devices: ['1889'] } },
    { resourceName: 'x710', resourcePrefix: 'example.com', selectors: { devices: ['154c'] } },
  ] }));
  await kubelet.waitForHealthy('example.com/x710', 2, 5000);
  t.equal(kubelet.registrations.filter((r) => r.resourceName === 'intel.com/e810').length, 1, 'e810 kept its registration');

  // SIGHUP with an invalid config: rejected, both pools stay.
  writeFileSync(configPath, JSON.stringify({ resourceList: [{ resourceName: 'bad.name', selectors: {} }] }));
  plugin.child.kill('SIGHUP');
  const deadline = Date.now() + 5000;
  while (!/config rejected/.test(plugin.stderr()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.match(plugin.stderr(), /"level":50,[^\n]*"msg":"config rejected: .*config\.json: resourceList\[0\]\.resourceName/, 'the errors are logged at level error with file and path');
  t.match(plugin.stderr(), /keeping the 2 running pools unchanged/);
  t.equal(kubelet.healthyIds('intel.com/e810').length, 4);
  t.ok(kubelet.resource('example.com/x710')?.connected);

  plugin.child.kill('SIGTERM');
  const { code } = await plugin.exit;
  t.equal(code, 0, 'exit 0 on SIGTERM');
  const left = readdirSync(dpDir).filter((n) => n.endsWith('.sock'));
  t.same(left, ['kubelet.sock'], 'our sockets are removed');
  t.same(readdirSync(devinfoDir), [], 'device-info files are removed');
  const lines = plugin.stderr().split('\n').filter((l) => l).map((l) => JSON.parse(l) as { level?: unknown; time?: unknown; msg?: unknown; component?: unknown });
  t.ok(lines.length > 0 && lines.every((l) => typeof l.level === 'number' && typeof l.time === 'string' && typeof l.msg === 'string' && l.component === 'nicplex-deviceplugin'), 'one JSON object per event with a level, a time and the component');
});

t.test('an invalid config at start: exit 1, errors name the file and path, nothing served', async (t) => {
  const { dpDir, configPath, args } = setup(t);
  writeFileSync(configPath, JSON.stringify({ resourceList: [{ resourceName: 'junk.net.0' }] }));
  const plugin = runPlugin(args);
  const { code } = await plugin.exit;
  t.equal(code, 1);
  t.match(plugin.stderr(), /config\.json: resourceList\[0\]\.resourceName/);
  t.notOk(existsSync(join(dpDir, 'intel.com_junk.net.0.sock')));
});
