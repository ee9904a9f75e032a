// Startup reconcile: the pure plan over hand-built snapshots, the snapshot of real directories, the
// execution (claims re-taken since the snapshot are left alone), and the atomic standalone claim.
import t from 'tap';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFileExclusive } from '../../config/atomic-file.js';
import { DEFAULT_POLICY, executeReconcile, netnsLive, planReconcile, splitStateName, takeSnapshot, type ReconcileAction, type ReconcilePolicy, type ReconcileSnapshot } from '../../cni/reconcile.js';
import { allocateStandaloneDevices, listStandaloneAllocations } from '../../cni/standalone.js';
import { silentLogger } from '../../cni/log.js';
import type { PluginInvocation } from '../../cni/exec.js';
import { tempDir } from '../helpers/cni-tempdir.js';

const NOW = 1_000_000_000;
const policy: ReconcilePolicy = { ...DEFAULT_POLICY, live: netnsLive, ownPid: 4242 };
const empty = (): ReconcileSnapshot => ({ nowMs: NOW, caches: [], netnsAlive: {}, delegateStates: [], allocations: [], tempFiles: [], hostLinks: [] });
const kinds = (actions: ReconcileAction[]) => actions.map((action) => `${action.kind}:${'containerId' in action ? action.containerId : 'path' in action ? action.path : ''}`);

t.test('caches: a dead or empty netns is stale; a live netns and Multus/unreadable caches are kept', async (t) => {
  const snapshot = empty();
  snapshot.caches = [
    { containerId: 'live', kind: 'found', netns: '/run/netns/a', ifname: 'eth0', ifnames: ['eth0'] },
    { containerId: 'dead', kind: 'found', netns: '/run/netns/b', ifname: 'eth0', ifnames: ['eth0', 'net1'], pod: { namespace: 'ns', name: 'p', uid: 'u', infraContainerId: 'dead' } },
    { containerId: 'nons', kind: 'found', netns: '', ifname: 'eth0', ifnames: ['eth0'] },
    { containerId: 'multus', kind: 'other', netns: '', ifname: '', ifnames: [] },
  ];
  snapshot.netnsAlive = { '/run/netns/a': true, '/run/netns/b': false };
  const plan = planReconcile(snapshot, policy);
  t.same(kinds(plan.actions), ['staleAttachment:dead', 'staleAttachment:nons']);
  t.same(plan.actions[0], { kind: 'staleAttachment', containerId: 'dead', netns: '/run/netns/b', ifname: 'eth0', pod: { namespace: 'ns', name: 'p', uid: 'u', infraContainerId: 'dead' } }, 'the DEL gets the cached netns, ifname and pod');
  t.equal(plan.found.staleAttachment, 2);
  const gc = planReconcile(snapshot, { ...policy, live: () => false, keep: (id) => id === 'dead' });
  t.same(kinds(gc.actions), ['staleAttachment:live', 'staleAttachment:nons', 'staleAttachment:multus'], 'GC: kept only what is valid');
});

t.test('delegate state: owned by a live cache kept, by a stale cache left to its DEL, orphans released; displaced links counted', async (t) => {
  const snapshot = empty();
  snapshot.caches = [
    { containerId: 'live', kind: 'found', netns: '/n/a', ifname: 'eth0', ifnames: ['net1'] },
    { containerId: 'dead', kind: 'found', netns: '/n/b', ifname: 'eth0', ifnames: ['net1'] },
  ];
  snapshot.netnsAlive = { '/n/a': true, '/n/b': false };
  snapshot.delegateStates = [
    { type: 'host-device', name: 'live-net1.json', path: '/s/host-device/live-net1.json', hostName: 'hd0' },
    { type: 'host-device', name: 'dead-net1.json', path: '/s/host-device/dead-net1.json', hostName: 'hd1' },
    { type: 'host-device', name: 'gone-net-2.json', path: '/s/host-device/gone-net-2.json', hostName: 'hd2' },
    { type: 'sriov', name: 'vfpod-x-net3.json', path: '/s/sriov/vfpod-x-net3.json', hostName: 'ens1f0v3', deviceID: '0000:3b:02.3' },
  ];
  snapshot.hostLinks = [
    { name: 'net1', alias: 'hd1', parentDevName: null },
    { name: 'net-2', alias: 'hd2', parentDevName: null },
    { name: 'net3', alias: null, parentDevName: '0000:3b:02.3' },
    { name: 'hd0', alias: null, parentDevName: null },
  ];
  const plan = planReconcile(snapshot, policy);
  t.same(kinds(plan.actions), ['staleAttachment:dead', 'orphanDelegateState:gone', 'orphanDelegateState:vfpod-x']);
  t.same(plan.actions.filter((action) => action.kind === 'orphanDelegateState').map((action) => action.kind === 'orphanDelegateState' && action.ifname), ['net-2', 'net3'], 'split by the host link that carries the alias or the VF');
  t.same(plan.displacedLinks.map((link) => link.name).sort(), ['net-2', 'net1', 'net3']);
  t.equal(plan.found.displacedLink, 3);
});

t.test('state file names split at the last "-" when no host link tells', async (t) => {
  t.same(splitStateName({ type: 'host-device', name: 'abc-def-net1.json', path: '' }, []), { containerId: 'abc-def', ifname: 'net1' });
  t.same(splitStateName({ type: 'host-device', name: 'abc-my-if.json', path: '', hostName: 'x' }, [{ name: 'my-if', alias: 'x', parentDevName: null }]), { containerId: 'abc', ifname: 'my-if' });
  t.equal(splitStateName({ type: 'host-device', name: 'nodash.json', path: '' }, []), undefined, 'not a state name: left alone');
});

t.test('allocations: live and stale owners left to their DEL; orphans and malformed claims only past their bound', async (t) => {
  const snapshot = empty();
  snapshot.caches = [
    { containerId: 'live', kind: 'found', netns: '/n/a', ifname: 'eth0', ifnames: [] },
    { containerId: 'dead', kind: 'found', netns: '/n/b', ifname: 'eth0', ifnames: [] },
  ];
  snapshot.netnsAlive = { '/n/a': true };
  const claim = (deviceId: string, owner: string | undefined, ageMs: number) => ({ resourceDir: 'r', deviceId, path: `/a/r/${deviceId}`, owner, mtimeMs: NOW - ageMs });
  snapshot.allocations = [claim('d0', 'live', 1e9), claim('d1', 'dead', 1e9), claim('d2', 'nobody', 1e9), claim('d3', 'nobody', 1000), claim('d4', undefined, 1e9), claim('d5', undefined, 1000)];
  t.same(kinds(planReconcile(snapshot, policy).actions), ['staleAttachment:dead', 'orphanAllocation:/a/r/d2', 'malformedAllocation:/a/r/d4']);
  t.same(kinds(planReconcile(snapshot, { ...policy, orphanGraceMs: 0, claimGraceMs: 0 }).actions), ['staleAttachment:dead', 'orphanAllocation:/a/r/d2', 'orphanAllocation:/a/r/d3', 'malformedAllocation:/a/r/d4', 'malformedAllocation:/a/r/d5']);
});

t.test('temp files: a dead writer\'s at once, a live writer\'s only when old, our own never while young', async (t) => {
  const snapshot = empty();
  snapshot.tempFiles = [
    { path: '/d/.a.1.00000000.tmp', pid: 1, pidAlive: false, mtimeMs: NOW },
    { path: '/d/.b.2.00000000.tmp', pid: 2, pidAlive: true, mtimeMs: NOW - 1000 },
    { path: '/d/.c.3.00000000.tmp', pid: 3, pidAlive: true, mtimeMs: NOW - 2 * 60 * 60_000 },
    { path: '/d/.e.4242.00000000.tmp', pid: 4242, pidAlive: false, mtimeMs: NOW },
  ];
  t.same(kinds(planReconcile(snapshot, policy).actions), ['staleTempFile:/d/.a.1.00000000.tmp', 'staleTempFile:/d/.c.3.00000000.tmp']);
});

t.test('snapshot of real directories, then execute: files removed, a claim re-taken since the snapshot is kept', async (t) => {
  const root = tempDir('npx-reconcile-');
  const cniDir = join(root, 'cache');
  const stateDir = join(root, 'state');
  const allocationDir = join(root, 'alloc');
  mkdirSync(cniDir);
  mkdirSync(join(stateDir, 'host-device'), { recursive: true });
  mkdirSync(join(allocationDir, 'example.com_dev'), { recursive: true });
  const plan = (id: string, netns: string) => JSON.stringify({ plan: { kind: 'nicplexPlanV1', containerId: id, netns, ifname: 'eth0', requestCniVersion: '1.0.0', attachments: [{ ifname: 'net1' }] }, results: {} });
  writeFileSync(join(cniDir, 'dead'), plan('dead', join(root, 'no-such-netns')));
  writeFileSync(join(cniDir, 'alive'), plan('alive', '/proc/self/ns/net'));
  writeFileSync(join(cniDir, '.dead.999999999.0a0b0c0d.tmp'), '{"half');
  writeFileSync(join(stateDir, 'host-device', 'orphan-net1.json'), JSON.stringify({ hostName: 'hd0', mac: null, mtu: 1500, up: true, alias: null, dpdk: false }));
  writeFileSync(join(stateDir, 'host-device', 'alive-net1.json'), '{}');
  writeFileSync(join(allocationDir, 'example.com_dev', 'dev0'), 'nobody');
  writeFileSync(join(allocationDir, 'example.com_dev', 'dev1'), '');
  writeFileSync(join(allocationDir, 'example.com_dev', 'dev2'), 'alive');
  writeFileSync(join(allocationDir, 'example.com_dev', '.dev3.999999999.00112233.tmp'), 'x');
  const old = new Date(Date.now() - 3600_000);
  for (const name of ['dev0', 'dev1', 'dev2']) utimesSync(join(allocationDir, 'example.com_dev', name), old, old);
  const { isNetnsPath } = await import('../../native/index.js');
  const snapshot = await takeSnapshot({ cniDir, delegateStateDir: stateDir, delegateTypes: ['host-device', 'sriov'], allocationDir, otherDirs: [join(root, 'devinfo')] }, {
    isNetns: isNetnsPath, hostLinks: async () => [], pidAlive: (pid) => pid !== 999999999,
  });
  t.same(snapshot.netnsAlive, { [join(root, 'no-such-netns')]: false, '/proc/self/ns/net': true });
  t.same(snapshot.allocations.map((allocation) => [allocation.deviceId, allocation.owner]), [['dev0', 'nobody'], ['dev1', undefined], ['dev2', 'alive']], 'temp files are not claims; an empty claim has no owner');
  t.equal(snapshot.tempFiles.length, 2);
  const planned = planReconcile(snapshot, { ...DEFAULT_POLICY, live: netnsLive });
  t.same(planned.actions.map((action) => action.kind).sort(), ['malformedAllocation', 'orphanAllocation', 'orphanDelegateState', 'staleAttachment', 'staleTempFile', 'staleTempFile']);
  // Between snapshot and execution, a new ADD took dev0: its claim must survive.
  writeFileSync(join(allocationDir, 'example.com_dev', 'dev0'), 'newcomer');
  const dels: string[] = [];
  const runs: PluginInvocation[] = [];
  const outcome = await executeReconcile(planned, {
    log: silentLogger,
    delCached: async (action) => { dels.push(action.containerId); },
    executor: { run: async (invocation) => { runs.push(invocation); return undefined; } },
  });
  t.same(dels, ['dead']);
  t.same(runs.map((run) => [run.type, run.command, run.containerId, run.ifname, run.netns]), [['host-device', 'DEL', 'orphan', 'net1', '']], 'the delegate DEL of the orphaned state');
  t.same(outcome.failures, []);
  t.same(readdirSync(cniDir).sort(), ['alive', 'dead'], 'the temp file is gone (the cache itself is the DEL\'s to remove)');
  t.same(readdirSync(join(allocationDir, 'example.com_dev')).sort(), ['dev0', 'dev2'], 'malformed claim and temp file gone');
  t.equal(readFileSync(join(allocationDir, 'example.com_dev', 'dev0'), 'utf8'), 'newcomer', 'the re-taken claim is kept');
});

t.test('createFileExclusive: one winner among concurrent claims, the file never seen empty, no temp file left', async (t) => {
  const dir = tempDir('npx-claim-');
  const path = join(dir, 'dev0');
  let seenEmpty = 0;
  const watcher = setInterval(() => { if (existsSync(path) && readFileSync(path, 'utf8') === '') seenEmpty++; }, 0);
  const results = await Promise.all(Array.from({ length: 32 }, (_, index) => createFileExclusive(path, `owner${index}`, { mode: 0o600 })));
  clearInterval(watcher);
  t.equal(results.filter(Boolean).length, 1, 'exactly one claim wins');
  t.equal(readFileSync(path, 'utf8'), `owner${results.indexOf(true)}`, 'the file holds the winner');
  t.equal(seenEmpty, 0, 'never seen without its owner');
  t.same(readdirSync(dir), ['dev0'], 'no temp file left');
});

t.test('standalone pool: 32 concurrent ADDs for 8 devices: 8 succeed, 24 fail with code 11 naming the pool, nothing held twice', async (t) => {
  const allocationDir = tempDir('npx-pool-');
  const devices = Array.from({ length: 8 }, (_, index) => `dev${index}`);
  const conf = { nadDir: '/nonexistent', allocationDir, devicePools: { 'example.com/pool': devices } };
  const outcomes = await Promise.allSettled(Array.from({ length: 32 }, (_, index) => allocateStandaloneDevices(conf, `ctr${index}`, new Map([['example.com/pool', 1]]))));
  const won = outcomes.filter((outcome): outcome is PromiseFulfilledResult<Map<string, string[]>> => outcome.status === 'fulfilled');
  const lost = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  t.equal(won.length, 8);
  t.equal(lost.length, 24);
  t.ok(lost.every((outcome) => (outcome.reason as { code?: number }).code === 11 && /standalone device pool "example.com\/pool" has 8 device/.test((outcome.reason as Error).message)), 'every loser: code 11 naming the pool');
  const assigned = won.flatMap((outcome) => outcome.value.get('example.com/pool') ?? []);
  t.same([...new Set(assigned)].sort(), devices, 'each device assigned exactly once');
  const held = listStandaloneAllocations(conf);
  t.equal(held.length, 8, 'eight claims on disk');
  t.equal(new Set(held.map((allocation) => allocation.containerId)).size, 8, 'each held by a different container');
  t.same(readdirSync(join(allocationDir, 'example.com_pool')).filter((name) => name.startsWith('.')), [], 'no temp file left');
});
