// `nicplex agent --config`: the device plugin runs in the agent (against the kubelet stand-in on a fake
// sysfs), /readyz waits for its registration, pool sizes and registrations are exported, and standalone
// CNI pools named "discovered" hand out the device plugin's own VFs by resource name.
import t from 'tap';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniLab, cniEnv } from '../helpers/cni-lab.js';
import { AgentProcess, runShim } from '../helpers/agent-harness.js';
import { buildFakeHost } from '../helpers/fake-sysfs.js';
import { KubeletStandin } from '../helpers/kubelet-standin.js';
import { intelE810 } from '../helpers/nic-models.js';

const lab = new CniLab('ad');
t.teardown(() => lab.cleanup());
const metricsPort = 22000 + (process.pid % 20000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const get = async (path: string) => {
  const response = await fetch(`http://127.0.0.1:${metricsPort}${path}`);
  return { status: response.status, text: await response.text() };
};

t.test('device plugin in the agent: readiness, pool metrics, discovered standalone pools', async (t) => {
  const host = buildFakeHost({ pci: intelE810({ numVfs: 4 }) });
  t.teardown(() => host.cleanup());
  const dpDir = join(host.root, 'kubelet', 'device-plugins');
  mkdirSync(dpDir, { recursive: true });
  const configPath = join(host.root, 'config.json');
  writeFileSync(configPath, JSON.stringify({ resourceList: [{ resourceName: 'e810', selectors: { devices: ['1889'] } }] }));
  const socketDir = join(lab.dir, 'sock');
  const spyBin = lab.writeSpyPlugin('spy');
  const nadDir = join(lab.dir, 'nads');
  mkdirSync(nadDir, { recursive: true });
  writeFileSync(join(nadDir, 'vf.json'), JSON.stringify({
    apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
    metadata: { name: 'vf', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/resourceName': 'intel.com/e810' } },
    spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: 'vf', type: 'spy', capabilities: { deviceID: true } }) },
  }));
  const agent = await AgentProcess.startInRootNetns([
    '--config', configPath, '--sysfs-root', host.sysfsRoot, '--proc-root', host.procRoot, '--dev-root', host.devRoot,
    '--device-plugin-dir', dpDir, '--devinfo-dir', join(host.root, 'devinfo'), '--pci-ids', 'none',
    '--socket-dir', socketDir, '--metrics-address', `127.0.0.1:${metricsPort}`,
  ], join(socketDir, 'nicplex.sock'));
  t.teardown(() => agent.stop('SIGKILL'));
  const before = await get('/readyz');
  t.equal(before.status, 503, `not ready before the kubelet accepted the pool (${before.text.trim()})`);
  const kubelet = await KubeletStandin.start({ dir: dpDir });
  t.teardown(() => kubelet.stop());
  await kubelet.waitForHealthy('intel.com/e810', 4, 10_000);
  const deadline = Date.now() + 10_000;
  while ((await get('/readyz')).status !== 200 && Date.now() < deadline) await sleep(100);
  t.equal((await get('/readyz')).status, 200, 'ready once registered');
  // Only root (the kubelet, the shim as the runtime runs it) may talk to the agent's sockets.
  const poolSockets = readdirSync(dpDir).filter((name) => name !== 'kubelet.sock' && statSync(join(dpDir, name)).isSocket());
  t.ok(poolSockets.length > 0, `the pool's device-plugin socket is in ${dpDir}`);
  for (const path of [...poolSockets.map((name) => join(dpDir, name)), join(socketDir, 'nicplex.sock')]) {
    const { mode, uid } = statSync(path);
    t.same({ mode: (mode & 0o777).toString(8), uid }, { mode: '600', uid: 0 }, `${path} is 0600, owned by root`);
  }
  const metrics = (await get('/metrics')).text;
  t.match(metrics, /^nicplex_device_pool_devices\{resource="intel.com\/e810",state="total"\} 4$/m, 'pool size exported');
  t.match(metrics, /^nicplex_device_pool_devices\{resource="intel.com\/e810",state="healthy"\} 4$/m, 'healthy devices exported');
  t.match(metrics, /^nicplex_kubelet_registrations\{resource="intel.com\/e810"\} 1$/m, 'registration counted');

  const conf = {
    cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: join(lab.dir, 'cache'), binDir: spyBin, socketDir,
    standalone: { nadDir, allocationDir: join(lab.dir, 'alloc'), devicePools: 'discovered' },
    delegates: [{ cniVersion: '1.0.0', name: 'cluster', type: 'spy' }],
  };
  const ctr = lab.containerNetns('c1');
  const add = await runShim({ ...cniEnv('ADD', 'adc1', ctr.path, 'eth0', 'IgnoreUnknown=1;NICPLEX_NETWORKS=vf') }, conf);
  t.equal(add.exitCode, 0, add.stdout + agent.stderr());
  const vfCall = lab.spyCalls().find((call) => call.file.includes('-ADD-net1'));
  const vfs = kubelet.resource('intel.com/e810')?.devices.map((device) => device.ID) ?? [];
  t.ok(vfs.includes(String(vfCall?.stdin['deviceID'])), `the NAD got a VF the device plugin discovered (${String(vfCall?.stdin['deviceID'])})`);
  const { code } = await agent.stop('SIGTERM');
  t.equal(code, 0, 'SIGTERM: exit 0');
});
