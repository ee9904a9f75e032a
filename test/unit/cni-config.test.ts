// The Multus-format config loader and the example files.
import t from 'tap';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadMultusConfigFile, parseMultusNetConf, MULTUS_DEFAULTS } from '../../config/multus-config.js';
import { repoRoot } from '../helpers/paths.js';
import { podDevicesFromCheckpoint } from '../../cni/pod-devices.js';
import { tempDir } from '../helpers/cni-tempdir.js';

const minimal = { cniVersion: '0.3.1', name: 'multus-cni-network', type: 'multus', delegates: [{ cniVersion: '0.3.1', name: 'cbr0', type: 'bridge' }] };

t.test('defaults, namespace isolation, globalNamespaces split and trimmed, readiness and logging overrides', async (t) => {
  const { conf } = parseMultusNetConf(minimal, 'test');
  t.same([conf.globalNamespaces, conf.systemNamespaces, conf.multusNamespace, conf.namespaceIsolation, conf.confDir, conf.cniDir, conf.binDir, conf.logLevel, conf.readinessIndicatorFile, conf.readinessTimeoutSeconds],
    [['default'], ['kube-system'], 'kube-system', false, MULTUS_DEFAULTS.confDir, MULTUS_DEFAULTS.cniDir, '/opt/cni/bin', 'panic', undefined, 45]);
  const custom = parseMultusNetConf({ ...minimal, namespaceIsolation: true, globalNamespaces: ' a, b ,,c', readinessindicatorfile: '/run/ready', logLevel: 'DEBUG', logFile: '/var/log/x.log' }, 'test').conf;
  t.same([custom.namespaceIsolation, custom.globalNamespaces, custom.readinessIndicatorFile, custom.logLevel, custom.logFile], [true, ['a', 'b', 'c'], '/run/ready', 'debug', '/var/log/x.log']);
});

t.test('errors name the source, the JSON path and the expectation; unknown keys warn with the nearest known key', async (t) => {
  let message = '';
  try { parseMultusNetConf({ ...minimal, namespaceIsolation: 'yes', cniDir: 'relative', logLevel: 'loud' }, '/etc/cni/net.d/00-multus.conf'); } catch (error) { message = (error as Error).message; }
  t.match(message, '/etc/cni/net.d/00-multus.conf: $.namespaceIsolation: expected true or false, got "yes"');
  t.match(message, '/etc/cni/net.d/00-multus.conf: $.cniDir: expected an absolute path, got "relative"');
  t.match(message, '/etc/cni/net.d/00-multus.conf: $.logLevel: expected one of debug, verbose, error, panic, got "loud"');
  t.throws(() => parseMultusNetConf({ cniVersion: '1.0.0', name: 'x', type: 'multus' }, 'f'), /set either "clusterNetwork".*or "delegates"/);
  t.throws(() => parseMultusNetConf({ ...minimal, delegates: [{ name: 'x' }] }, 'f'), /\$\.delegates\[0\]: expected a plugin config with "type"/);
  const { warnings } = parseMultusNetConf({ ...minimal, namespaceIsolaton: true, allowTryDeleteOnErr: true }, 'f');
  t.match(warnings[0], /\$\.namespaceIsolaton: unknown key, ignored \(did you mean "namespaceIsolation"\?\)/);
  t.match(warnings[1], /allowTryDeleteOnErr: unknown key/);
  const both = parseMultusNetConf({ ...minimal, clusterNetwork: 'calico' }, 'f');
  t.same(both.conf.delegates, [], 'clusterNetwork wins over delegates');
  t.match(both.warnings.join('\n'), /delegates: ignored because clusterNetwork is set/);
  t.equal(parseMultusNetConf({ ...minimal, cniConf: '/etc/alt' }, 'f').conf.confDir, '/etc/alt', 'the thin entrypoint\'s "cniConf" key is honoured (MU bug)');
});

t.test('existing Multus files load unchanged, both .conf and .conflist shapes, plus our examples', async (t) => {
  const examples = join(repoRoot, 'config', 'examples');
  const files = readdirSync(examples).filter((name) => name.startsWith('multus-'));
  t.ok(files.length >= 5);
  for (const file of files) {
    const { conf, warnings } = loadMultusConfigFile(join(examples, file));
    t.same(warnings, [], `${file} has no unknown keys`);
    t.ok(conf.delegates.length > 0 || conf.clusterNetwork, `${file} names a cluster network`);
  }
  const list = loadMultusConfigFile(join(examples, 'multus-thin.conflist')).conf;
  t.equal(list.cniVersion, '1.0.0', 'the list\'s cniVersion is injected');
  t.equal(list.name, 'multus-cni-network');
  const dir = tempDir('npx-cniconf-');
  writeFileSync(join(dir, 'bad.conf'), '{"cniVersion": ');
  t.throws(() => loadMultusConfigFile(join(dir, 'bad.conf')), /bad\.conf: \$: not valid JSON/);
});

t.test('checkpoint device IDs are sorted per resource (both formats); bad path or JSON is an error', async (t) => {
  const dir = tempDir('npx-ckpt-');
  const file = join(dir, 'kubelet_internal_checkpoint');
  writeFileSync(file, JSON.stringify({ Data: { PodDeviceEntries: [
    { PodUID: 'u1', ContainerName: 'a', ResourceName: 'x/vf', DeviceIDs: { '-1': ['0000:03:02.3', '0000:03:02.0'] }, AllocResp: '' },
    { PodUID: 'u1', ContainerName: 'b', ResourceName: 'x/vf', DeviceIDs: ['0000:03:02.1'], AllocResp: '' },
    { PodUID: 'u2', ContainerName: 'a', ResourceName: 'x/vf', DeviceIDs: { 0: ['0000:09:00.0'] }, AllocResp: '' },
  ], RegisteredDevices: {} }, Checksum: 1 }));
  t.same([...podDevicesFromCheckpoint(file, 'u1')], [['x/vf', ['0000:03:02.0', '0000:03:02.1', '0000:03:02.3']]]);
  t.same([...podDevicesFromCheckpoint(file, 'nobody')], []);
  t.throws(() => podDevicesFromCheckpoint(join(dir, 'missing'), 'u1'), /kubelet checkpoint .*missing/);
  writeFileSync(file, '{bad');
  t.throws(() => podDevicesFromCheckpoint(file, 'u1'), /kubelet checkpoint/);
});
