// The agent installs its CNI entry: the shim copied into the CNI bin dir under the conf's type, and
// the conf generated from the node's primary conf as Multus thick does (`multusConfigFile: auto`), kept
// in step with it, gated by the readiness indicator and removed on exit. A Multus daemon-config.json
// and the 00-multus.conf it yields work unchanged, through the shim installed as `multus-shim`.
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniLab, cniEnv, REFERENCE_PLUGIN_DIR } from '../helpers/cni-lab.js';
import { AgentProcess, runShim, shimPath } from '../helpers/agent-harness.js';

const lab = new CniLab('ai');
t.teardown(() => lab.cleanup());
const bridgeName = `npxib${process.pid % 10000}`;
const ipamDir = join(lab.dir, 'ipam');
const cacheDir = join(lab.dir, 'cache');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

function primaryConf(capabilities: Record<string, boolean>, cniVersion = '0.3.1') {
  return {
    cniVersion, name: 'ai-cluster',
    plugins: [{ type: 'bridge', bridge: bridgeName, isGateway: true, capabilities, ipam: { type: 'host-local', dataDir: ipamDir, subnet: '10.231.90.0/24' } }],
  };
}

t.test('Multus daemon-config.json unchanged: 00-multus.conf generated from the primary conf, multus-shim installed, ADD/DEL work', async (t) => {
  const confDir = join(lab.dir, 'net.d');
  const binDir = join(lab.dir, 'bin');
  const socketDir = join(lab.dir, 'run-multus');
  mkdirSync(confDir, { recursive: true });
  // Sorted first, but a meta-plugin's conf is never the primary network (that would delegate to itself).
  writeFileSync(join(confDir, '01-other-meta.conf'), JSON.stringify({ cniVersion: '0.3.1', name: 'x', type: 'multus-shim' }));
  writeFileSync(join(confDir, '10-cluster.conflist'), JSON.stringify(primaryConf({ portMappings: true })));
  const daemonConfig = join(lab.dir, 'daemon-config.json');
  // The reference ConfigMap's keys, with paths inside the lab.
  writeFileSync(daemonConfig, JSON.stringify({
    chrootDir: '/hostroot', cniVersion: '0.3.1', logLevel: 'verbose', logToStderr: true, cniConfigDir: confDir,
    multusAutoconfigDir: confDir, multusConfigFile: 'auto', socketDir, daemonSocketDir: socketDir, cniDir: cacheDir, binDir: REFERENCE_PLUGIN_DIR,
  }));
  const agent = await AgentProcess.start(lab, ['--multus-daemon-config', daemonConfig, '--cni-bin-dir', binDir, '--cleanup-config-on-exit'], join(socketDir, 'multus.sock'));
  t.teardown(() => agent.stop('SIGKILL'));
  const generatedPath = join(confDir, '00-multus.conf');
  await until('00-multus.conf', () => existsSync(generatedPath));
  const generated = readJson(generatedPath);
  t.match(generated, {
    cniVersion: '0.3.1', name: 'multus-cni-network', type: 'multus-shim', clusterNetwork: join(confDir, '10-cluster.conflist'),
    capabilities: { portMappings: true }, daemonSocketDir: socketDir, logLevel: 'verbose', cniDir: cacheDir,
  }, 'generated as Multus does: clusterNetwork is the primary conf, capabilities its union');
  t.equal(generated['readinessindicatorfile'], undefined, 'no readinessindicatorfile in the generated conf');
  t.equal(statSync(generatedPath).mode & 0o777, 0o600, 'the conf is 0600');
  const installed = join(binDir, 'multus-shim');
  t.ok(readFileSync(installed).equals(readFileSync(shimPath)), 'the shim is installed as multus-shim');
  t.equal(statSync(installed).mode & 0o111, 0o111, 'and is executable');
  t.match(agent.stderr(), /chrootDir is not supported/, 'chrootDir is accepted with a warning');

  const ctr = lab.containerNetns('c1');
  const env = (command: string) => ({ ...cniEnv(command, 'aic1', ctr.path, 'eth0', 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=aic1'), CNI_PATH: REFERENCE_PLUGIN_DIR });
  const add = await runShim(env('ADD'), readFileSync(generatedPath, 'utf8'), { shim: installed });
  t.equal(add.exitCode, 0, add.stdout + agent.stderr());
  t.equal(add.json?.['cniVersion'], '0.3.1', 'the result is in the conf\'s version');
  t.ok(lab.link(ctr.name, 'eth0'), 'eth0 attached through multus-shim → agent → bridge');
  const del = await runShim(env('DEL'), readFileSync(generatedPath, 'utf8'), { shim: installed });
  t.equal(del.exitCode, 0, del.stdout);
  t.notOk(lab.link(ctr.name, 'eth0'), 'eth0 removed');

  writeFileSync(join(confDir, '10-cluster.conflist'), JSON.stringify(primaryConf({ portMappings: true, bandwidth: true })));
  await until('the regenerated conf', () => (readJson(generatedPath)['capabilities'] as Record<string, boolean>)['bandwidth'] === true);
  t.pass('a changed primary conf regenerates 00-multus.conf');

  const { code } = await agent.stop('SIGTERM');
  t.equal(code, 0, 'SIGTERM: exit 0');
  t.notOk(existsSync(generatedPath), '--cleanup-config-on-exit removed 00-multus.conf');
  t.ok(existsSync(installed), 'the shim stays (a runtime may be executing it)');
});

t.test('--cni-conf: the operator\'s conf is installed with the agent\'s socket filled in, the shim under its type', async (t) => {
  const confDir = join(lab.dir, 'net3.d');
  const binDir = join(lab.dir, 'bin3');
  const socketDir = join(lab.dir, 'run-own');
  const own = join(lab.dir, '00-nicplex.conf');
  writeFileSync(own, JSON.stringify({ cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: cacheDir, delegates: [primaryConf({}, '1.0.0')] }));
  const agent = await AgentProcess.start(lab, ['--cni-conf', own, '--cni-conf-dir', confDir, '--cni-bin-dir', binDir, '--socket-dir', socketDir], join(socketDir, 'nicplex.sock'));
  t.teardown(() => agent.stop('SIGKILL'));
  await until('the installed conf', () => existsSync(join(confDir, '00-nicplex.conf')));
  t.match(readJson(join(confDir, '00-nicplex.conf')), { type: 'nicplex', socketDir, cniDir: cacheDir }, 'installed with socketDir set to the agent\'s');
  t.ok(existsSync(join(binDir, 'nicplex')), 'the shim is installed as nicplex');
  const { code } = await agent.stop('SIGTERM');
  t.equal(code, 0);
  t.ok(existsSync(join(confDir, '00-nicplex.conf')), 'without --cleanup-config-on-exit the conf stays');
});

t.test('readinessindicatorfile: no conf until it exists, and the conf is removed when it goes away', async (t) => {
  const confDir = join(lab.dir, 'net2.d');
  const binDir = join(lab.dir, 'bin2');
  const socketDir = join(lab.dir, 'run-nicplex');
  const readiness = join(lab.dir, 'ready', 'cluster-ready');
  const primaryDir = join(lab.dir, 'primary.d');
  mkdirSync(join(lab.dir, 'ready'), { recursive: true });
  mkdirSync(primaryDir, { recursive: true });
  writeFileSync(join(primaryDir, 'primary.conflist'), JSON.stringify(primaryConf({}, '1.0.0')));
  const daemonConfig = join(lab.dir, 'daemon2.json');
  writeFileSync(daemonConfig, JSON.stringify({
    cniVersion: '1.0.0', type: 'nicplex', cniConfigDir: confDir, multusAutoconfigDir: primaryDir, multusConfigFile: 'auto', socketDir,
    readinessindicatorfile: readiness, cniDir: cacheDir,
  }));
  const agent = await AgentProcess.start(lab, ['--multus-daemon-config', daemonConfig, '--cni-bin-dir', binDir], join(socketDir, 'nicplex.sock'));
  t.teardown(() => agent.stop('SIGKILL'));
  const generatedPath = join(confDir, '00-multus.conf');
  await sleep(300);
  t.notOk(existsSync(generatedPath), 'no conf while the readiness indicator is missing');
  writeFileSync(readiness, '');
  await until('the conf after the indicator appeared', () => existsSync(generatedPath));
  t.match(readJson(generatedPath), { type: 'nicplex', socketDir, clusterNetwork: join(primaryDir, 'primary.conflist') });
  t.ok(existsSync(join(binDir, 'nicplex')), 'the shim is installed as nicplex');
  rmSync(readiness);
  await until('the conf removed after the indicator went away', () => !existsSync(generatedPath));
  t.pass('the conf is removed when the readiness indicator goes away');
  const { code } = await agent.stop('SIGTERM');
  t.equal(code, 0);
});
