// `nicplex agent` in Kubernetes mode against the fake API server: pods of this node and NADs come from
// informer caches (no API read per ADD for a cached pod), a pod missing from the cache is read once;
// /readyz and STATUS report not-ready until the caches synced; the request histogram counts every ADD.
import t from 'tap';
import { join } from 'node:path';
import { CniLab, cniEnv } from '../helpers/cni-lab.js';
import { AgentProcess, runShim } from '../helpers/agent-harness.js';
import { agentRbacRules } from '../helpers/deploy-manifests.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';
import { distinctCalls } from '../helpers/rbac.js';

const lab = new CniLab('ak');
const api = new FakeApiServer();
// As the cluster would: only what deploy/rbac.yaml grants the agent's service account.
api.rbac = agentRbacRules();
t.teardown(async () => {
  await api.stop();
  lab.cleanup();
});
const spyBin = lab.writeSpyPlugin('spy');
const socketDir = join(lab.dir, 'sock');
const kubeconfig = join(lab.dir, 'kubeconfig');
const metricsPort = 21000 + (process.pid % 20000);

async function fetchText(path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${metricsPort}${path}`);
  return { status: response.status, text: await response.text() };
}
const metricValue = (text: string, name: string, labels: string) => Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('informer caches, readiness and metrics', async (t) => {
  await api.start();
  api.writeKubeconfig(kubeconfig);
  api.addNad({ namespace: 'ns', name: 'second', config: JSON.stringify({ cniVersion: '1.0.0', name: 'second', type: 'spy' }) });
  const conf = {
    cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: join(lab.dir, 'cache'), binDir: spyBin, socketDir,
    podResourcesSocket: join(lab.dir, 'no-kubelet.sock'), delegates: [{ cniVersion: '1.0.0', name: 'cluster', type: 'spy' }],
  };
  // The first two pod lists fail: the agent must stay not-ready until its caches synced.
  api.failures.set('/api/v1/pods', 2);
  const agent = new Promise<AgentProcess>((resolve, reject) => {
    AgentProcess.startInRootNetns(['--socket-dir', socketDir, '--kubeconfig', kubeconfig, '--node-name', 'node-a', '--metrics-address', `127.0.0.1:${metricsPort}`], join(socketDir, 'nicplex.sock')).then(resolve, reject);
  });
  const running = await agent;
  t.teardown(() => running.stop('SIGKILL'));
  t.equal((await fetchText('/healthz')).status, 200, '/healthz: alive');
  const notReady = await fetchText('/readyz');
  t.equal(notReady.status, 503, `/readyz is 503 before the caches synced (${notReady.text.trim()})`);
  const ctr = lab.containerNetns('c1');
  const status = await runShim({ CNI_COMMAND: 'STATUS' }, conf);
  t.equal(status.json?.['code'], 50, `STATUS: not available while unsynced (${status.stdout.trim()})`);
  const deadline = Date.now() + 10_000;
  while ((await fetchText('/readyz')).status !== 200 && Date.now() < deadline) await sleep(100);
  t.equal((await fetchText('/readyz')).status, 200, '/readyz flips to 200 once the caches synced');
  t.equal((await runShim({ CNI_COMMAND: 'STATUS' }, conf)).exitCode, 0, 'STATUS succeeds once ready');

  const pods = [0, 1, 2].map((index) => api.addPod({ namespace: 'ns', name: `p${index}`, nodeName: 'node-a', annotations: { 'k8s.v1.cni.cncf.io/networks': 'second' } }));
  await sleep(300); // the watch delivers them
  const getsBefore = api.objectGets().length;
  for (const [index, pod] of pods.entries()) {
    const add = await runShim(cniEnv('ADD', `akc${index}`, ctr.path, 'eth0', `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=${pod.name};K8S_POD_UID=${pod.uid}`), conf);
    t.equal(add.exitCode, 0, `ADD of ${pod.name}: ${add.stdout.trim()}`);
  }
  t.equal(api.objectGets().length - getsBefore, 0, 'no pod or NAD read from the API server for cached pods (0 API reads per ADD)');
  t.match(api.podAnnotations('ns', 'p0')?.['k8s.v1.cni.cncf.io/network-status'] ?? '', /"interface": "net1"/, 'network-status is still written');

  // Not in this node's cache (scheduled elsewhere as far as the informer knows): one live read after the bounded wait.
  const stranger = api.addPod({ namespace: 'ns', name: 'elsewhere', nodeName: 'node-b' });
  const started = Date.now();
  const add = await runShim(cniEnv('ADD', 'akc9', ctr.path, 'eth0', `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=${stranger.name}`), conf);
  t.equal(add.exitCode, 0, `ADD of a pod the cache does not hold: ${add.stdout.trim()}`);
  t.equal(api.objectGets().filter((request) => request.path.endsWith('/pods/elsewhere')).length, 1, 'a pod missing from the cache is read once');
  t.ok(Date.now() - started < 5000, 'within the bounded wait');

  const metrics = (await fetchText('/metrics')).text;
  t.equal(metricValue(metrics, 'nicplex_cni_request_duration_seconds_count', 'command="ADD",result="success"'), 4, 'the ADD histogram counts the 4 ADDs');
  t.equal(metricValue(metrics, 'nicplex_cni_delegate_duration_seconds_count', 'delegate="spy",command="ADD",result="success"'), 7, 'the delegate histogram counts 7 spy ADDs (3 pods × 2 networks + 1)');
  t.equal(metricValue(metrics, 'nicplex_informer_synced', 'informer="pods"'), 1, 'informer sync state exported');
  t.match(metrics, /^nicplex_cni_requests_queued 0$/m, 'no request queued now');
  t.equal(metricValue(metrics, 'nicplex_errors_total', 'kind="not_available"'), 1, 'the unready STATUS counted as an error');
  const { code } = await running.stop('SIGTERM');
  t.equal(code, 0);
  t.same(api.denied, [], `deploy/rbac.yaml allows every call the agent made: ${distinctCalls(api.requests).join(', ')}`);
});
