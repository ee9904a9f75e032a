import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadDevicePluginConfig, parseDevicePluginConfig, type ConfigProblem } from '../../config/deviceplugin-config.js';
import { editDistance, nearestKey } from '../../config/nearest-key.js';

const options = { defaultPrefix: 'intel.com' };

function parse(document: unknown) {
  return parseDevicePluginConfig(JSON.stringify(document), 'config.json', options);
}

/** The problems a ConfigError carries, or fails the test when parsing succeeds. */
function problemsOf(document: unknown | string): ConfigProblem[] {
  try {
    parseDevicePluginConfig(typeof document === 'string' ? document : JSON.stringify(document), 'config.json', options);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

t.test('a missing config file is an error naming the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nicplex-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'absent.json');
  const error = await loadDevicePluginConfig(path, options).then(() => null, (caught: unknown) => caught);
  t.ok(error instanceof ConfigError, 'rejects with a ConfigError');
  const problem = (error as ConfigError).problems[0];
  t.equal(problem?.file, path);
  t.match(problem?.message, /file not found/);
});

t.test('non-JSON config is an error with line and column', async (t) => {
  const problems = problemsOf('{\n  "resourceList": [\n    { "resourceName": "a", }\n  ]\n}');
  t.equal(problems.length, 1);
  t.equal(problems[0]?.file, 'config.json');
  t.match(problems[0]?.message, /not valid JSON at line 3, column \d+/);
});

t.test('a valid config loads every resourceList entry with defaults applied', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nicplex-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify({
    resourceList: [
      { resourceName: 'intel_sriov_netdevice', selectors: { vendors: ['8086'], devices: ['154c', '10ed'], drivers: ['i40evf', 'iavf'] } },
      { resourceName: 'intel_sriov_dpdk', resourcePrefix: 'example.org', excludeTopology: true, selectors: { drivers: ['vfio-pci'] }, additionalInfo: { '*': { mtu: '9000' } } },
      { resourceName: 'fpga', deviceType: 'accelerator', selectors: { vendors: ['8086'], devices: ['0d90'] } },
    ],
  }));
  const { config, warnings } = await loadDevicePluginConfig(path, options);
  t.same(warnings, []);
  t.same(config.resourceList.map((resource) => resource.fullName), ['intel.com/intel_sriov_netdevice', 'example.org/intel_sriov_dpdk', 'intel.com/fpga']);
  t.same(config.resourceList.map((resource) => resource.deviceType), ['netDevice', 'netDevice', 'accelerator']);
  t.same(config.resourceList.map((resource) => resource.excludeTopology), [false, true, false]);
  t.same(config.resourceList[0]?.selectors[0]?.devices, ['154c', '10ed']);
  t.same(config.resourceList[1]?.additionalInfo, { '*': { mtu: '9000' } });
});

t.test('the list form of selectors loads one selector object per element', async (t) => {
  const { config } = parse({
    resourceList: [{ resourceName: 'mixed', selectors: [{ vendors: ['8086'], drivers: ['iavf'] }, { vendors: ['15b3'], isRdma: true }, {}] }],
  });
  const selectors = config.resourceList[0]?.selectors ?? [];
  t.equal(selectors.length, 3);
  t.same(selectors[0]?.drivers, ['iavf']);
  t.equal(selectors[1]?.isRdma, true);
  t.same(selectors[2]?.vendors, []);
});

t.test('the --resource-prefix default applies only to pools without resourcePrefix', async (t) => {
  const { config } = parseDevicePluginConfig(
    JSON.stringify({ resourceList: [{ resourceName: 'a', selectors: {} }, { resourceName: 'b', resourcePrefix: 'nvidia.com', selectors: {} }] }),
    'c.json',
    { defaultPrefix: 'example.com' },
  );
  t.same(config.resourceList.map((resource) => resource.fullName), ['example.com/a', 'nvidia.com/b']);
});

t.test('a resource name with invalid characters (junk.net.0) makes the config invalid', async (t) => {
  const problems = problemsOf({ resourceList: [{ resourceName: 'junk.net.0', selectors: {} }] });
  t.equal(problems.length, 1);
  t.equal(problems[0]?.path, 'resourceList[0].resourceName');
  t.match(problems[0]?.message, /"junk\.net\.0" may only contain letters, digits, "_" and "-"/);
});

t.test('sriov-net_0 is valid, with a warning that "-" breaks PCIDEVICE_* names', async (t) => {
  const { config, warnings } = parse({ resourceList: [{ resourceName: 'sriov-net_0', selectors: {} }] });
  t.equal(config.resourceList[0]?.fullName, 'intel.com/sriov-net_0');
  t.equal(warnings.length, 1);
  t.equal(warnings[0]?.path, 'resourceList[0].resourceName');
  t.match(warnings[0]?.message, /PCIDEVICE_\*.*prefer "sriov_net_0"/);
});

t.test('a duplicate prefix/name makes the config invalid; the same name under another prefix is fine', async (t) => {
  const problems = problemsOf({
    resourceList: [
      { resourceName: 'sriov', selectors: {} },
      { resourceName: 'sriov', resourcePrefix: 'example.com', selectors: {} },
      { resourceName: 'sriov', resourcePrefix: 'intel.com', selectors: {} },
    ],
  });
  t.equal(problems.length, 1);
  t.equal(problems[0]?.path, 'resourceList[2].resourceName');
  t.match(problems[0]?.message, /duplicate resource "intel\.com\/sriov" \(already defined by resourceList\[0\]\)/);
});

t.test('isRdma and vdpaType in the same selector object are invalid', async (t) => {
  const problems = problemsOf({ resourceList: [{ resourceName: 'x', selectors: { isRdma: true, vdpaType: 'vhost' } }] });
  t.equal(problems.length, 1);
  t.equal(problems[0]?.path, 'resourceList[0].selectors');
  t.match(problems[0]?.message, /isRdma and vdpaType cannot be used in the same selector object/);
});

t.test('isRdma and vdpaType in separate selector objects are valid', async (t) => {
  const { config } = parse({ resourceList: [{ resourceName: 'x', selectors: [{ isRdma: true }, { vdpaType: 'vhost' }] }] });
  t.equal(config.resourceList[0]?.selectors.length, 2);
});

t.test('a second selector object that has both is invalid and named by its index', async (t) => {
  const problems = problemsOf({ resourceList: [{ resourceName: 'x', selectors: [{ isRdma: true }, { isRdma: true, vdpaType: 'virtio' }] }] });
  t.equal(problems.length, 1);
  t.equal(problems[0]?.path, 'resourceList[0].selectors[1]');
});

t.test('an auxNetDevice selector with empty auxTypes or a non-sf type is invalid', async (t) => {
  const empty = problemsOf({ resourceList: [{ resourceName: 'sf', deviceType: 'auxNetDevice', selectors: { vendors: ['15b3'] } }] });
  t.equal(empty[0]?.path, 'resourceList[0].selectors.auxTypes');
  t.match(empty[0]?.message, /needs auxTypes/);
  const wrong = problemsOf({ resourceList: [{ resourceName: 'sf', deviceType: 'auxNetDevice', selectors: { auxTypes: ['sf', 'eth'] } }] });
  t.equal(wrong.length, 1);
  t.equal(wrong[0]?.path, 'resourceList[0].selectors.auxTypes[1]');
  t.match(wrong[0]?.message, /"eth" is not supported/);
  const ok = parse({ resourceList: [{ resourceName: 'sf', deviceType: 'auxNetDevice', selectors: { auxTypes: ['sf'] } }] });
  t.same(ok.config.resourceList[0]?.selectors[0]?.auxTypes, ['sf']);
});

t.test('errors name the file, the JSON path and what was expected, and all of them are reported', async (t) => {
  const problems = problemsOf({
    resourceList: [
      { resourceName: 'a', selectors: {} },
      { resourceName: 'b', selectors: { vendors: '8086' } },
      { resourceName: 'c', selectors: { pfNames: ['ens1f0#0-3', 'ens2f0#1-x'] } },
      { resourceName: 'd', deviceType: 'smartNic', selectors: {} },
      { resourceName: 'e', excludeTopology: 'yes', selectors: [{ drivers: [1] }] },
      { resourceName: 'f' },
    ],
  });
  const byPath = new Map(problems.map((problem) => [problem.path, problem.message]));
  t.ok(problems.every((problem) => problem.file === 'config.json'));
  t.match(byPath.get('resourceList[1].selectors.vendors'), /expected a list of strings, got a single string; write \["8086"\]/);
  t.match(byPath.get('resourceList[2].selectors.pfNames[1]'), /"ens2f0#1-x": "1-x" is not a VF index or range/);
  t.match(byPath.get('resourceList[3].deviceType'), /expected one of netDevice, accelerator, auxNetDevice/);
  t.match(byPath.get('resourceList[4].excludeTopology'), /expected true or false/);
  t.match(byPath.get('resourceList[4].selectors[0].drivers[0]'), /expected a string, got number 1/);
  t.match(byPath.get('resourceList[5].selectors'), /missing: expected a selector object/);
  t.equal(problems.length, 6);
  t.throws(() => parse({ resourceList: [{ resourceName: 'b', selectors: { vendors: '8086' } }] }), /config\.json: resourceList\[0\]\.selectors\.vendors: expected a list of strings/);
});

t.test('the document itself must be an object with a resourceList list', async (t) => {
  t.match(problemsOf([])[0]?.message, /expected a JSON object with a "resourceList" array/);
  t.match(problemsOf({})[0], { path: 'resourceList', message: /missing/ });
  t.match(problemsOf({ resourceList: {} })[0], { path: 'resourceList', message: /expected a list of resource pools/ });
  const { warnings } = parse({ resourceList: [] });
  t.match(warnings[0]?.message, /no pools are configured/);
});

t.test('an unknown key is a warning that suggests the nearest known key', async (t) => {
  const { config, warnings } = parse({
    resourceLsit: [],
    resourceList: [{ resourceName: 'a', resourcePrefx: 'x.io', selectors: { vendor: ['8086'], pfName: ['ens1'], frobnicate: true } }],
  });
  t.equal(config.resourceList.length, 1);
  const byPath = new Map(warnings.map((warning) => [warning.path, warning.message]));
  t.match(byPath.get('resourceLsit'), /unknown key "resourceLsit" is ignored; did you mean "resourceList"\?/);
  t.match(byPath.get('resourceList[0].resourcePrefx'), /did you mean "resourcePrefix"\?/);
  t.match(byPath.get('resourceList[0].selectors.vendor'), /did you mean "vendors"\?/);
  t.match(byPath.get('resourceList[0].selectors.pfName'), /did you mean "pfNames"\?/);
  t.match(byPath.get('resourceList[0].selectors.frobnicate'), /known keys: vendors, devices/);
  // The misspelt keys were ignored, as the reference plugin ignores them: no prefix override, no vendor filter.
  t.equal(config.resourceList[0]?.resourcePrefix, 'intel.com');
  t.same(config.resourceList[0]?.selectors[0]?.vendors, []);
});

t.test('keys match case-insensitively, as Go encoding/json does in the reference plugin', async (t) => {
  const { config, warnings } = parse({ resourceList: [{ ResourceName: 'a', Selectors: { IsRdma: true, Vendors: ['15b3'] } }] });
  t.same(warnings, []);
  t.equal(config.resourceList[0]?.resourceName, 'a');
  t.equal(config.resourceList[0]?.selectors[0]?.isRdma, true);
  t.same(config.resourceList[0]?.selectors[0]?.vendors, ['15b3']);
});

t.test('a selector key that does not apply to the pool device type is ignored with a warning', async (t) => {
  const { config, warnings } = parse({ resourceList: [{ resourceName: 'acc', deviceType: 'accelerator', selectors: { vendors: ['8086'], pfNames: ['ens1'] } }] });
  t.same(config.resourceList[0]?.selectors[0]?.pfNames, []);
  t.match(warnings[0], { path: 'resourceList[0].selectors.pfNames', message: /applies to deviceType netDevice or auxNetDevice, this pool is accelerator/ });
});

t.test('values that can never match are warnings: 0x vendor IDs, bad PCI addresses, several linkTypes', async (t) => {
  const { warnings } = parse({
    resourceList: [{ resourceName: 'a', selectors: { vendors: ['0x8086', '8086'], devices: ['154C'], pciAddresses: ['3b:02.1', 'nope'], linkTypes: ['ether', 'infiniband'], vdpaType: 'vdpa' } }],
  });
  const byPath = new Map(warnings.map((warning) => [warning.path, warning.message]));
  t.match(byPath.get('resourceList[0].selectors.vendors[0]'), /never matches.*write "8086"/);
  t.notOk(byPath.has('resourceList[0].selectors.vendors[1]'));
  t.match(byPath.get('resourceList[0].selectors.devices[0]'), /write "154c"/);
  t.match(byPath.get('resourceList[0].selectors.pciAddresses[1]'), /"nope" never matches/);
  t.match(byPath.get('resourceList[0].selectors.linkTypes'), /single value/);
  t.match(byPath.get('resourceList[0].selectors.vdpaType'), /expected one of vhost, virtio/);
});

t.test('short PCI addresses in pciAddresses and rootDevices are normalised to the 0000: form', async (t) => {
  const { config } = parse({ resourceList: [{ resourceName: 'a', selectors: { pciAddresses: ['3B:02.1'], rootDevices: ['86:00.0#1-2'] } }] });
  const selector = config.resourceList[0]?.selectors[0];
  t.same(selector?.pciAddresses, ['0000:3b:02.1']);
  t.same(selector?.rootDevices, [{ raw: '86:00.0#1-2', name: '0000:86:00.0', vfRanges: [[1, 2]] }]);
});

t.test('pfNames ranges parse into inclusive index ranges; malformed ranges are errors', async (t) => {
  const { config } = parse({ resourceList: [{ resourceName: 'a', selectors: { pfNames: ['ens0', 'ens2f0#1', 'ens2f1#0,3-5,7'] } }] });
  t.same(config.resourceList[0]?.selectors[0]?.pfNames.map((entry) => [entry.name, entry.vfRanges]), [
    ['ens0', null],
    ['ens2f0', [[1, 1]]],
    ['ens2f1', [[0, 0], [3, 5], [7, 7]]],
  ]);
  for (const bad of ['ens1#', 'ens1#5-3', 'ens1#1#2', '#1', 'ens1#1-2-3']) {
    const problems = problemsOf({ resourceList: [{ resourceName: 'a', selectors: { pfNames: [bad] } }] });
    t.equal(problems[0]?.path, 'resourceList[0].selectors.pfNames[0]', bad);
  }
});

t.test('additionalInfo must map "*" or PCI addresses to string values', async (t) => {
  const problems = problemsOf({ resourceList: [{ resourceName: 'a', selectors: {}, additionalInfo: { '*': { mtu: 9000 } } }] });
  t.match(problems[0], { path: 'resourceList[0].additionalInfo["*"].mtu', message: /expected a string/ });
  const { warnings, config } = parse({ resourceList: [{ resourceName: 'a', selectors: {}, additionalInfo: { 'ens1f0': { a: 'b' }, '3b:02.1': { c: 'd' } } }] });
  t.match(warnings[0], { path: 'resourceList[0].additionalInfo["ens1f0"]', message: /never applies/ });
  t.same(config.resourceList[0]?.additionalInfo['0000:3b:02.1'], { c: 'd' });
});

t.test('an invalid resource prefix is an error', async (t) => {
  const problems = problemsOf({ resourceList: [{ resourceName: 'a', resourcePrefix: 'Intel_COM', selectors: {} }] });
  t.match(problems[0], { path: 'resourceList[0].resourcePrefix', message: /not a valid resource prefix/ });
  t.throws(() => parseDevicePluginConfig('{"resourceList":[]}', 'c.json', { defaultPrefix: 'bad prefix' }), ConfigError);
});

t.test('an empty selector list is accepted with a warning that the pool stays empty', async (t) => {
  const { config, warnings } = parse({ resourceList: [{ resourceName: 'a', selectors: [] }] });
  t.same(config.resourceList[0]?.selectors, []);
  t.match(warnings[0], { path: 'resourceList[0].selectors', message: /selects nothing/ });
});

t.test('nearest-key suggestions only for plausible typos', async (t) => {
  t.equal(editDistance('vendor', 'vendors'), 1);
  t.equal(editDistance('kitten', 'sitting'), 3);
  t.equal(nearestKey('rootDevice', ['rootDevices', 'pfNames']), 'rootDevices');
  t.equal(nearestKey('zzz', ['rootDevices', 'pfNames']), null);
});
