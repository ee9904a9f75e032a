// `nicplex discover` as a user runs it: the compiled CLI against fake sysfs trees.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildFakeHost, type FakeHostDescription } from '../helpers/fake-sysfs.js';
import { intelE810, nvmeDrive, pfWithoutDriver, virtioNet } from '../helpers/nic-models.js';
import { cliPath } from '../helpers/paths.js';

function fakeHostWithConfig(t: Test, description: FakeHostDescription, config: unknown): { args: string[]; configPath: string } {
  const host = buildFakeHost(description);
  t.teardown(host.cleanup);
  const configPath = join(host.root, 'config.json');
  writeFileSync(configPath, typeof config === 'string' ? config : JSON.stringify(config));
  return { configPath, args: ['discover', '--config', configPath, '--sysfs-root', host.sysfsRoot, '--proc-root', host.procRoot, '--pci-ids', 'none'] };
}

const host: FakeHostDescription = {
  pci: [...intelE810({ numVfs: 4, vfioVfs: [3] }), virtioNet('0000:00:03.0', 'eth0'), pfWithoutDriver('0000:af:00.0'), nvmeDrive()],
  ipv4DefaultRoutes: ['eth0'],
};
const config = {
  resourceList: [
    { resourceName: 'e810_vfs', selectors: { drivers: ['iavf'] } },
    { resourceName: 'e810_all', selectors: { vendors: ['8086'], devices: ['1889'] } },
    { resourceName: 'virtio', resourcePrefix: 'nicplex.io', selectors: { vendors: ['1af4'] } },
    { resourceName: 'unused', selectors: { vendors: ['15b3'] } },
  ],
};

t.test('JSON output: every network device, every configured pool (empty ones too), sorted device lists', async (t) => {
  const { args } = fakeHostWithConfig(t, host, config);
  const output = JSON.parse(execFileSync(process.execPath, [cliPath, ...args, '--output', 'json'], { encoding: 'utf8' })) as {
    devices: Array<{ pciAddress: string; pool: string | null; excludedBecause: string | null; vfIndex: number }>;
    pools: Array<{ resourceName: string; devices: string[] }>;
  };
  t.same(output.pools.map((pool) => [pool.resourceName, pool.devices]), [
    ['intel.com/e810_vfs', ['0000:3b:01.0', '0000:3b:01.1', '0000:3b:01.2']],
    ['intel.com/e810_all', ['0000:3b:01.3']],
    ['nicplex.io/virtio', []],
    ['intel.com/unused', []],
  ]);
  t.same(output.devices.map((device) => device.pciAddress), ['0000:00:03.0', '0000:3b:00.0', '0000:3b:01.0', '0000:3b:01.1', '0000:3b:01.2', '0000:3b:01.3', '0000:af:00.0'], 'the NVMe drive is not listed');
  t.equal(Object.keys(output.devices[0] ?? {})[0], 'pciAddress');
  const reasons = Object.fromEntries(output.devices.map((device) => [device.pciAddress, device.excludedBecause]));
  t.equal(reasons['0000:00:03.0'], 'default route');
  t.equal(reasons['0000:3b:00.0'], 'PF with VFs enabled');
  t.equal(reasons['0000:af:00.0'], 'no driver bound');
});

t.test('table output: one row per network device with its pool or why it is in none, then the pools', async (t) => {
  const { args } = fakeHostWithConfig(t, host, config);
  const table = execFileSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });
  const lines = table.split('\n');
  t.match(lines[0], /^PCI ADDRESS\s+ID\s+VENDOR\s+DEVICE\s+DRIVER\s+PF\s+VF\s+NETDEV\s+NUMA\s+IOMMU\s+POOL \(or why none\)$/);
  const row = (address: string) => lines.find((line) => line.startsWith(address)) ?? '';
  t.match(row('0000:00:03.0'), /1af4:1041 .*virtio-pci .* eth0 .*none: default route$/);
  t.match(row('0000:3b:01.1'), /8086:1889 .*iavf\s+0000:3b:00\.0\s+1\s+ens1f0v1\s+0\s+42\s+intel\.com\/e810_vfs$/);
  t.match(row('0000:3b:01.3'), /vfio-pci\s+0000:3b:00\.0\s+3\s+-\s+.*intel\.com\/e810_all$/);
  t.match(row('0000:3b:00.0'), /none: PF with VFs enabled$/);
  t.match(row('0000:af:00.0'), /none: no driver bound$/);
  t.match(table, /^intel\.com\/unused\s+netDevice\s+0\s+-$/m);
  t.match(table, /note: 3 device\(s\) also matched intel\.com\/e810_all, which skip them \(claimed by earlier pool intel\.com\/e810_vfs\): 0000:3b:01\.0, 0000:3b:01\.1, 0000:3b:01\.2$/m);
  t.match(table, /note: 1 other PCI device\(s\) are not network devices/);
});

t.test('a bad config exits non-zero, lists every error with file and JSON path, and scans nothing', async (t) => {
  const { args, configPath } = fakeHostWithConfig(t, host, { resourceList: [{ resourceName: 'bad.name', selectors: { pfNames: ['ens1#x'] } }, { resourceName: 'ok', selectors: { vendor: ['8086'] } }] });
  const result = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });
  t.equal(result.status, 1);
  t.equal(result.stdout, '');
  t.match(result.stderr, `error: ${configPath}: resourceList[0].resourceName: "bad.name" may only contain`);
  t.match(result.stderr, `error: ${configPath}: resourceList[0].selectors.pfNames[0]: "ens1#x"`);
});

t.test('warnings go to stderr and do not change the exit code', async (t) => {
  const { args, configPath } = fakeHostWithConfig(t, host, { resourceList: [{ resourceName: 'sriov-net', selectors: { vendor: ['8086'] } }] });
  const result = spawnSync(process.execPath, [cliPath, ...args, '--output', 'json'], { encoding: 'utf8' });
  t.equal(result.status, 0);
  t.match(result.stderr, `warning: ${configPath}: resourceList[0].selectors.vendor: unknown key "vendor" is ignored; did you mean "vendors"?`);
  t.match(result.stderr, 'PCIDEVICE_');
  t.ok(JSON.parse(result.stdout), 'stdout is still clean JSON');
});

t.test('a missing config file and a wrong sysfs root are clear errors', async (t) => {
  const missing = spawnSync(process.execPath, [cliPath, 'discover', '--config', '/nonexistent/config.json'], { encoding: 'utf8' });
  t.equal(missing.status, 1);
  t.match(missing.stderr, '/nonexistent/config.json: file not found');
  const { configPath } = fakeHostWithConfig(t, {}, config);
  const noSysfs = spawnSync(process.execPath, [cliPath, 'discover', '--config', configPath, '--sysfs-root', '/nonexistent-sys'], { encoding: 'utf8' });
  t.equal(noSysfs.status, 1);
  t.match(noSysfs.stderr, 'sysfs root /nonexistent-sys has no bus/ directory');
});

t.test('--resource-prefix sets the prefix of pools that have none', async (t) => {
  const { args } = fakeHostWithConfig(t, host, config);
  const output = JSON.parse(execFileSync(process.execPath, [cliPath, ...args, '--output', 'json', '--resource-prefix', 'example.com'], { encoding: 'utf8' })) as { pools: Array<{ resourceName: string }> };
  t.same(output.pools.map((pool) => pool.resourceName), ['example.com/e810_vfs', 'example.com/e810_all', 'nicplex.io/virtio', 'example.com/unused']);
});
