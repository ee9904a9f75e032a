import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openPciIds, pciNamesFromText } from '../../native/pci-ids.js';
import { parseIpv4DefaultRoutes, parseIpv6DefaultRoutes } from '../../native/routes.js';

const sample = [
  '#\tList of PCI IDs',
  '#',
  '0000  Placeholder vendor',
  '1af4  Red Hat, Inc.',
  '\t1000  Virtio network device',
  '\t\t1af4 0001  Virtio network device',
  '# a comment inside the vendor block',
  '\t1041  Virtio 1.0 network device',
  '1d0f  Amazon.com, Inc.',
  '\tec20  Elastic Network Adapter (ENA)',
  '8086  Intel Corporation',
  '\t1592  Ethernet Controller E810-C for QSFP',
  '\t\t8086 0002  Ethernet Network Adapter E810-C-Q2',
  'C 02  Network controller',
  '\t00  Ethernet controller',
  '',
].join('\n');

t.test('vendor and device names are found; subsystem lines and other vendors do not leak in', async (t) => {
  const names = pciNamesFromText(sample);
  t.equal(names.vendorName('1af4'), 'Red Hat, Inc.');
  t.equal(names.deviceName('1af4', '1041'), 'Virtio 1.0 network device', 'device after a comment line in the block');
  t.equal(names.deviceName('1af4', '0001'), null, 'a subsystem ID is not a device ID');
  t.equal(names.deviceName('1af4', 'ec20'), null, 'a device of another vendor is not found');
  t.equal(names.deviceName('8086', '1592'), 'Ethernet Controller E810-C for QSFP');
  t.equal(names.vendorName('0000'), 'Placeholder vendor', 'a vendor on the first data line');
  t.equal(names.vendorName('8086'), 'Intel Corporation');
  t.equal(names.deviceName('8086', '00'), null, 'class lines are not devices');
  t.equal(names.vendorName('ABCD'), null);
  t.equal(names.vendorName('1AF4'), 'Red Hat, Inc.', 'IDs are case-insensitive');
  t.equal(names.vendorName('zz'), null, 'a malformed ID finds nothing');
});

t.test('a missing pci.ids gives no names (hex IDs are shown instead); the first readable path wins', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nicplex-pciids-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const missing = openPciIds([join(dir, 'nope.ids')]);
  t.equal(missing.source, null);
  t.equal(missing.vendorName('8086'), null);
  const path = join(dir, 'pci.ids');
  writeFileSync(path, sample);
  const found = openPciIds([join(dir, 'nope.ids'), path]);
  t.equal(found.source, path);
  t.equal(found.deviceName('1d0f', 'ec20'), 'Elastic Network Adapter (ENA)');
});

// How fast the lookup is belongs to the discovery benchmark, not to a timed assertion here.
t.test('the system pci.ids gives vendor and device names', { skip: !existsSync('/usr/share/misc/pci.ids') && 'no /usr/share/misc/pci.ids (apt install pci.ids)' }, async (t) => {
  const names = openPciIds();
  t.equal(names.vendorName('8086'), 'Intel Corporation');
  t.equal(names.deviceName('1af4', '1041'), 'Virtio 1.0 network device');
  t.match(names.deviceName('15b3', '1017'), /ConnectX-5/);
});

t.test('default-route netdevs come from 0.0.0.0/0 routes that are up; reject routes do not count', async (t) => {
  const ipv4 = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth1\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'eth2\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0',
    'eth3\t00000000\t00000000\t0000\t0\t0\t0\t00000000\t0\t0\t0',
  ].join('\n');
  t.same([...parseIpv4DefaultRoutes(ipv4)], ['eth0']);
  t.same([...parseIpv4DefaultRoutes('Iface\tDestination\n')], [], 'a fresh netns has only the header');
  const zeros = '0'.repeat(32);
  const ipv6 = [
    `${zeros} 00 ${zeros} 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0`,
    `fe800000000000000000000000000000 40 ${zeros} 00 ${zeros} 00000100 00000002 00000000 00000001     eth1`,
    `${zeros} 00 ${zeros} 00 ${zeros} ffffffff 00000001 00000000 00200200       lo`,
  ].join('\n');
  t.same([...parseIpv6DefaultRoutes(ipv6)], ['eth0']);
});
