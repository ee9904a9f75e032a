// 32 pods ADDed at once for a standalone pool of 8 devices, through the agent and in thin mode (one
// `nicplex cni` process per call): exactly 8 succeed, 24 fail with CNI code 11 naming the pool, no device
// is claimed twice, and a failed pod leaves nothing behind (no cache, lease, claim, link).
import t, { type Test } from 'tap';
import { POOL_RESOURCE, ReliabilityNode } from '../helpers/reliability-node.js';
import type { CniCall } from '../helpers/cni-lab.js';

const node = new ReliabilityNode('pr', { hostDevices: 0, poolDevices: 8 });
t.teardown(() => node.cleanup());
const PODS = 32;

async function race(t: Test, mode: 'agent' | 'thin'): Promise<void> {
  const pods = Array.from({ length: PODS }, (_, index) => ({ id: `pr${mode}${index}`, ns: node.lab.containerNetns(`${mode[0]}${index}`) }));
  const linksBefore = node.nodeLinks().map((link) => link.name);
  const started = Date.now();
  const calls: CniCall[] = await Promise.all(pods.map((pod) => (mode === 'agent' ? node.shim : node.thin).call(node, 'ADD', pod.id, pod.ns.path, 'pooled')));
  const seconds = (Date.now() - started) / 1000;
  const won = pods.filter((_, index) => calls[index]!.exitCode === 0);
  const lost = pods.map((pod, index) => ({ pod, call: calls[index]! })).filter(({ call }) => call.exitCode !== 0);
  const owners = node.claimOwners();
  t.comment(`${mode}: ${PODS} concurrent ADDs for ${node.poolDevices.length} devices in ${seconds.toFixed(1)} s: ${won.length} succeeded, ${lost.length} failed; claims ${owners.size}, distinct owners ${new Set(owners.values()).size}`);
  t.equal(won.length, 8, 'exactly 8 succeed');
  t.equal(lost.length, 24, '24 fail');
  const messages = new Set(lost.map(({ call }) => `${String(call.json?.['code'])} ${String(call.json?.['msg'])}`));
  t.ok(lost.every(({ call }) => call.json?.['code'] === 11 && String(call.json?.['msg']).includes(`standalone device pool "${POOL_RESOURCE}" has 8 device(s) and not enough are free`)), `each with code 11 naming the pool (${[...messages][0]})`);
  t.equal(owners.size, 8, 'eight claims');
  t.same([...owners.values()].sort(), won.map((pod) => pod.id).sort(), 'each claim belongs to a winner, no device twice');
  t.same(node.caches().sort(), won.map((pod) => pod.id).sort(), 'only winners have a cache entry');
  t.equal(node.leases().length, 16, 'winners hold two leases each (cluster and pooled), losers none');
  for (const { pod } of lost) {
    const links = node.linkNames(pod.ns.name);
    if (links.length !== 1) t.fail(`${pod.id} kept ${links.join(', ')}`);
  }
  t.pass('every failed pod netns holds only lo');
  for (const pod of won) t.same(node.linkNames(pod.ns.name), ['eth0', 'lo', 'net1'], `${pod.id}: eth0 and net1`);
  const dels = await Promise.all(pods.map((pod) => (mode === 'agent' ? node.shim : node.thin).call(node, 'DEL', pod.id, pod.ns.path, 'pooled')));
  t.equal(dels.filter((call) => call.exitCode !== 0).length, 0, 'every DEL succeeds, also for the pods that failed');
  t.same(node.podFiles(), [], 'nothing left on disk');
  t.same(node.nodeLinks().map((link) => link.name), linksBefore, 'no link left in the node');
}

t.test('through the agent', async (t) => {
  const agent = await node.startAgent();
  t.teardown(() => agent.stop('SIGKILL'));
  await race(t, 'agent');
});

t.test('thin mode', async (t) => {
  await race(t, 'thin');
});
