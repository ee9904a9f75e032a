// `nicplex status` against a real standalone agent in a private netns: an ADD through the shim shows up
// as attachments with network-status and a held pool device, DEL makes them go; no agent is an error
// naming the socket.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CniLab, cniEnv, REFERENCE_PLUGIN_DIR } from '../helpers/cni-lab.js';
import { AgentProcess, runShim } from '../helpers/agent-harness.js';
import { cliPath } from '../helpers/paths.js';
import type { AgentStatus } from '../../deploy/agent-status.js';

const run = promisify(execFile);
const lab = new CniLab('st');
t.teardown(() => lab.cleanup());
const socketDir = join(lab.dir, 'sock');
const nadDir = join(lab.dir, 'nads');
const ipamDir = join(lab.dir, 'ipam');
const cacheDir = join(lab.dir, 'cache');
const allocationDir = join(lab.dir, 'alloc');
mkdirSync(nadDir, { recursive: true });
lab.hostVeth('stmv0', 'stmv0p');
writeFileSync(join(nadDir, 'mv.yaml'), `apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: mv
  namespace: default
  annotations:
    k8s.v1.cni.cncf.io/resourceName: example.com/port
spec:
  config: '${JSON.stringify({ cniVersion: '1.0.0', name: 'mv', type: 'macvlan', master: 'stmv0', mode: 'bridge', ipam: { type: 'host-local', dataDir: ipamDir, subnet: '10.231.91.0/24' } })}'
`);
const conf = {
  cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: cacheDir, binDir: REFERENCE_PLUGIN_DIR, socketDir, agentWaitSeconds: 1,
  standalone: { nadDir, allocationDir, devicePools: { 'example.com/port': ['p0', 'p1', 'p2'] } },
  delegates: [{ cniVersion: '1.0.0', name: 'stbr', plugins: [{ type: 'bridge', bridge: `npxsb${process.pid % 10000}`, ipam: { type: 'host-local', dataDir: ipamDir, subnet: '10.231.90.0/24' } }] }],
};
const podEnv = (command: string, id: string, netns: string) =>
  cniEnv(command, id, netns, 'eth0', `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;NICPLEX_NETWORKS=mv`);

async function status(dir = socketDir): Promise<AgentStatus> {
  const { stdout } = await run(process.execPath, [cliPath, 'status', '--socket-dir', dir, '--output', 'json'], { timeout: 30_000 });
  return JSON.parse(stdout) as AgentStatus;
}

t.test('ADD through the shim shows in nicplex status --output json; DEL removes it', async (t) => {
  const agent = await AgentProcess.start(lab, ['--socket-dir', socketDir], join(socketDir, 'nicplex.sock'));
  t.teardown(() => agent.stop('SIGKILL'));
  const ctr = lab.containerNetns('c1');
  const add = await runShim(podEnv('ADD', 'stc1', ctr.path), conf);
  t.equal(add.exitCode, 0, add.stdout + agent.stderr());

  const after = await status();
  t.equal(after.ready, true, 'a standalone agent without pools is ready');
  t.equal(after.kubelet.registration, 'none', 'no device plugin: no kubelet registration');
  t.same(after.attachments.map((a) => [a.pod, a.containerId, a.network, a.interface, a.device]), [
    ['default/web', 'stc1', 'stbr', 'eth0', null],
    ['default/web', 'stc1', 'default/mv', 'net1', 'p0'],
  ], 'both attachments, the NAD one holding the pool\'s first device');
  const ips = Object.fromEntries(lab.links(ctr.name).map((link) => [link.ifname, link.addr_info?.find((info) => info.family === 'inet')?.local]));
  t.same(after.attachments.map((a) => a.ips), [[ips['eth0']], [ips['net1']]], 'the status IPs are the ones inside the container');
  t.same(after.containers[0]?.networkStatus.map((entry) => [entry.name, entry.interface, entry.default ?? false]), [['stbr', 'eth0', true], ['default/mv', 'net1', false]], 'network-status rebuilt from the cache');
  t.same(after.pools, [{ resourceName: 'example.com/port', source: 'standalone', total: 3, healthy: null, allocated: 1, holders: { p0: 'stc1' } }], 'pool counts');
  t.same(after.caches.find((cache) => cache.dir === cacheDir), { dir: cacheDir, containers: 1, foreign: [], corrupt: [] }, 'one cached container');

  const table = (await run(process.execPath, [cliPath, 'status', '--socket-dir', socketDir], { timeout: 30_000 })).stdout;
  t.match(table, /default\/web\s+stc1\s+default\/mv\s+net1\s+p0\s+10\.231\.91\./, 'the table shows the attachment');

  const del = await runShim(podEnv('DEL', 'stc1', ctr.path), conf);
  t.equal(del.exitCode, 0, del.stdout);
  const gone = await status();
  t.same(gone.attachments, [], 'no attachment after DEL');
  t.equal(gone.pools[0]?.allocated, 0, 'the device is released');
  t.same(gone.caches.find((cache) => cache.dir === cacheDir)?.containers, 0);
});

t.test('no agent: exit 1 and an error naming the socket', async (t) => {
  const missing = join(lab.dir, 'no-agent');
  const failed = await run(process.execPath, [cliPath, 'status', '--socket-dir', missing], { timeout: 30_000 }).then(() => undefined, (error: { code: number; stderr: string }) => error);
  t.equal(failed?.code, 1, 'non-zero exit');
  t.match(failed?.stderr ?? '', `no nicplex agent answers on ${join(missing, 'nicplex.sock')} (ENOENT)`, 'names the socket and why');
});
