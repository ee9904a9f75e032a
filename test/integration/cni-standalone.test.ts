// Standalone mode (no Kubernetes): NADs from YAML/JSON files, networks chosen by CNI args, args.cni or the
// CRI pod-annotations capability, devices from the agent's own pools. Real bridge/macvlan/static delegates.
import t from 'tap';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniLab, cniEnv } from '../helpers/cni-lab.js';

const lab = new CniLab('cs');
const nadDir = join(lab.dir, 'nads');
const bridgeName = `npxsb${process.pid % 10000}`;
const spyBin = lab.writeSpyPlugin('spy');
t.teardown(() => lab.cleanup());

mkdirSync(nadDir, { recursive: true });
writeFileSync(join(nadDir, 'macvlan.yaml'), `# two NADs in one file
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: mv-static
  namespace: default
spec:
  config: |
    {
      "cniVersion": "1.0.0",
      "name": "mv-static",
      "plugins": [{"type": "macvlan", "master": "mvs0", "mode": "bridge",
                   "capabilities": {"ips": true, "mac": true},
                   "ipam": {"type": "static", "capabilities": {"ips": true}}}]
    }
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: mv-fixed
  namespace: lab
spec:
  config: '{"cniVersion":"0.4.0","name":"mv-fixed","type":"macvlan","master":"mvs0","ipam":{"type":"static","addresses":[{"address":"10.231.51.9/24"}]}}'
`);
writeFileSync(join(nadDir, 'dev.json'), JSON.stringify({
  apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
  metadata: { name: 'pooled', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/resourceName': 'example.com/pool' } },
  spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: 'pooled', type: 'spy', capabilities: { deviceID: true } }) },
}));

function conf(extra: Record<string, unknown> = {}) {
  return {
    cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: join(lab.dir, 'cache'), binDir: spyBin, logLevel: 'error',
    standalone: { nadDir, allocationDir: join(lab.dir, 'alloc'), devicePools: { 'example.com/pool': ['0000:00:09.1', '0000:00:09.0'] } },
    delegates: [{ cniVersion: '1.0.0', name: 'sbr', plugins: [{ type: 'bridge', bridge: bridgeName, isGateway: true, ipam: { type: 'host-local', dataDir: join(lab.dir, 'ipam'), subnet: '10.231.50.0/24' } }] }],
    ...extra,
  };
}

function inet(netns: string, ifname: string): string[] {
  return (lab.link(netns, ifname)?.addr_info ?? []).filter((addr) => addr.family === 'inet').map((addr) => `${addr.local}/${addr.prefixlen}`);
}

lab.hostVeth('mvs0', 'mvs0p');

t.test('podman-style request: networks from CNI_ARGS NICPLEX_NETWORKS, NADs from YAML, real delegates', async (t) => {
  const ns = lab.containerNetns('p1');
  const args = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=web;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=podman1;NICPLEX_NETWORKS=lab/mv-fixed@lan0';
  const add = await lab.runCni(cniEnv('ADD', 'podman1', ns.path, 'eth0', args), conf());
  t.equal(add.exitCode, 0, add.stdout + add.stderr);
  t.match(inet(ns.name, 'eth0')[0], /^10\.231\.50\.\d+\/24$/);
  t.same(inet(ns.name, 'lan0'), ['10.231.51.9/24']);
  const del = await lab.runCni(cniEnv('DEL', 'podman1', ns.path, 'eth0', args), conf());
  t.equal(del.exitCode, 0, del.stdout);
  t.equal(lab.link(ns.name, 'lan0'), undefined);
  t.equal(lab.link(ns.name, 'eth0'), undefined);
});

t.test('containerd-style request: the networks annotation through the io.kubernetes.cri.pod-annotations capability; args.cni.networks JSON form', async (t) => {
  const ns = lab.containerNetns('p2');
  const annotations = { 'k8s.v1.cni.cncf.io/networks': JSON.stringify([{ name: 'mv-static', ips: ['10.231.52.4/24'], mac: '02:aa:bb:cc:dd:01' }]) };
  const viaCapability = conf({ capabilities: { 'io.kubernetes.cri.pod-annotations': true }, runtimeConfig: { 'io.kubernetes.cri.pod-annotations': annotations } });
  const args = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=sandbox;K8S_POD_INFRA_CONTAINER_ID=cd1';
  const add = await lab.runCni(cniEnv('ADD', 'cd1', ns.path, 'eth0', args), viaCapability);
  t.equal(add.exitCode, 0, add.stdout + add.stderr);
  t.same(inet(ns.name, 'net1'), ['10.231.52.4/24']);
  t.equal(lab.link(ns.name, 'net1')?.address, '02:aa:bb:cc:dd:01');
  t.equal((await lab.runCni(cniEnv('DEL', 'cd1', ns.path, 'eth0', args), viaCapability)).exitCode, 0);

  const viaArgs = conf({ args: { cni: { networks: [{ name: 'mv-static', interface: 'fast0', ips: ['10.231.52.5/24'] }] } } });
  const add2 = await lab.runCni(cniEnv('ADD', 'cd2', ns.path, 'eth0'), viaArgs);
  t.equal(add2.exitCode, 0, add2.stdout + add2.stderr);
  t.same(inet(ns.name, 'fast0'), ['10.231.52.5/24']);
  t.equal((await lab.runCni(cniEnv('DEL', 'cd2', ns.path, 'eth0'), viaArgs)).exitCode, 0);
  t.equal(lab.link(ns.name, 'fast0'), undefined);
});

t.test('standalone device pools: sorted allocation, exhaustion error, release on DEL and GC', async (t) => {
  const ns = lab.containerNetns('p3');
  const pooled = (id: string) => lab.runCni(cniEnv('ADD', id, ns.path, `e${id.slice(-1)}`, 'NICPLEX_NETWORKS=pooled'), conf());
  const first = await pooled('pod1');
  t.equal(first.exitCode, 0, first.stdout + first.stderr);
  const second = await pooled('pod2');
  t.equal(second.exitCode, 0, second.stdout);
  const devices = lab.spyCalls().filter((call) => call.file.includes('-ADD-')).map((call) => [call.env['CNI_CONTAINERID'], call.stdin['deviceID']]);
  t.same(devices, [['pod1', '0000:00:09.0'], ['pod2', '0000:00:09.1']]);
  const third = await pooled('pod3');
  t.equal(third.exitCode, 1);
  t.match(String(third.json?.['msg']), /standalone device pool "example.com\/pool" has 2 device\(s\) and not enough are free/);
  t.equal(lab.link(ns.name, 'e3'), undefined, 'the cluster network of the failed ADD was rolled back');
  t.equal((await lab.runCni(cniEnv('DEL', 'pod1', ns.path, 'e1', 'NICPLEX_NETWORKS=pooled'), conf())).exitCode, 0);
  const fourth = await pooled('pod4');
  t.equal(fourth.exitCode, 0, 'the released device is handed out again');
  const gc = await lab.runCni({ CNI_COMMAND: 'GC' }, { ...conf(), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'pod4', ifname: 'e4' }] });
  t.equal(gc.exitCode, 0, gc.stdout);
  const allocations = readdirSync(join(lab.dir, 'alloc', 'example.com_pool'));
  t.same(allocations, ['0000:00:09.0'], 'GC released pod2\'s device and kept pod4\'s');
  t.notOk(existsSync(join(lab.dir, 'cache', 'pod2')));
});

t.test('a standalone DEL whose cache is gone still releases the container\'s devices and networks', async (t) => {
  const ns = lab.containerNetns('p4');
  const add = await lab.runCni(cniEnv('ADD', 'pod5', ns.path, 'eth0', 'NICPLEX_NETWORKS=pooled'), conf());
  t.equal(add.exitCode, 0, add.stdout + add.stderr);
  t.same(readdirSync(join(lab.dir, 'alloc', 'example.com_pool')).sort(), ['0000:00:09.0', '0000:00:09.1']);
  t.ok(lab.link(ns.name, 'eth0'));
  writeFileSync(join(lab.dir, 'cache', 'pod5'), '');
  const del = await lab.runCni(cniEnv('DEL', 'pod5', ns.path, 'eth0', 'NICPLEX_NETWORKS=pooled'), conf());
  t.equal(del.exitCode, 0, del.stdout + del.stderr);
  t.same(readdirSync(join(lab.dir, 'alloc', 'example.com_pool')), ['0000:00:09.0'], 'pod5\'s device released, pod4\'s kept');
  t.equal(lab.link(ns.name, 'eth0'), undefined, 'the cluster network rebuilt from the config and deleted');
});

t.test('default-route moves the pod\'s default route to the requested gateway on that attachment', async (t) => {
  const ns = lab.containerNetns('p5');
  const withRoutes = conf({
    delegates: [{ cniVersion: '1.0.0', name: 'sbr', plugins: [{ type: 'bridge', bridge: bridgeName, isGateway: true, ipam: { type: 'host-local', dataDir: join(lab.dir, 'ipam'), subnet: '10.231.50.0/24', routes: [{ dst: '0.0.0.0/0' }] } }] }],
    args: { cni: { networks: [{ name: 'mv-static', ips: ['10.231.52.6/24'], 'default-route': ['10.231.52.1'] }] } },
  });
  const add = await lab.runCni(cniEnv('ADD', 'dr1', ns.path, 'eth0'), withRoutes);
  t.equal(add.exitCode, 0, add.stdout + add.stderr);
  const defaults = lab.routes(ns.name).filter((route) => route.dst === 'default');
  t.same(defaults.map((route) => [route.gateway, route.dev]), [['10.231.52.1', 'net1']]);
  t.same((add.json?.['routes'] as unknown[] | undefined)?.filter((route) => (route as { dst: string }).dst === '0.0.0.0/0') ?? [], [], 'the cluster result no longer claims the default route');
  t.equal((await lab.runCni(cniEnv('DEL', 'dr1', ns.path, 'eth0'), withRoutes)).exitCode, 0);
  t.equal(lab.link(ns.name, 'net1'), undefined);
});
