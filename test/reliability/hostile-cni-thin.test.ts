// Hostile input end to end: 120 generated requests (two lanes of 60) through `nicplex cni` (thin mode, one process per call,
// the reference macvlan plugin as delegate) in a private host netns with CNI_NETNS at a scratch netns.
// Each answer is CNI JSON (errors: code and msg, exit ≠ 0); a successful ADD is undone by its DEL; after
// every case the namespaces' links and addresses, the caches, allocations, IPAM leases and delegate state
// are exactly as before.
import t from 'tap';
import fc from 'fast-check';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniLab } from '../helpers/cni-lab.js';
import { checkProperty, garbledText, hostileJson, hostileString, mutatedObject } from '../helpers/hostile.js';

const lab = new CniLab('ht');
t.teardown(() => lab.cleanup());
const ipamDir = join(lab.dir, 'ipam');
const dirs = { cniDir: join(lab.dir, 'cache'), delegateStateDir: join(lab.dir, 'state'), cniDeviceInfoDir: join(lab.dir, 'devinfo-cni'), deviceInfoDir: join(lab.dir, 'devinfo-dp') };
const nadDir = join(lab.dir, 'nads');
const allocationDir = join(lab.dir, 'alloc');
mkdirSync(nadDir, { recursive: true });
lab.hostVeth('htmv0', 'htmv0p');
const macvlan = (name: string, subnet: string) => ({ cniVersion: '1.0.0', name, plugins: [{ type: 'macvlan', master: 'htmv0', mode: 'bridge', capabilities: { ips: true, mac: true }, ipam: { type: 'host-local', dataDir: ipamDir, subnet } }] });
const nad = (name: string, resourceName?: string) => JSON.stringify({
  apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
  metadata: { name, namespace: 'default', ...(resourceName ? { annotations: { 'k8s.v1.cni.cncf.io/resourceName': resourceName } } : {}) },
  spec: { config: JSON.stringify(macvlan(name, name === 'mv' ? '10.231.96.0/24' : '10.231.97.0/24')) },
});
writeFileSync(join(nadDir, 'mv.json'), nad('mv'));
writeFileSync(join(nadDir, 'dev.json'), nad('dev', 'example.com/dev'));
const conf = {
  cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', binDir: '/usr/lib/cni', logToStderr: false, ...dirs,
  standalone: { nadDir, allocationDir, devicePools: { 'example.com/dev': ['dev0', 'dev1'] } },
  delegates: [macvlan('htnet', '10.231.95.0/24')],
};
// Two lanes run side by side (each case is a Node process start or two): each has its own container netns.
const lanes = [lab.containerNetns('c1'), lab.containerNetns('c2')];

function snapshot(): string {
  const links = [lab.hostNs, ...lanes.map((lane) => lane.name)].map((ns) => lab.links(ns).map((link) => `${ns}:${link.ifname}:${(link.addr_info ?? []).map((addr) => addr.local).sort().join(',')}`).sort().join(' '));
  // Bookkeeping that stays by design: host-local's per-network files, the allocation dir of each resource.
  const isLease = (dir: string, name: string) => (dir === ipamDir ? /\d+\.\d+\.\d+\.\d+$/.test(name) : dir === allocationDir ? name.includes('/') : true);
  const files = [dirs.cniDir, allocationDir, ipamDir, dirs.delegateStateDir, dirs.cniDeviceInfoDir].map((dir) => `${dir}:${existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).filter((name) => isLease(dir, name)).sort().join(',') : ''}`);
  return [...links, ...files].join('\n');
}

/** Pins every directory to the lab after a mutation (a config naming other directories is the operator's choice, not hostile input here). */
const pinned = (object: Record<string, unknown>) => ({ ...object, ...dirs, standalone: conf.standalone });
const safeNetns = (path: string) => lanes.some((lane) => lane.path === path) || !existsSync(path);

t.test('120 hostile requests through nicplex cni (thin mode) in a scratch netns', async (t) => {
  const before = snapshot();
  const stdin = fc.oneof(
    { weight: 3, arbitrary: mutatedObject(conf, ['cniVersion', 'delegates', 'runtimeConfig', 'args', 'capabilities', 'name', 'type', 'clusterNetwork']).map((object) => JSON.stringify(pinned(object))) },
    { weight: 1, arbitrary: garbledText(JSON.stringify(conf)) },
    { weight: 2, arbitrary: fc.constant(JSON.stringify(conf)) },
  );
  const element = fc.record({
    name: fc.oneof(fc.constantFrom('mv', 'dev'), hostileString(30)),
    interface: fc.oneof(fc.constantFrom('net1', 'net2'), hostileString(20)),
    ips: fc.array(fc.oneof(fc.constant('10.231.96.50/24'), hostileString(20)), { maxLength: 1 }),
    deviceID: fc.oneof(fc.constant('dev1'), hostileString(20)),
    'cni-args': fc.option(fc.dictionary(hostileString(10), hostileJson(), { maxKeys: 2 })),
  }, { requiredKeys: ['name'] });
  const networks = fc.oneof(fc.constantFrom('mv', 'mv,dev', ''), fc.array(element, { maxLength: 2 }).map((list) => JSON.stringify(list)), hostileString(40));
  const env = fc.record({
    CNI_CONTAINERID: fc.oneof(fc.stringMatching(/^ht[a-f0-9]{8}$/), hostileString(), fc.constant('c'.repeat(255))),
    CNI_IFNAME: fc.oneof(fc.constant('eth0'), hostileString(20)),
    CNI_NETNS: fc.oneof(fc.constant('lane'), fc.constant('lane'), hostileString(40).filter(safeNetns)),
    pod: fc.oneof(fc.constant('pod-a'), hostileString(40)),
  });
  const tally: Record<string, number> = {};
  const oneCase = async (lane: number, request: { CNI_CONTAINERID: string; CNI_IFNAME: string; CNI_NETNS: string; pod: string }, text: string, nets: string) => {
    // The lanes never share a container ID (a suffix keeps a hostile ID hostile).
    const containerId = `${request.CNI_CONTAINERID}${lane === 0 ? '' : '-l1'}`.replace(/\0/g, '');
    const cniEnv = {
      CNI_COMMAND: 'ADD', CNI_CONTAINERID: containerId, CNI_NETNS: (request.CNI_NETNS === 'lane' ? lanes[lane]!.path : request.CNI_NETNS).replace(/\0/g, ''), CNI_IFNAME: request.CNI_IFNAME.replace(/\0/g, ''),
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${request.pod};NICPLEX_NETWORKS=${nets}`.replace(/\0/g, ''),
    };
    const add = await lab.runCni(cniEnv, text);
    if (add.exitCode === 0) {
      tally['added'] = (tally['added'] ?? 0) + 1;
      if (!add.json || !Array.isArray(add.json['interfaces'])) throw new Error(`ADD succeeded without a result: ${add.stdout}`);
      const del = await lab.runCni({ ...cniEnv, CNI_COMMAND: 'DEL' }, text);
      if (del.exitCode !== 0) throw new Error(`DEL after a successful ADD failed: ${del.stdout}${del.stderr}`);
    } else {
      const code = add.json?.['code'];
      tally[`error ${String(code)}`] = (tally[`error ${String(code)}`] ?? 0) + 1;
      if (!Number.isInteger(code) || typeof add.json?.['msg'] !== 'string' || add.json['msg'] === '') throw new Error(`exit ${add.exitCode} without a CNI error: ${JSON.stringify(add.stdout)} ${add.stderr}`);
    }
    return add.stdout;
  };
  const lane = fc.tuple(env, stdin, networks);
  await checkProperty(t, 'thin mode end to end (2 lanes)', fc.asyncProperty(lane, lane, async (first, second) => {
    const answers = await Promise.all([oneCase(0, ...first), oneCase(1, ...second)]);
    const after = snapshot();
    if (after !== before) throw new Error(`the host changed:\nbefore\n${before}\nafter\n${after}\nADDs: ${answers.join(' | ')}`);
  }), 60);
  t.comment(`thin mode: 120 requests; ${JSON.stringify(tally)}`);
  t.ok((tally['added'] ?? 0) >= 2, 'some hostile-but-valid requests succeeded (and were deleted)');
});
