// `nicplex discover` on this machine's real /sys. The virtio NIC here carries the host's default
// route, so in the host netns it must be excluded with that reason; in a fresh network namespace
// (`unshare --net`: /proc/net/route is empty there, while /sys still shows the device) the same
// config puts it in the pool. Nothing on the host network is changed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readDefaultRouteNetdevs } from '../../native/routes.js';
import { cliPath, repoRoot } from '../helpers/paths.js';

interface DiscoverOutput {
  devices: Array<{ pciAddress: string; vendorId: string; netdevs: string[]; pool: string | null; excludedBecause: string | null; driver: string | null }>;
  pools: Array<{ resourceName: string; devices: string[] }>;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Network-class virtio PCI functions on this host, from /sys directly (independent of our reader). */
function virtioNics(): string[] {
  return readdirSync('/sys/bus/pci/devices').filter((address) => {
    const dir = join('/sys/bus/pci/devices', address);
    return read(join(dir, 'vendor')) === '0x1af4' && read(join(dir, 'class')).startsWith('0x02');
  });
}

const nics = virtioNics();
const defaultRouteNetdevs = readDefaultRouteNetdevs('/proc');

t.test('on the real /sys, a vendors ["1af4"] pool takes the virtio NIC in a fresh netns, and the host netns excludes it as "default route"', {
  skip: nics.length === 0 ? 'this machine has no virtio network device' : false,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nicplex-discover-real-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ resourceList: [{ resourceName: 'virtio_net', resourcePrefix: 'nicplex.io', selectors: { vendors: ['1af4'] } }] }));
  const args = [cliPath, 'discover', '--config', configPath, '--output', 'json'];

  const isolated = JSON.parse(execFileSync('unshare', ['--net', process.execPath, ...args], { encoding: 'utf8', timeout: 30_000 })) as DiscoverOutput;
  t.same(isolated.pools.map((pool) => pool.resourceName), ['nicplex.io/virtio_net']);
  t.same(isolated.pools[0]?.devices, nics, 'every virtio NIC is in the pool inside a fresh netns');
  for (const address of nics) {
    const device = isolated.devices.find((candidate) => candidate.pciAddress === address);
    t.match(device, { vendorId: '1af4', driver: 'virtio-pci', pool: 'nicplex.io/virtio_net', excludedBecause: null });
    t.ok((device?.netdevs.length ?? 0) > 0, `${address} has its netdev (found under virtioN/net/)`);
  }

  const hostView = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', timeout: 30_000 })) as DiscoverOutput;
  const carrying = hostView.devices.filter((device) => nics.includes(device.pciAddress) && device.netdevs.some((netdev) => defaultRouteNetdevs.ipv4.has(netdev) || defaultRouteNetdevs.ipv6.has(netdev)));
  t.ok(carrying.length > 0, 'a virtio NIC carries the host default route here');
  for (const device of carrying) {
    t.equal(device.excludedBecause, 'default route', `${device.pciAddress} (${device.netdevs.join(',')}) is excluded in the host netns`);
    t.equal(device.pool, null);
    t.notOk(hostView.pools[0]?.devices.includes(device.pciAddress));
  }
});

t.test('on the real /sys, the table names the virtio NIC with its pci.ids names and the reason', { skip: nics.length === 0 ? 'no virtio NIC' : false }, async (t) => {
  const table = execFileSync(process.execPath, [cliPath, 'discover', '--config', join(repoRoot, 'config', 'examples', 'deviceplugin-host-virtio.json')], { encoding: 'utf8', timeout: 30_000 });
  const hasIds = read('/usr/share/misc/pci.ids') !== '' || read('/usr/share/hwdata/pci.ids') !== '';
  for (const address of nics) {
    const row = table.split('\n').find((line) => line.startsWith(address)) ?? '';
    t.match(row, /1af4:/, `${address} row`);
    if (hasIds) t.match(row, /Red Hat, Inc\./);
  }
  t.match(table, /^nicplex\.io\/virtio_net\s+netDevice/m);
});
