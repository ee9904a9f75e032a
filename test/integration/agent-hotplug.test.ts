// POST /delegate on the agent's socket (Multus thick's hot-plug API, what multus-dynamic-networks-controller
// calls): one macvlan network added to and removed from a running pod the shim attached, real namespaces,
// the reference plugins as delegates. The pod's own DEL removes what was hot-plugged; bad requests get a
// 400 naming the field and change nothing; a hot-plug waits for the container's ADD in flight.
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniLab, cniEnv, REFERENCE_PLUGIN_DIR } from '../helpers/cni-lab.js';
import { AgentProcess, delegateRequestBody, postToAgent, runShim } from '../helpers/agent-harness.js';

const lab = new CniLab('hp');
t.teardown(() => lab.cleanup());
const bridgeName = `npxhb${process.pid % 10000}`;
const socketDir = join(lab.dir, 'sock');
const socketPath = join(socketDir, 'nicplex.sock');
const binDir = join(lab.dir, 'bin');
const ipamDir = join(lab.dir, 'ipam');
const cacheDir = join(lab.dir, 'cache');
const nadDir = join(lab.dir, 'nads');
mkdirSync(binDir, { recursive: true });
mkdirSync(nadDir, { recursive: true });
lab.hostVeth('hpmv0', 'hpmv0p');
// A hot-plug request carries no CNI_PATH (the controller sends none): its plugins come from the conf's binDir.
for (const plugin of ['bridge', 'macvlan', 'host-local']) symlinkSync(join(REFERENCE_PLUGIN_DIR, plugin), join(binDir, plugin));

// A cluster network whose ADD takes its time: the window in which a hot-plug for the same container arrives.
writeFileSync(join(binDir, 'slow-bridge'), `#!/bin/sh\n[ "$CNI_COMMAND" = ADD ] && sleep 1.5\nexec ${REFERENCE_PLUGIN_DIR}/bridge\n`);
chmodSync(join(binDir, 'slow-bridge'), 0o755);

const conf = (clusterType = 'bridge') => ({
  cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: cacheDir, binDir, socketDir,
  standalone: { nadDir },
  delegates: [{ cniVersion: '1.0.0', name: 'hpbr', plugins: [{ type: clusterType, bridge: bridgeName, isGateway: true, ipam: { type: 'host-local', dataDir: ipamDir, subnet: '10.231.83.0/24' } }] }],
});
const confFile = join(lab.dir, '00-nicplex.conf');
writeFileSync(confFile, JSON.stringify(conf()));

/** A NAD's spec.config, as the controller sends it: macvlan with host-local in its own range. */
const macvlanConfig = (name: string) => ({
  cniVersion: '0.3.1', name, type: 'macvlan', master: 'hpmv0', mode: 'bridge',
  ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: '10.231.84.0/24', rangeStart: '10.231.84.10', rangeEnd: '10.231.84.20' }]] },
});

const podArgs = (id: string) => `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id};K8S_POD_UID=uid-${id}`;
const shimEnv = (command: string, id: string, netns: string) => ({ ...cniEnv(command, id, netns, 'eth0', podArgs(id)), CNI_PATH: `${binDir}:${REFERENCE_PLUGIN_DIR}` });

const delegateBody = (command: string, id: string, netns: string, ifname: string, config: unknown, interfaceAttributes?: unknown) =>
  delegateRequestBody(command, { namespace: 'default', name: id, uid: `uid-${id}` }, id, netns, ifname, config, interfaceAttributes);
const post = (path: string, body: unknown) => postToAgent(socketPath, path, body);

interface Link { ifname: string; address: string; addr_info?: Array<{ family: string; local: string }> }
const link = (netns: string, ifname: string) => (lab.links(netns) as Link[]).find((entry) => entry.ifname === ifname);
const ipv4 = (entry: Link | undefined) => entry?.addr_info?.find((address) => address.family === 'inet')?.local;
const linkNames = (netns: string) => lab.links(netns).map((entry) => entry.ifname).sort();
const leases = () => (existsSync(ipamDir) ? readdirSync(ipamDir, { recursive: true }) as string[] : []).filter((name) => /\d+\.\d+\.\d+\.\d+$/.test(name));
const cachedIfnames = (id: string) => (JSON.parse(readFileSync(join(cacheDir, id), 'utf8')) as { plan: { attachments: Array<{ ifname: string }> } }).plan.attachments.map((entry) => entry.ifname);
const cacheFiles = () => (existsSync(cacheDir) ? readdirSync(cacheDir) : []);

t.test('/delegate ADD puts a macvlan with the NAD\'s address in the running pod, DEL removes it, the pod\'s DEL leaves nothing', async (t) => {
  const agent = await AgentProcess.start(lab, ['--socket-dir', socketDir, '--cni-conf', confFile], socketPath);
  t.teardown(() => agent.stop('SIGKILL'));
  const ctr = lab.containerNetns('c1');
  const add = await runShim(shimEnv('ADD', 'hpc1', ctr.path), conf());
  t.equal(add.exitCode, 0, add.stdout + agent.stderr());
  t.same(linkNames(ctr.name), ['eth0', 'lo'], 'the pod starts with its cluster network only');

  const mac = '02:00:0a:e7:54:0b';
  const plugged = await post('/delegate', delegateBody('ADD', 'hpc1', ctr.path, 'net1', macvlanConfig('hot-mv'), { mac, 'cni-args': null }));
  t.equal(plugged.status, 200, `ADD answered 200 (${plugged.text.trim()})`);
  const answer = JSON.parse(plugged.text) as { Result?: { cniVersion?: string; ips?: Array<{ address: string }> } };
  t.equal(answer.Result?.cniVersion, '1.0.0', 'the result, as Multus answers it, in CNI 1.0.0 (the delegate speaks 0.3.1)');
  const net1 = link(ctr.name, 'net1');
  t.ok(net1, `net1 appeared in the pod netns (${linkNames(ctr.name).join(', ')})`);
  t.equal(net1?.address, mac, 'with the MAC interfaceAttributes asked for');
  t.match(ipv4(net1) ?? '', /^10\.231\.84\.(1\d|20)$/, `with an address from the NAD's range (${ipv4(net1)})`);
  t.equal(answer.Result?.ips?.[0]?.address, `${ipv4(net1)}/24`, 'the result names that address');
  t.same(cachedIfnames('hpc1'), ['eth0', 'net1'], 'the pod\'s cache records the hot-plugged network');
  t.equal(leases().length, 2, 'host-local holds one lease per network');

  const unplugged = await post('/delegate', delegateBody('DEL', 'hpc1', ctr.path, 'net1', macvlanConfig('hot-mv')));
  t.equal(unplugged.status, 200, `DEL answered 200 (${unplugged.text.trim()})`);
  t.equal(unplugged.text, '', 'with an empty body');
  t.same(linkNames(ctr.name), ['eth0', 'lo'], 'net1 is gone, eth0 stays');
  t.equal(leases().length, 1, 'its lease is released');
  t.same(cachedIfnames('hpc1'), ['eth0'], 'the cache no longer has it');

  // Hot-plugged and never unplugged: the runtime's DEL of the pod must release it with the rest.
  const again = await post('/delegate', delegateBody('ADD', 'hpc1', ctr.path, 'net2', macvlanConfig('hot-mv')));
  t.equal(again.status, 200, again.text);
  t.same(linkNames(ctr.name), ['eth0', 'lo', 'net2'], 'net2 hot-plugged');
  const del = await runShim(shimEnv('DEL', 'hpc1', ctr.path), conf());
  t.equal(del.exitCode, 0, del.stdout);
  t.same(linkNames(ctr.name), ['lo'], 'the pod\'s DEL removed eth0 and the hot-plugged net2');
  t.same(leases(), [], 'no host-local lease left');
  t.same(cacheFiles(), [], 'no cache left');
  t.notMatch(agent.stderr(), /"level":50/, 'the agent logged no error');
});

t.test('bad /delegate requests get a 400 naming the field, and change nothing', async (t) => {
  const agent = await AgentProcess.start(lab, ['--socket-dir', socketDir, '--cni-conf', confFile], socketPath);
  t.teardown(() => agent.stop('SIGKILL'));
  const ctr = lab.containerNetns('c2');
  const add = await runShim(shimEnv('ADD', 'hpc2', ctr.path), conf());
  t.equal(add.exitCode, 0, add.stdout);
  const good = delegateBody('ADD', 'hpc2', ctr.path, 'net1', macvlanConfig('hot-mv'));
  const env = good['env'] as Record<string, string>;
  const cases: Array<[string, unknown, RegExp]> = [
    ['a body that is not JSON', '{"env":', /body is not JSON/],
    ['no config', { env }, /"config" is required/],
    ['a config that is not base64', { env, config: '{not base64}' }, /"config" is not base64/],
    ['a config without a type', { ...good, config: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'x' })).toString('base64') }, /"config".*type/],
    ['an empty CNI_IFNAME', { ...good, env: { ...env, CNI_IFNAME: '' } }, /CNI_IFNAME is empty/],
    ['CHECK', { ...good, env: { ...env, CNI_COMMAND: 'CHECK' } }, /CNI_COMMAND "CHECK": \/delegate runs ADD or DEL/],
    ['a bad MAC', { ...good, interfaceAttributes: { mac: 'zz:00' } }, /interfaceAttributes\.mac: expected a MAC address/],
    ['ips that are not IPs', { ...good, interfaceAttributes: { ips: ['10.0.0.300'] } }, /interfaceAttributes\.ips\[0\]/],
    ['cni-args that are not an object', { ...good, interfaceAttributes: { 'cni-args': 'x' } }, /interfaceAttributes\.cni-args: expected an object/],
    ['the pod\'s own eth0', { ...good, env: { ...env, CNI_IFNAME: 'eth0' } }, /CNI_IFNAME "eth0": container hpc2 already has it/],
    ['a container nicplex never attached', { ...good, env: { ...env, CNI_CONTAINERID: 'hpnone' } }, /container hpnone: nicplex never attached it/],
    ['DEL of the cluster network', { ...good, env: { ...env, CNI_COMMAND: 'DEL', CNI_IFNAME: 'eth0' } }, /"eth0" is the cluster network/],
  ];
  for (const [what, body, message] of cases) {
    const answer = await post('/delegate', body);
    t.equal(answer.status, 400, `${what}: 400`);
    let error: { code?: number; msg?: string } = {};
    try { error = JSON.parse(answer.text) as typeof error; } catch { /* asserted below */ }
    t.match(error.msg ?? answer.text, message, `${what}: ${error.msg ?? answer.text.trim()}`);
  }
  t.same(linkNames(ctr.name), ['eth0', 'lo'], 'the pod still has only eth0');
  t.same(cachedIfnames('hpc2'), ['eth0'], 'its cache is unchanged');
  t.same(cacheFiles(), ['hpc2'], 'no cache was made for the unknown container');
  t.equal(leases().length, 1, 'no lease was taken');
  const del = await runShim(shimEnv('DEL', 'hpc2', ctr.path), conf());
  t.equal(del.exitCode, 0, del.stdout);
  t.same(leases(), [], 'no lease left');
});

t.test('a /delegate ADD that arrives while the container\'s ADD runs waits for it, and both end in the cache', async (t) => {
  // No --cni-conf: the agent takes the conf of the request that attached the container.
  const agent = await AgentProcess.start(lab, ['--socket-dir', socketDir], socketPath);
  t.teardown(() => agent.stop('SIGKILL'));
  const ctr = lab.containerNetns('c3');
  const slow = conf('slow-bridge');
  const adding = runShim(shimEnv('ADD', 'hpc3', ctr.path), slow);
  const deadline = Date.now() + 10_000;
  while (!existsSync(join(cacheDir, 'hpc3')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.ok(existsSync(join(cacheDir, 'hpc3')), 'the ADD is under way (its cache is written before the slow bridge runs)');
  const plugged = await post('/delegate', delegateBody('ADD', 'hpc3', ctr.path, 'net1', macvlanConfig('hot-mv')));
  const add = await adding;
  t.equal(add.exitCode, 0, add.stdout + agent.stderr());
  t.equal(plugged.status, 200, `the hot-plug succeeded after it (${plugged.text.trim()})`);
  t.same(linkNames(ctr.name), ['eth0', 'lo', 'net1'], 'both interfaces in the pod');
  t.same(cachedIfnames('hpc3'), ['eth0', 'net1'], 'the ADD\'s final cache write kept the hot-plugged network');
  const del = await runShim(shimEnv('DEL', 'hpc3', ctr.path), slow);
  t.equal(del.exitCode, 0, del.stdout);
  t.same(linkNames(ctr.name), ['lo'], 'the pod\'s DEL removed both');
  t.same(leases(), [], 'no lease left');
  t.same(cacheFiles(), [], 'no cache left');
});
