// The agent's pure parts: request scheduling (per-container order, the concurrency bound, the queue
// limit), the shim request body, the self-delegation guard and the Multus-style conf generation.
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCniCall } from '../../cni/agent-server.js';
import { GuardedExecutor, type DelegateCall } from '../../cni/agent-executor.js';
import { flushCacheWrites, readCache, writeCache, type CacheState } from '../../cni/cache.js';
import { writeFileAtomicSyncAfter } from '../../config/atomic-file.js';
import { CniError } from '../../cni/errors.js';
import { findPrimaryConf, generateConf } from '../../cni/install.js';
import { QueueFullError, RequestQueue } from '../../cni/request-queue.js';
import { TokenBucket } from '../../cni/rate-limit.js';

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('calls for one container run in arrival order, one at a time', async (t) => {
  const queue = new RequestQueue(8);
  const events: string[] = [];
  const call = (name: string, ms: number) => queue.run('ctr-a', async () => {
    events.push(`start ${name}`);
    await tick(ms);
    events.push(`end ${name}`);
  });
  await Promise.all([call('ADD', 20), call('CHECK', 1), call('DEL', 1)]);
  t.same(events, ['start ADD', 'end ADD', 'start CHECK', 'end CHECK', 'start DEL', 'end DEL']);
});

t.test('different containers run concurrently up to the bound; the rest queue', async (t) => {
  const queue = new RequestQueue(3);
  let running = 0;
  let peak = 0;
  let peakQueued = 0;
  await Promise.all(Array.from({ length: 12 }, (_, index) => queue.run(`ctr-${index}`, async () => {
    running++;
    peak = Math.max(peak, running);
    peakQueued = Math.max(peakQueued, queue.queued);
    await tick(10);
    running--;
  })));
  t.equal(peak, 3, 'never more than 3 at once, and the bound is used');
  t.ok(peakQueued >= 8, `the others waited in the queue (peak ${peakQueued})`);
  t.equal(queue.queued, 0, 'nothing left queued');
  t.equal(queue.active, 0, 'nothing left running');
});

t.test('a failing call releases its slot and its container', async (t) => {
  const queue = new RequestQueue(1);
  await t.rejects(queue.run('a', async () => { throw new Error('boom'); }), /boom/);
  t.equal(await queue.run('a', async () => 'next'), 'next');
});

t.test('beyond maxQueued a request is refused at once', async (t) => {
  const queue = new RequestQueue(1, 2);
  let release!: () => void;
  const blocker = queue.run('a', () => new Promise<void>((resolve) => { release = resolve; }));
  await tick();
  const waiting = [queue.run('b', async () => 1), queue.run('c', async () => 2)];
  await t.rejects(queue.run('d', async () => 3), QueueFullError);
  release();
  await blocker;
  t.same(await Promise.all(waiting), [1, 2]);
  t.throws(() => new RequestQueue(0), RangeError);
});

t.test('the shim body: only CNI_* variables are taken, config is base64', async (t) => {
  const call = parseCniCall(JSON.stringify({ env: { CNI_COMMAND: 'ADD', PATH: '/bin', LD_PRELOAD: 'x', CNI_ARGS: 5 }, config: Buffer.from('{"a":1}').toString('base64') }));
  t.same(call, { env: { CNI_COMMAND: 'ADD' }, stdin: '{"a":1}' });
  t.throws(() => parseCniCall('nope'), CniError);
  t.throws(() => parseCniCall('{"env":{}}'), /"config"/);
});

t.test('the agent never delegates to itself, and reports each delegate call', async (t) => {
  const calls: DelegateCall[] = [];
  const inner = { run: async () => ({ cniVersion: '1.0.0' }) };
  const executor = new GuardedExecutor(inner, new Set(['nicplex', 'multus-shim']), (call) => calls.push(call));
  const invocation = { command: 'ADD', containerId: 'c', netns: '/x', ifname: 'eth0', cniArgs: '', stdin: {} };
  await t.rejects(executor.run({ ...invocation, type: 'multus-shim' }), /this meta-CNI itself/);
  t.same(await executor.run({ ...invocation, type: 'bridge' }), { cniVersion: '1.0.0' });
  t.equal(calls.length, 1, 'the refused call never ran');
  t.match(calls[0], { type: 'bridge', command: 'ADD', ok: true });
});

t.test('primary conf: first .conf/.conflist by name that is not a meta-plugin; conf generated as Multus does', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'npx-primary-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal(findPrimaryConf(dir, { ownFile: '00-multus.conf' }), undefined, 'none in an empty dir');
  writeFileSync(join(dir, '00-multus.conf'), JSON.stringify({ cniVersion: '0.3.1', type: 'bridge' }));
  writeFileSync(join(dir, '05-self.conflist'), JSON.stringify({ cniVersion: '0.3.1', name: 'n', plugins: [{ type: 'nicplex' }] }));
  writeFileSync(join(dir, '07-broken.conf'), '{');
  writeFileSync(join(dir, '08-x.json'), JSON.stringify({ cniVersion: '0.3.1', type: 'bridge' }));
  writeFileSync(join(dir, '10-calico.conflist'), JSON.stringify({ cniVersion: '0.3.1', name: 'k8s-pod-network', plugins: [{ type: 'calico' }, { type: 'portmap', capabilities: { portMappings: true, other: false } }] }));
  const primary = findPrimaryConf(dir, { ownFile: '00-multus.conf' });
  t.equal(primary?.path, join(dir, '10-calico.conflist'));
  t.same(generateConf(primary!, { type: 'multus-shim', cniVersion: '0.3.1', extra: { daemonSocketDir: '/run/multus' } }), {
    cniVersion: '0.3.1', name: 'multus-cni-network', type: 'multus-shim', capabilities: { portMappings: true },
    clusterNetwork: join(dir, '10-calico.conflist'), daemonSocketDir: '/run/multus',
  });
  t.throws(() => generateConf(primary!, { type: 'nicplex', cniVersion: '1.0.0', extra: {} }), /delegate cni version is 0.3.1 while top level cni version is 1.0.0/);
  t.equal(findPrimaryConf(dir, { ownFile: '00-multus.conf', masterFile: '08-x.json' }), undefined, 'multusMasterCNI must still be a .conf/.conflist');
});

t.test('the pod-resources token bucket: a burst at once, then the rate', async (t) => {
  const bucket = new TokenBucket(50, 3);
  const started = Date.now();
  let served = 0;
  for (let index = 0; index < 4; index++) void bucket.take().then(() => { served++; });
  await tick(0);
  t.equal(served, 3, 'the burst is served at once, the 4th waits for a token');
  await Promise.all(Array.from({ length: 5 }, () => bucket.take()));
  const elapsed = Date.now() - started;
  t.ok(elapsed >= 100, `6 more at 50/s take at least 100 ms (${elapsed} ms)`);
  t.throws(() => new TokenBucket(0, 1), RangeError);
});

t.test('the results cache write: in place when it resolves, flushed in the background', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'npx-cachewrite-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const plan = { kind: 'nicplexPlanV1', containerId: 'c1', netns: '/x', ifname: 'eth0', requestCniVersion: '1.0.0', attachments: [] } as unknown as CacheState['plan'];
  const errors: Error[] = [];
  await writeCache(dir, { plan, results: {} });
  await writeCache(dir, { plan, results: { eth0: { cniVersion: '1.0.0' } } }, { onError: (error) => errors.push(error) });
  const read = await readCache(dir, 'c1');
  t.same(read.kind === 'found' ? read.state.results : read, { eth0: { cniVersion: '1.0.0' } }, 'the new content is read back at once');
  await flushCacheWrites();
  t.same(readdirSync(dir), ['c1'], 'no temp file is left once the flush is done');
  t.same(errors, []);
  // The primitive: the content is in place when it resolves, on disk when synced settles.
  const { synced } = await writeFileAtomicSyncAfter(join(dir, 'other'), 'x');
  await synced;
  t.equal(readFileSync(join(dir, 'other'), 'utf8'), 'x');
  await t.rejects(writeFileAtomicSyncAfter(join(dir, 'missing-dir', 'f'), 'x'), { code: 'ENOENT' }, 'an open failure rejects the write itself');
});
