// `nicplex agent` in Kubernetes mode against the fake API server: pods of this node and NADs come from
// informer caches (no API read per ADD for a cached pod), a pod missing from the cache is read once;
// /readyz and STATUS report not-ready until the caches synced; the request histogram counts every ADD;
// a /delegate hot-plug takes its pod from the cache and records the AddedInterface event.
import t from 'tap';
import { join } from 'node:path';
import { CniLab, cniEnv } from '../helpers/cni-lab.js';
import { AgentProcess, delegateRequestBody, postToAgent, runShim } from '../helpers/agent-harness.js';
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

t.test('/delegate in Kubernetes mode: the pod from the informer cache, an AddedInterface event, network-status left to the hot-plug controller', async (t) => {
  const socketPath = join(socketDir, 'nicplex.sock');
  const conf = {
    cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: join(lab.dir, 'cache'), binDir: spyBin, socketDir,
    podResourcesSocket: join(lab.dir, 'no-kubelet.sock'), delegates: [{ cniVersion: '1.0.0', name: 'cluster', type: 'spy' }],
  };
  const running = await AgentProcess.startInRootNetns(['--socket-dir', socketDir, '--kubeconfig', kubeconfig, '--node-name', 'node-a'], socketPath);
  t.teardown(() => running.stop('SIGKILL'));
  const pod = api.addPod({ namespace: 'ns', name: 'hot', nodeName: 'node-a' });
  const ctr = lab.containerNetns('c2');
  const args = `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=hot;K8S_POD_UID=${pod.uid}`;
  let add = await runShim(cniEnv('ADD', 'akhot', ctr.path, 'eth0', args), conf);
  for (let attempt = 0; add.exitCode !== 0 && attempt < 50; attempt++) {
    await sleep(100); // the caches are still syncing
    add = await runShim(cniEnv('ADD', 'akhot', ctr.path, 'eth0', args), conf);
  }
  t.equal(add.exitCode, 0, `the pod is attached (${add.stdout.trim()})`);
  const statusBefore = api.podAnnotations('ns', 'hot')?.['k8s.v1.cni.cncf.io/network-status'];
  const eventsBefore = api.events.length;
  const getsBefore = api.objectGets().length;
  const spyConfig = { cniVersion: '1.0.0', name: 'hot-spy', type: 'spy' };

  const plugged = await postToAgent(socketPath, '/delegate', delegateRequestBody('ADD', pod, 'akhot', ctr.path, 'net5', spyConfig));
  t.equal(plugged.status, 200, plugged.text);
  t.equal((JSON.parse(plugged.text) as { Result?: { interfaces?: Array<{ name: string }> } }).Result?.interfaces?.[0]?.name, 'net5', 'the result is the spy\'s, for net5');
  t.equal(api.objectGets().length - getsBefore, 0, 'the pod came from the informer cache');
  const events = api.events.slice(eventsBefore);
  t.ok(events.some((event) => event['reason'] === 'AddedInterface' && String(event['message']).includes('net5')), `an AddedInterface event for net5 (${events.map((event) => String(event['message'])).join('; ')})`);
  t.equal(api.podAnnotations('ns', 'hot')?.['k8s.v1.cni.cncf.io/network-status'], statusBefore, 'network-status is untouched (multus-dynamic-networks-controller writes it from the answer)');

  const gone = await postToAgent(socketPath, '/delegate', delegateRequestBody('ADD', { namespace: 'ns', name: 'gone', uid: 'uid-gone' }, 'akhot', ctr.path, 'net6', spyConfig));
  t.equal(gone.status, 400, 'a pod the API server does not have: 400');
  t.match(gone.text, /pod ns\/gone does not exist in the API server/, 'naming the pod');

  const unplugged = await postToAgent(socketPath, '/delegate', delegateRequestBody('DEL', pod, 'akhot', ctr.path, 'net5', spyConfig));
  t.equal(unplugged.status, 200, unplugged.text);
  const del = await runShim(cniEnv('DEL', 'akhot', ctr.path, 'eth0', args), conf);
  t.equal(del.exitCode, 0, del.stdout);
  const calls = lab.spyCalls().map((call) => call.file).filter((file) => /-(ADD|DEL)-net[56]\.json$/.test(file)).map((file) => file.replace(/^\d+-/, ''));
  t.same(calls, ['spy-ADD-net5.json', 'spy-DEL-net5.json'], 'net5 added once and deleted once (the pod\'s DEL did not repeat it); net6 never ran');
  t.same(api.denied, [], `deploy/rbac.yaml allows every call the agent made: ${distinctCalls(api.requests).join(', ')}`);
});
