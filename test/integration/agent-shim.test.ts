// `nicplex agent` with the C shim as the CNI plugin: real namespaces, the reference plugins from
// /usr/lib/cni as delegates. The shim's answer when the agent is absent, a SIGKILL in the middle of an
// ADD followed by the runtime's DEL, 200 concurrent ADDs, and the socket's permissions.
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniLab, cniEnv, REFERENCE_PLUGIN_DIR } from '../helpers/cni-lab.js';
import { AgentProcess, runShim } from '../helpers/agent-harness.js';

const lab = new CniLab('ag');
t.teardown(() => lab.cleanup());
const bridgeName = `npxab${process.pid % 10000}`;
const socketDir = join(lab.dir, 'sock');
const socketPath = join(socketDir, 'nicplex.sock');
const nadDir = join(lab.dir, 'nads');
const binDir = join(lab.dir, 'bin');
const ipamDir = join(lab.dir, 'ipam');
const cacheDir = join(lab.dir, 'cache');
const allocationDir = join(lab.dir, 'alloc');
mkdirSync(nadDir, { recursive: true });
mkdirSync(binDir, { recursive: true });
lab.hostVeth('agmv0', 'agmv0p');

// A macvlan that takes its time: the window in which the agent is killed mid-ADD.
writeFileSync(join(binDir, 'slow-macvlan'), `#!/bin/sh\n[ "$CNI_COMMAND" = ADD ] && sleep 1.5\nexec ${REFERENCE_PLUGIN_DIR}/macvlan\n`);
chmodSync(join(binDir, 'slow-macvlan'), 0o755);
const nad = (name: string, type: string, address: string, resourceName?: string) => ({
  apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
  metadata: { name, namespace: 'default', ...(resourceName ? { annotations: { 'k8s.v1.cni.cncf.io/resourceName': resourceName } } : {}) },
  spec: { config: JSON.stringify({ cniVersion: '1.0.0', name, type, master: 'agmv0', mode: 'bridge', ipam: { type: 'host-local', dataDir: ipamDir, subnet: address } }) },
});
writeFileSync(join(nadDir, 'mv.json'), JSON.stringify(nad('mv', 'macvlan', '10.231.81.0/24')));
writeFileSync(join(nadDir, 'slow.json'), JSON.stringify(nad('slow', 'slow-macvlan', '10.231.82.0/24', 'example.com/dev')));

const conf = (extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: cacheDir, binDir, socketDir, agentWaitSeconds: 1,
  standalone: { nadDir, allocationDir, devicePools: { 'example.com/dev': ['dev0', 'dev1'] } },
  delegates: [{ cniVersion: '1.0.0', name: 'agbr', plugins: [{ type: 'bridge', bridge: bridgeName, isGateway: true, ipam: { type: 'host-local', dataDir: ipamDir, subnet: '10.231.80.0/24' } }] }],
  ...extra,
});
const podEnv = (command: string, id: string, netns: string, networks: string, ifname = 'eth0') =>
  ({ ...cniEnv(command, id, netns, ifname, `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id};NICPLEX_NETWORKS=${networks}`), CNI_PATH: `${binDir}:${REFERENCE_PLUGIN_DIR}` });
const linkNames = (netns: string) => lab.links(netns).map((link) => link.ifname).sort();
/** host-local lease files (everything but its bookkeeping), across all networks. */
const leases = () => (existsSync(ipamDir) ? readdirSync(ipamDir, { recursive: true }) as string[] : []).filter((name) => /\d+\.\d+\.\d+\.\d+$/.test(name));
const held = () => (existsSync(allocationDir) ? readdirSync(allocationDir, { recursive: true }) as string[] : []).filter((name) => name.includes('/'));

t.test('the agent serves ADD and DEL through the shim (bridge + macvlan NAD), socket 0600 in a 0700 dir', async (t) => {
  const agent = await AgentProcess.start(lab, ['--socket-dir', socketDir], socketPath);
  t.teardown(() => agent.stop('SIGKILL'));
  t.equal(statSync(socketPath).mode & 0o777, 0o600, 'socket is 0600');
  t.equal(statSync(socketDir).mode & 0o777, 0o700, 'socket dir is 0700');
  const ctr = lab.containerNetns('c1');
  const add = await runShim(podEnv('ADD', 'agc1', ctr.path, 'mv'), conf());
  t.equal(add.exitCode, 0, add.stdout + agent.stderr());
  t.equal((add.json?.['ips'] as Array<{ address: string }>)?.[0]?.address.startsWith('10.231.80.'), true, 'the result is the cluster network\'s');
  t.same(linkNames(ctr.name), ['eth0', 'lo', 'net1'], 'eth0 (bridge) and net1 (macvlan) in the container');
  const del = await runShim(podEnv('DEL', 'agc1', ctr.path, 'mv'), conf());
  t.equal(del.exitCode, 0, del.stdout);
  t.same(linkNames(ctr.name), ['lo'], 'DEL removed both');
  t.same(leases(), [], 'no host-local lease left');
  t.same(existsSync(cacheDir) ? readdirSync(cacheDir) : [], [], 'no cache left');
  const version = await runShim({ CNI_COMMAND: 'VERSION' }, { cniVersion: '1.0.0' });
  t.same(version.json?.['supportedVersions'], ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'], 'VERSION answered by the shim itself');
  const { code } = await agent.stop('SIGTERM');
  t.equal(code, 0, 'SIGTERM: exit 0');
  t.notOk(existsSync(socketPath), 'the socket is removed on SIGTERM');
});

t.test('no agent: ADD and DEL fail with code 11 naming the socket, after the bounded wait', async (t) => {
  const ctr = lab.containerNetns('c2');
  for (const command of ['ADD', 'DEL']) {
    const call = await runShim(podEnv(command, 'agc2', ctr.path, 'mv'), conf());
    t.equal(call.exitCode, 1, `${command}: non-zero exit`);
    t.equal(call.json?.['code'], 11, `${command}: CNI code 11 (try again later)`);
    t.match(String(call.json?.['msg']), socketPath, `${command}: the message names the socket`);
    t.ok(call.ms >= 950 && call.ms < 4000, `${command}: answered after the 1 s wait (${call.ms.toFixed(0)} ms)`);
  }
  t.same(linkNames(ctr.name), ['lo'], 'nothing was done');
});

t.test('SIGKILL mid-ADD: the ADD fails with 11, DEL while down fails with 11, DEL after a restart cleans everything', async (t) => {
  const ctr = lab.containerNetns('c3');
  let agent = await AgentProcess.start(lab, ['--socket-dir', socketDir], socketPath);
  t.teardown(() => agent.stop('SIGKILL'));
  const adding = runShim(podEnv('ADD', 'agc3', ctr.path, 'slow'), conf());
  const deadline = Date.now() + 10_000;
  while (!linkNames(ctr.name).includes('eth0') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.ok(linkNames(ctr.name).includes('eth0'), 'the cluster network was attached; the slow NAD is running');
  t.same(held(), ['example.com_dev/dev0'], 'the standalone device is allocated');
  await agent.stop('SIGKILL');
  const add = await adding;
  t.equal(add.exitCode, 1, 'the interrupted ADD fails');
  t.equal(add.json?.['code'], 11, `with code 11 (${add.stdout.trim()})`);
  const downDel = await runShim(podEnv('DEL', 'agc3', ctr.path, 'slow'), conf());
  t.equal(downDel.json?.['code'], 11, 'DEL while the agent is down: code 11, not a fake success');
  t.ok(downDel.ms < 4000, `within the bounded wait (${downDel.ms.toFixed(0)} ms)`);
  // The orphaned slow-macvlan finishes on its own and adds net1: DEL must remove that too.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  agent = await AgentProcess.start(lab, ['--socket-dir', socketDir], socketPath);
  const del = await runShim(podEnv('DEL', 'agc3', ctr.path, 'slow'), conf());
  t.equal(del.exitCode, 0, del.stdout + agent.stderr());
  t.same(linkNames(ctr.name), ['lo'], 'no interface left in the container');
  t.same(leases(), [], 'no host-local lease left');
  t.same(held(), [], 'the device is released');
  t.same(existsSync(cacheDir) ? readdirSync(cacheDir) : [], [], 'no cache left');
});

t.test('200 concurrent ADDs are all answered (bounded concurrency, queued), then 200 DELs', async (t) => {
  const ctr = lab.containerNetns('c4');
  const agent = await AgentProcess.start(lab, ['--socket-dir', socketDir, '--max-concurrent-requests', '16'], socketPath);
  t.teardown(() => agent.stop('SIGKILL'));
  const rssBefore = agent.peakRssMiB();
  const ids = Array.from({ length: 200 }, (_, index) => index);
  const bare = conf({ agentTimeoutSeconds: 120 });
  const adds = await Promise.all(ids.map((index) => runShim({ ...cniEnv('ADD', `agb${index}`, ctr.path, `e${index}`), CNI_PATH: REFERENCE_PLUGIN_DIR }, bare)));
  const failed = adds.filter((call) => call.exitCode !== 0);
  t.equal(failed.length, 0, `every ADD succeeded${failed[0] ? ` (first failure: ${failed[0].stdout})` : ''}`);
  t.equal(lab.links(ctr.name).length, 201, '200 interfaces in the container netns (+ lo)');
  const peak = agent.peakRssMiB();
  t.comment(`agent peak RSS: ${rssBefore.toFixed(1)} MiB at start, ${peak.toFixed(1)} MiB after 200 concurrent ADDs`);
  t.ok(peak < 200, `peak RSS stays bounded (${peak.toFixed(1)} MiB)`);
  const dels = await Promise.all(ids.map((index) => runShim({ ...cniEnv('DEL', `agb${index}`, ctr.path, `e${index}`), CNI_PATH: REFERENCE_PLUGIN_DIR }, bare)));
  t.equal(dels.filter((call) => call.exitCode !== 0).length, 0, 'every DEL succeeded');
  t.same(linkNames(ctr.name), ['lo'], 'all removed');
  t.same(leases(), [], 'no lease left');
});

t.test('GC through the shim: attachments missing from cni.dev/valid-attachments are deleted, valid ones kept', async (t) => {
  const agent = await AgentProcess.start(lab, ['--socket-dir', socketDir], socketPath);
  t.teardown(() => agent.stop('SIGKILL'));
  const kept = lab.containerNetns('c5');
  const stale = lab.containerNetns('c6');
  for (const [id, ctr] of [['agkeep', kept], ['agstale', stale]] as const) {
    const add = await runShim(podEnv('ADD', id, ctr.path, 'mv'), conf());
    t.equal(add.exitCode, 0, `ADD ${id}: ${add.stdout}`);
  }
  const gc = await runShim({ CNI_COMMAND: 'GC', CNI_PATH: `${binDir}:${REFERENCE_PLUGIN_DIR}` }, conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'agkeep', ifname: 'eth0' }] }));
  t.equal(gc.exitCode, 0, gc.stdout + agent.stderr());
  // GC is for containers whose netns is gone: it releases what lives outside (IPAM leases, caches, devices).
  t.equal(leases().length, 2, `only the valid container's two leases are left (${leases().join(', ')})`);
  t.same(linkNames(kept.name), ['eth0', 'lo', 'net1'], 'the valid container kept its interfaces');
  t.same(existsSync(cacheDir) ? readdirSync(cacheDir) : [], ['agkeep'], 'only the valid container\'s cache is left');
  const del = await runShim(podEnv('DEL', 'agkeep', kept.path, 'mv'), conf());
  t.equal(del.exitCode, 0, del.stdout);
  t.same(leases(), [], 'no lease left');
});
