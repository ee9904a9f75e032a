// `nicplex status`: the status assembly (pure), the gathering from cache and allocation files, the table,
// GET /v1/status on the agent server and the client's error when no agent answers.
import t from 'tap';
import { join } from 'node:path';
import { assembleStatus, gatherStatus, type StatusInput } from '../../deploy/agent-status.js';
import { fetchStatus, renderStatusTable, statusSocket } from '../../deploy/status-command.js';
import { CniServer } from '../../cni/agent-server.js';
import { writeCache } from '../../cni/cache.js';
import { buildPciDeviceInfo, writeDeviceInfoFile } from '../../config/devinfo.js';
import { createLogger } from '../../cni/log.js';
import type { Plan, PlannedAttachment } from '../../cni/plan.js';
import { allocateStandaloneDevices } from '../../cni/standalone.js';
import { tempDir } from '../helpers/cni-tempdir.js';

const attachment = (networkName: string, ifname: string, plugin: Record<string, unknown>, extra: Partial<PlannedAttachment> = {}): PlannedAttachment => ({
  networkName, isDefault: ifname === 'eth0', ifname, conf: { cniVersion: '1.0.0', name: networkName, plugins: [plugin] }, runtimeConfig: {}, cniArgs: '', ...extra,
});
const plan = (containerId: string, pod: string | undefined, attachments: PlannedAttachment[]): Plan => ({
  kind: 'nicplexPlanV1', containerId, netns: `/var/run/netns/${containerId}`, ifname: 'eth0', requestCniVersion: '1.0.0', attachments,
  ...(pod ? { pod: { namespace: 'default', name: pod, uid: '', infraContainerId: containerId } } : {}),
});
const result = (ifname: string, address: string, mac: string) => ({ cniVersion: '1.0.0', interfaces: [{ name: ifname, sandbox: '/x', mac }], ips: [{ address, interface: 0 }] });

const webPlan = plan('c1', 'web', [
  attachment('cluster', 'eth0', { type: 'bridge' }),
  attachment('default/mv', 'net1', { type: 'macvlan' }, { deviceId: 'p0', resourceName: 'example.com/port' }),
  attachment('default/hd', 'net2', { type: 'host-device', device: 'ens7' }),
]);

const input = (overrides: Partial<StatusInput> = {}): StatusInput => ({
  socket: '/run/nicplex/nicplex.sock',
  notReadyReason: undefined,
  requests: { inFlight: 1, queued: 0 },
  informers: [],
  caches: [{
    dir: '/var/lib/cni/nicplex',
    entries: [
      { containerId: 'c1', read: { kind: 'found', state: { plan: webPlan, results: { eth0: result('eth0', '10.0.0.5/24', '02:00:00:00:00:01'), net1: result('net1', '10.1.0.5/24', '02:00:00:00:00:02') } } } },
      { containerId: 'c2', read: { kind: 'multus', delegates: [] } },
      { containerId: 'c3', read: { kind: 'corrupt', reason: 'invalid JSON' } },
      { containerId: 'c4', read: { kind: 'missing' } },
    ],
  }],
  standalonePools: [{ resourceName: 'example.com/port', devices: ['p0', 'p1'], holders: { p0: 'c1' } }],
  ...overrides,
});

t.test('assembly: attachments with devices and IPs, network-status, caches, standalone pools', async (t) => {
  const status = assembleStatus(input());
  t.same(status.attachments.map((a) => [a.pod, a.network, a.interface, a.device, a.resourceName, a.ips]), [
    ['default/web', 'cluster', 'eth0', null, null, ['10.0.0.5']],
    ['default/web', 'default/mv', 'net1', 'p0', 'example.com/port', ['10.1.0.5']],
    ['default/web', 'default/hd', 'net2', 'ens7', null, []],
  ], 'the pool device, the host-device\'s device, and no IPs for an attachment without a cached result');
  t.same(status.containers, [{
    containerId: 'c1', pod: 'default/web', netns: '/var/run/netns/c1', cniDir: '/var/lib/cni/nicplex',
    networkStatus: [
      { name: 'cluster', interface: 'eth0', mac: '02:00:00:00:00:01', ips: ['10.0.0.5'], default: true },
      { name: 'default/mv', interface: 'net1', mac: '02:00:00:00:00:02', ips: ['10.1.0.5'] },
      { name: 'default/hd', interface: 'net2' },
    ],
  }], 'network-status as ADD reports it');
  t.same(status.caches, [{ dir: '/var/lib/cni/nicplex', containers: 1, foreign: ['c2'], corrupt: [{ containerId: 'c3', reason: 'invalid JSON' }] }]);
  t.same(status.pools, [{ resourceName: 'example.com/port', source: 'standalone', total: 2, healthy: null, allocated: 1, holders: { p0: 'c1' } }]);
  t.same([status.ready, status.notReadyReason, status.kubelet], [true, null, { registration: 'none', path: null, pools: 0, registeredPools: 0 }]);
});

t.test('assembly: device-plugin pools, registration, informers; a standalone pool of the same name is not listed twice', async (t) => {
  const status = assembleStatus(input({
    notReadyReason: 'pool intel.com/b is not registered with the kubelet yet',
    devicePlugin: {
      registration: { kind: 'watcher', registryDir: '/var/lib/kubelet/plugins_registry' },
      pools: [
        { resource: 'intel.com/b', total: 4, healthy: 3, allocated: 0, registrations: 0 },
        { resource: 'example.com/port', total: 2, healthy: 2, allocated: 1, registrations: 2 },
      ],
    },
    informers: [{ name: 'pods', synced: true, size: 12 }, { name: 'nads', synced: false, size: 0 }],
  }));
  t.same(status.pools.map((pool) => [pool.resourceName, pool.source, pool.total, pool.healthy, pool.allocated, pool.registrations]), [
    ['example.com/port', 'device-plugin', 2, 2, 1, 2],
    ['intel.com/b', 'device-plugin', 4, 3, 0, 0],
  ]);
  t.same(status.kubelet, { registration: 'watcher', path: '/var/lib/kubelet/plugins_registry', pools: 2, registeredPools: 1 });
  t.same(status.informers, [{ name: 'pods', synced: true, objects: 12 }, { name: 'nads', synced: false, objects: 0 }]);
  t.same([status.ready, status.notReadyReason], [false, 'pool intel.com/b is not registered with the kubelet yet']);
});

t.test('gathering reads the caches and allocation files the requests named', async (t) => {
  const dir = tempDir('npx-status-');
  const cniDir = join(dir, 'cache');
  const standalone = { nadDir: join(dir, 'nads'), allocationDir: join(dir, 'alloc'), devicePools: { 'example.com/port': ['p0', 'p1', 'p2'] } };
  const deviceInfoFile = join(dir, 'devinfo', 'mv-c1-net1-deviceinfo.json');
  const info = buildPciDeviceInfo({ pciAddress: '0000:00:06.0' });
  writeDeviceInfoFile(deviceInfoFile, info);
  const withInfo = structuredClone(webPlan);
  withInfo.attachments[1]!.deviceInfoFile = deviceInfoFile;
  await writeCache(cniDir, { plan: withInfo, results: { net1: result('net1', '10.1.0.5/24', '02:00:00:00:00:02') } });
  await allocateStandaloneDevices(standalone, 'c1', new Map([['example.com/port', 2]]));
  const status = await gatherStatus({
    socket: 's', notReadyReason: undefined, requests: { inFlight: 0, queued: 0 }, informers: [],
    confs: [{ cniDir, standalone }, { cniDir, standalone }, { cniDir: join(dir, 'none') }],
  });
  t.same(status.caches.map((cache) => [cache.dir, cache.containers]), [[cniDir, 1], [join(dir, 'none'), 0]], 'each directory once; a missing one is empty');
  t.same(status.attachments.map((a) => a.interface), ['eth0', 'net1', 'net2']);
  t.same(status.containers[0]?.networkStatus[1]?.['device-info'], info, 'network-status carries the CNI device-info file, as ADD wrote it');
  t.equal(status.containers[0]?.networkStatus[2]?.['device-info'], undefined, 'none for an attachment without a device');
  t.same(status.pools, [{ resourceName: 'example.com/port', source: 'standalone', total: 3, healthy: null, allocated: 2, holders: { p0: 'c1', p1: 'c1' } }]);
});

t.test('attachments and containers are listed by pod, then container ID; containers without a pod last', async (t) => {
  const entry = (containerId: string, pod: string | undefined) => ({ containerId, read: { kind: 'found' as const, state: { plan: plan(containerId, pod, [attachment('cluster', 'eth0', { type: 'bridge' }), attachment('default/mv', 'net1', { type: 'macvlan' })]), results: {} } } });
  const status = assembleStatus(input({ caches: [
    { dir: '/a', entries: [entry('c9', 'alpha'), entry('c1', undefined)] },
    { dir: '/b', entries: [entry('c5', 'beta'), entry('c2', 'alpha')] },
  ] }));
  t.same(status.containers.map((c) => c.containerId), ['c2', 'c9', 'c5', 'c1']);
  t.same(status.attachments.map((a) => `${a.containerId}:${a.interface}`), ['c2:eth0', 'c2:net1', 'c9:eth0', 'c9:net1', 'c5:eth0', 'c5:net1', 'c1:eth0', 'c1:net1']);
});

t.test('the table: state lines, pools, attachments, caches; empty sections say so', async (t) => {
  const text = renderStatusTable(assembleStatus(input()));
  t.match(text, /^agent:\s+ready$/m);
  t.match(text, /^kubelet:\s+no device plugin/m);
  t.match(text, /^requests:\s+1 in flight, 0 queued$/m);
  t.match(text, /^example\.com\/port\s+standalone\s+2\s+-\s+1\s+-\s+p0=c1$/m, 'pool row: total, no health, allocated, holder');
  t.match(text, /^default\/web\s+c1\s+default\/mv\s+net1\s+p0\s+10\.1\.0\.5$/m, 'attachment row');
  t.match(text, /^default\/web\s+c1\s+default\/hd\s+net2\s+ens7\s+-$/m, 'no IPs: a dash');
  t.match(text, /^\/var\/lib\/cni\/nicplex\s+1\s+1\s+c3: invalid JSON$/m, 'cache row with the corrupt entry');
  const empty = renderStatusTable(assembleStatus(input({ caches: [], standalonePools: [], notReadyReason: 'stopping' })));
  t.match(empty, /^agent:\s+not ready: stopping$/m);
  t.match(empty, /POOLS\n {2}\(none\)/);
  t.match(empty, /ATTACHMENTS\n {2}\(none\)/);
  const registered = renderStatusTable(assembleStatus(input({ devicePlugin: { registration: { kind: 'direct', devicePluginDir: '/var/lib/kubelet/device-plugins' }, pools: [{ resource: 'intel.com/a', total: 1, healthy: 1, allocated: 0, registrations: 1 }] } })));
  t.match(registered, /^kubelet:\s+direct registration \(\/var\/lib\/kubelet\/device-plugins\), 1\/1 pools registered$/m);
  t.match(registered, /^intel\.com\/a\s+device-plugin\s+1\s+1\s+0\s+yes\s+-$/m);
});

t.test('GET /v1/status on the agent server; the client names the socket when no agent answers', async (t) => {
  const dir = tempDir('npx-status-sock-');
  const socketPath = join(dir, 'run', 'nicplex.sock');
  const log = createLogger({ level: 'panic', toStderr: false });
  const server = new CniServer({ socketPath, maxConcurrent: 1, log, handle: async () => ({ exitCode: 0, stdout: '' }), status: async () => assembleStatus(input()) });
  await server.start();
  t.teardown(() => server.close());
  t.equal(statusSocket(join(dir, 'run')), socketPath);
  const status = await fetchStatus(socketPath, 5000);
  t.equal(status.attachments.length, 3, 'the JSON the agent assembled');
  const bare = new CniServer({ socketPath: join(dir, 'bare', 'nicplex.sock'), maxConcurrent: 1, log, handle: async () => ({ exitCode: 0, stdout: '' }) });
  await bare.start();
  t.teardown(() => bare.close());
  await t.rejects(fetchStatus(join(dir, 'bare', 'nicplex.sock'), 5000), /answered \/v1\/status with HTTP 404/, 'a server without status: 404');
  const missing = join(dir, 'gone', 'nicplex.sock');
  await t.rejects(fetchStatus(missing, 5000), { message: `no nicplex agent answers on ${missing} (ENOENT): start \`nicplex agent\`, or pass the --socket-dir it was started with` });
});
