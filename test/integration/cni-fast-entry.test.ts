// Thin mode through the fast entry (build/Release/nicplex-cni, the one-file bundle) and through the plain
// `node dist/deploy/nicplex.js cni`: a standalone ADD, CHECK and DEL with real bridge and macvlan delegates
// give the same answers and the same links; a Kubernetes-mode ADD against the fake API server too.
import t from 'tap';
import { join } from 'node:path';
import { cniEnv, type CniCall } from '../helpers/cni-lab.js';
import { k8sFixture } from '../helpers/cni-k8s-fixture.js';

const { lab, api, baseConf, newPod } = k8sFixture('cf');
lab.hostVeth('mvf0', 'mvf0p');
const bridgeName = `npxfb${process.pid % 10000}`;

/** A result with what differs between two runs (MACs, host veth names, the sandbox path) taken out. */
function comparable(call: CniCall): unknown {
  return JSON.parse(call.stdout.replace(/"mac":"[0-9a-f:]+"/g, '"mac":"M"').replace(/"veth[0-9a-f]+"/g, '"VETH"').replace(/\/var\/run\/netns\/[^"]+/g, 'NETNS')) as unknown;
}

function delegates(ipamDir: string) {
  return [
    { cniVersion: '1.0.0', name: 'fbr', plugins: [{ type: 'bridge', bridge: bridgeName, isGateway: true, ipam: { type: 'static', addresses: [{ address: '10.231.58.2/24' }] } }] },
    { cniVersion: '1.0.0', name: 'fmv', plugins: [{ type: 'macvlan', master: 'mvf0', mode: 'bridge', ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: '10.231.59.0/24', rangeStart: '10.231.59.10', rangeEnd: '10.231.59.10' }]] } }] },
  ];
}

t.test('standalone ADD, CHECK, DEL: the same through both entries', async (t) => {
  const answers: Record<string, unknown[]> = {};
  for (const entry of ['fast', 'plain'] as const) {
    const netns = lab.containerNetns(entry === 'fast' ? 'f' : 'p');
    const conf = {
      cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: join(lab.dir, `cache-${entry}`), logLevel: 'error',
      standalone: { nadDir: join(lab.dir, 'no-nads'), allocationDir: join(lab.dir, `alloc-${entry}`), devicePools: {} },
      delegates: delegates(join(lab.dir, `ipam-${entry}`)),
    };
    const add = await lab.runCni(cniEnv('ADD', `c-${entry}`, netns.path), conf, entry);
    t.equal(add.exitCode, 0, `${entry} ADD: ${add.stdout}`);
    t.same(lab.links(netns.name).map((link) => link.ifname).sort(), ['eth0', 'lo', 'net1'], `${entry}: eth0 and net1 in the pod`);
    const check = await lab.runCni(cniEnv('CHECK', `c-${entry}`, netns.path), conf, entry);
    const again = await lab.runCni(cniEnv('ADD', `c-${entry}`, netns.path), conf, entry);
    const del = await lab.runCni(cniEnv('DEL', `c-${entry}`, netns.path), conf, entry);
    t.equal(del.exitCode, 0, `${entry} DEL: ${del.stdout}`);
    t.same(lab.links(netns.name).map((link) => link.ifname), ['lo'], `${entry}: DEL removed them`);
    answers[entry] = [comparable(add), check.exitCode, check.stdout, again.exitCode, again.stdout.replaceAll(entry, 'E'), del.stdout];
  }
  t.same(answers['fast'], answers['plain'], 'same results and errors');
  t.match(answers['fast']![0], { interfaces: [{ name: bridgeName }], ips: [{ address: '10.231.58.2/24' }] }, 'a real result (the cluster network\'s)');
});

t.test('Kubernetes mode ADD and DEL against the fake API server: the same through both entries', async (t) => {
  const answers: Record<string, unknown[]> = {};
  for (const entry of ['fast', 'plain'] as const) {
    const { pod, netns, containerId, args } = newPod({ 'k8s.v1.cni.cncf.io/networks': JSON.stringify([{ name: 'macvlan-a', ips: ['10.231.41.7/24'] }]) });
    const conf = baseConf({ cniDir: join(lab.dir, `kcache-${entry}`) });
    const add = await lab.runCni(cniEnv('ADD', containerId, netns.path, 'eth0', args), conf, entry);
    t.equal(add.exitCode, 0, `${entry} ADD: ${add.stdout}`);
    const status = JSON.parse(api.podAnnotations('default', pod.name)?.['k8s.v1.cni.cncf.io/network-status'] ?? '[]') as Array<Record<string, unknown>>;
    const del = await lab.runCni(cniEnv('DEL', containerId, netns.path, 'eth0', args), conf, entry);
    t.equal(del.exitCode, 0, `${entry} DEL: ${del.stdout}`);
    t.same(lab.links(netns.name).map((link) => link.ifname), ['lo'], `${entry}: DEL removed the pod's links`);
    // The cluster network's host-local address differs between the two pods; the rest must not.
    const result = comparable(add) as { ips: Array<{ address: string }> };
    answers[entry] = [result.ips.slice(1), status.map((entry, index) => [entry['name'], entry['interface'], index === 0 ? 'host-local' : entry['ips']]), del.stdout];
  }
  t.same(answers['fast'], answers['plain'], 'same NAD results, same network-status');
  const status = answers['fast']![1] as unknown[][];
  t.same(status.map((entry) => entry.slice(0, 2)), [['kube-system/cluster-br', 'eth0'], ['default/macvlan-a', 'net1']], 'network-status names both networks');
  t.same(status[1]![2], ['10.231.41.7'], 'the NAD from the API server was attached with the annotation\'s address');
});
