// Every file under config/examples parses with nicplex's own parsers, without warnings: device-plugin
// config.json files, Multus confs, Multus thick's daemon-config.json, and NADs (down to the built-in
// delegate's config). A file no parser claims fails the test, so a new example cannot go unchecked.
import t from 'tap';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseDevicePluginConfig } from '../../config/deviceplugin-config.js';
import { parseHostDeviceConf } from '../../config/delegates/host-device.js';
import { parseIpvlanConf } from '../../config/delegates/ipvlan.js';
import { parseSriovConf } from '../../config/delegates/sriov.js';
import { loadMultusConfigFile, parseMultusNetConf } from '../../config/multus-config.js';
import { toConfList } from '../../cni/delegate-conf.js';
import { loadNadDirectory } from '../../cni/standalone.js';
import { servedConf } from '../../deploy/agent.js';
import type { AgentArgs } from '../../deploy/agent-cli.js';
import { tempDir } from '../helpers/cni-tempdir.js';
import { repoRoot } from '../helpers/paths.js';

const examples = join(repoRoot, 'config', 'examples');
const files = (readdirSync(examples, { recursive: true }) as string[]).map((name) => join(examples, name)).filter((path) => statSync(path).isFile()).sort();
const checked = new Set<string>();

const builtinParsers: Record<string, (raw: Record<string, unknown>) => unknown> = {
  'host-device': parseHostDeviceConf,
  ipvlan: parseIpvlanConf,
  sriov: (raw) => parseSriovConf(raw),
};

t.test('device-plugin configs (sriov-network-device-plugin config.json)', async (t) => {
  for (const path of files.filter((file) => /\/deviceplugin-[^/]+\.json$/.test(file))) {
    const { config, warnings } = parseDevicePluginConfig(readFileSync(path, 'utf8'), path, { defaultPrefix: 'intel.com' });
    t.same(warnings, [], `${relative(examples, path)}: no warnings`);
    t.ok(config.resourceList.length > 0, `${relative(examples, path)}: at least one resource`);
    checked.add(path);
  }
});

t.test('the ENA config selects the ENA VF by both its IDs (ec20, and ec21 with LLQ) and by driver', async (t) => {
  const { config } = parseDevicePluginConfig(readFileSync(join(examples, 'deviceplugin-aws-ena.json'), 'utf8'), 'ena', { defaultPrefix: 'intel.com' });
  t.same(config.resourceList.map((resource) => [resource.resourceName, resource.selectors.map((selector) => [selector.vendors, selector.devices, selector.drivers])]), [
    ['ena_netdevice', [[['1d0f'], ['ec20', 'ec21'], ['ena']]]],
    ['ena_dpdk', [[['1d0f'], ['ec20', 'ec21'], ['vfio-pci']]]],
  ]);
});

t.test('Multus confs (00-multus.conf, .conflist)', async (t) => {
  for (const path of files.filter((file) => /\/multus-[^/]+\.conf(list)?$/.test(file))) {
    const { conf, warnings } = loadMultusConfigFile(path);
    t.same(warnings, [], `${relative(examples, path)}: no warnings`);
    t.ok(conf.delegates.length > 0 || conf.clusterNetwork, `${relative(examples, path)}: names a cluster network`);
    checked.add(path);
  }
});

t.test("Multus thick's daemon-config.json, read by nicplex agent --multus-daemon-config", async (t) => {
  const path = join(examples, 'daemon-config.json');
  const served = servedConf({ 'multus-daemon-config': path, 'socket-dir': '/run/nicplex' } as AgentArgs);
  t.same(served.warnings, [], 'no warnings');
  t.same([served.type, served.socketDir, served.socketName], ['multus-shim', '/host/run/multus/', 'multus.sock'], 'the shim and socket Multus thick uses');
  t.same([served.install?.confDir, served.install?.fileName, served.install?.watchDirs], ['/host/etc/cni/net.d', '00-multus.conf', ['/host/etc/cni/net.d']], 'the conf goes where Multus writes it');
  checked.add(path);
});

t.test('NADs, down to the built-in delegate configs', async (t) => {
  const dir = join(examples, 'nads');
  const nads = await loadNadDirectory(dir);
  const nadFiles = files.filter((file) => file.startsWith(`${dir}/`));
  t.equal(nads.size, nadFiles.length, 'one NAD per file');
  for (const nad of nads.values()) {
    const list = toConfList(JSON.parse(nad.config!), nad.name);
    t.equal(list.name, nad.name, `${nad.name}: the config is named after the NAD`);
    for (const plugin of list.plugins) {
      const parse = builtinParsers[String(plugin['type'])];
      if (!parse) continue;
      // A device-backed NAD gets its device at ADD time, as runtimeConfig.deviceID (the PCI address).
      const declared = (plugin['capabilities'] as Record<string, unknown> | undefined)?.['deviceID'] === true;
      const raw = declared && nad.resourceName ? { ...plugin, runtimeConfig: { deviceID: '0000:00:06.0' } } : plugin;
      t.doesNotThrow(() => parse(raw), `${nad.name}: the ${String(plugin['type'])} config is valid`);
    }
  }
  t.ok(nads.get('default/ena-host-device')?.resourceName === 'amazon.com/ena_netdevice', 'the ENA host-device NAD takes the ENA pool');
  for (const file of nadFiles) checked.add(file);
});

t.test("the demo's conf and NADs (deploy/demo/) parse too, ipvlan included, which this host's kernel may not run", async (t) => {
  const demo = join(repoRoot, 'deploy', 'demo');
  const state = tempDir('npx-demo-conf-');
  const fill = (path: string) => readFileSync(path, 'utf8').replaceAll('@STATE@', state);
  const { conf, warnings } = parseMultusNetConf(JSON.parse(fill(join(demo, 'nicplex.conf'))), 'deploy/demo/nicplex.conf');
  t.same(warnings, [], 'the conf has no warnings');
  t.same([conf.cniDir, conf.delegateStateDir, conf.standalone?.nadDir], [`${state}/cache`, `${state}/delegates`, `${state}/nads`], 'all state under the demo\'s directory');
  const nadDir = join(state, 'nads');
  mkdirSync(nadDir);
  for (const file of readdirSync(join(demo, 'nads'))) writeFileSync(join(nadDir, file), fill(join(demo, 'nads', file)));
  const nads = await loadNadDirectory(nadDir);
  t.same([...nads.keys()].sort(), ['default/hostdev-a', 'default/hostdev-b', 'default/ipvlan', 'default/macvlan']);
  t.ok(conf.standalone?.devicePools[nads.get('default/macvlan')!.resourceName!], 'the macvlan NAD\'s resource is a standalone pool of the conf');
  for (const nad of nads.values()) {
    const list = toConfList(JSON.parse(nad.config!), nad.name);
    for (const plugin of list.plugins) {
      t.equal((plugin['ipam'] as { dataDir?: string }).dataDir, `${state}/ipam`, `${nad.name}: IPAM leases under the demo's directory`);
      const parse = builtinParsers[String(plugin['type'])];
      if (parse) t.doesNotThrow(() => parse(plugin), `${nad.name}: the ${String(plugin['type'])} config is valid`);
    }
  }
});

t.test('every example file was checked by one of the tests above', async (t) => {
  t.same(files.filter((file) => !checked.has(file)).map((file) => relative(examples, file)), []);
});
