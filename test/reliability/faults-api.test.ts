// API server and kubelet faults in Kubernetes mode, thin mode (`nicplex cni` per call, the reference
// plugins as delegates) against the fake API server: down (refusing), 500s, 429s and slower than the client
// timeout. ADD fails with CNI error 11 naming the pod within a bound and changes nothing; DEL of an added pod
// cleans from the cache while the API is down or slow; the pod-resources socket missing fails only the ADDs
// that need a device, naming the socket.
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { k8sFixture } from '../helpers/cni-k8s-fixture.js';
import { cniEnv } from '../helpers/cni-lab.js';

const f = k8sFixture('fa');
const { lab, api } = f;
const conf = () => f.baseConf({ podLookupTimeoutMs: 1500 });
const linkNames = (netns: string) => lab.links(netns).map((link) => link.ifname).sort();
const cached = () => (existsSync(f.cniDir) ? readdirSync(f.cniDir).filter((name) => !name.startsWith('.')) : []);
const figures: string[] = [];
/** The macvlan NADs use static IPAM: the annotation gives the address. */
const secondary = { 'k8s.v1.cni.cncf.io/networks': JSON.stringify([{ name: 'macvlan-a', ips: ['10.231.41.5/24'] }]) };
t.teardown(() => { api.fault = { kind: 'none' }; });

async function timed<T>(what: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await run();
  figures.push(`${what}: ${Date.now() - started} ms`);
  return result;
}

t.test('ADD while the API server is down, failing or slow: error 11 naming the pod within a bound, nothing changed', async (t) => {
  const faults: Array<{ name: string; apply: () => Promise<void>; boundMs: number; message: RegExp }> = [
    { name: 'down (refusing)', apply: () => api.pause(), boundMs: 8000, message: /cannot read pod default\/pod-\d+ from the API server/ },
    { name: 'HTTP 500', apply: async () => { api.fault = { kind: 'status', code: 500 }; }, boundMs: 8000, message: /cannot read pod default\/pod-\d+ from the API server.*500/ },
    { name: 'HTTP 429', apply: async () => { api.fault = { kind: 'status', code: 429 }; }, boundMs: 8000, message: /cannot read pod default\/pod-\d+ from the API server.*429/ },
    // The client gives a request 15 s; an answer that takes 20 s is a timeout.
    { name: 'slower than the client timeout', apply: async () => { api.fault = { kind: 'slow', ms: 20_000 }; }, boundMs: 22_000, message: /cannot read pod default\/pod-\d+ from the API server.*(no answer within|ETIMEDOUT|timed out)/i },
  ];
  for (const fault of faults) {
    const p = f.newPod(secondary);
    await fault.apply();
    const started = Date.now();
    const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
    const ms = Date.now() - started;
    if (fault.name.startsWith('down')) await api.resume();
    api.fault = { kind: 'none' };
    figures.push(`ADD, API ${fault.name}: code ${String(add.json?.['code'])} after ${ms} ms`);
    t.equal(add.exitCode, 1, `${fault.name}: ADD fails`);
    t.equal(add.json?.['code'], 11, `${fault.name}: try again later`);
    t.match(String(add.json?.['msg']), fault.message, `${fault.name}: ${String(add.json?.['msg'])}`);
    t.ok(ms < fault.boundMs, `${fault.name}: answered in ${ms} ms (bound ${fault.boundMs} ms)`);
    t.same(linkNames(p.netns.name), ['lo'], `${fault.name}: no interface created`);
    t.same(cached(), [], `${fault.name}: no cache left`);
    t.same(f.ipamLeases(), [], `${fault.name}: no IP leased`);
  }
});

t.test('transient 500s within the lookup window: ADD retries and succeeds', async (t) => {
  const p = f.newPod(secondary);
  api.failures.set(`/pods/${p.pod.name}`, 2);
  const add = await timed('ADD after two 500s', () => lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf()));
  t.equal(add.exitCode, 0, add.stdout + add.stderr);
  const del = await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), conf());
  t.equal(del.exitCode, 0, del.stdout);
});

t.test('DEL while the API server is down or slow cleans from the cache', async (t) => {
  const outages: Array<{ name: string; apply: () => Promise<void>; undo: () => Promise<void> }> = [
    { name: 'down', apply: () => api.pause(), undo: () => api.resume() },
    { name: 'slow (20 s per request)', apply: async () => { api.fault = { kind: 'slow', ms: 20_000 }; }, undo: async () => { api.fault = { kind: 'none' }; } },
    { name: 'HTTP 500', apply: async () => { api.fault = { kind: 'status', code: 500 }; }, undo: async () => { api.fault = { kind: 'none' }; } },
  ];
  for (const outage of outages) {
    const p = f.newPod(secondary);
    const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), conf());
    t.equal(add.exitCode, 0, `ADD with the API up: ${add.stdout}`);
    t.same(linkNames(p.netns.name), ['eth0', 'lo', 'net1']);
    await outage.apply();
    const started = Date.now();
    const del = await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), conf());
    const ms = Date.now() - started;
    await outage.undo();
    figures.push(`DEL, API ${outage.name}: exit ${del.exitCode} after ${ms} ms`);
    t.equal(del.exitCode, 0, `API ${outage.name}: DEL succeeds (${del.stdout})`);
    t.ok(ms < 8000, `API ${outage.name}: in ${ms} ms`);
    t.same(linkNames(p.netns.name), ['lo'], `API ${outage.name}: both interfaces removed`);
    t.same(f.ipamLeases(), [], `API ${outage.name}: the lease is released`);
    t.same(cached(), [], `API ${outage.name}: the cache is gone`);
  }
});

t.test('the kubelet pod-resources socket missing: an ADD that needs a device fails naming it; others work', async (t) => {
  api.addNad({ namespace: 'default', name: 'dev-net', config: f.macvlanConf('dev-net'), annotations: { 'k8s.v1.cni.cncf.io/resourceName': 'example.com/vf' } });
  const needsDevice = f.newPod({ 'k8s.v1.cni.cncf.io/networks': JSON.stringify([{ name: 'dev-net', ips: ['10.231.41.6/24'] }]) });
  const add = await timed('ADD needing a device, no pod-resources socket', () => lab.runCni(cniEnv('ADD', needsDevice.containerId, needsDevice.netns.path, 'eth0', needsDevice.args), conf()));
  t.equal(add.exitCode, 1, 'ADD fails');
  t.match(String(add.json?.['msg']), f.baseConf().podResourcesSocket as string, `the error names the socket: ${String(add.json?.['msg'])}`);
  t.same(linkNames(needsDevice.netns.name), ['lo'], 'nothing created');
  t.same(cached(), [], 'no cache left');
  const plain = f.newPod(secondary);
  const ok = await lab.runCni(cniEnv('ADD', plain.containerId, plain.netns.path, 'eth0', plain.args), conf());
  t.equal(ok.exitCode, 0, `a pod without device networks still works: ${ok.stdout}`);
  t.equal((await lab.runCni(cniEnv('DEL', plain.containerId, plain.netns.path, 'eth0', plain.args), conf())).exitCode, 0);
  t.same(f.ipamLeases(), []);
});

t.test('figures', async (t) => {
  for (const line of figures) t.comment(line);
  t.pass(`${figures.length} timed fault cases`);
});
