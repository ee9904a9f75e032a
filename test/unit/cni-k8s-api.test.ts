// The Kubernetes side of the meta-CNI (client-node) against the fake API server on 127.0.0.1:
// pod lookup with NotFound/500 retries, NAD lookup incl. a missing CRD, network-status with the UID
// precondition, events.
import t from 'tap';
import { join } from 'node:path';
import { createKubernetesApi } from '../../cni/k8s-api.js';
import { silentLogger } from '../../cni/log.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';
import { tempDir } from '../helpers/cni-tempdir.js';

const server = new FakeApiServer();
const kubeconfig = join(tempDir('npx-k8sapi-'), 'kubeconfig');
t.before(async () => {
  await server.start();
  server.writeKubeconfig(kubeconfig);
});
t.teardown(() => server.stop());

t.test('getPod retries NotFound and 500 within the bound on ADD, not on DEL', async (t) => {
  const api = await createKubernetesApi(kubeconfig, { podLookupTimeoutMs: 2500, log: silentLogger });
  const pod = server.addPod({ namespace: 'ns', name: 'late', annotations: { a: 'b' } });
  server.podNotFoundBudget.set('ns/late', 2);
  server.failures.set('/pods/late', 1);
  t.match(await api.getPod('ns', 'late', { retryNotFound: true }), { uid: pod.uid, annotations: { a: 'b' } });
  server.podNotFoundBudget.set('ns/late', 1);
  t.equal(await api.getPod('ns', 'late', { retryNotFound: false }), null, 'DEL does not wait for a pod');
  const quick = await createKubernetesApi(kubeconfig, { podLookupTimeoutMs: 600, log: silentLogger });
  const started = Date.now();
  t.equal(await quick.getPod('ns', 'never', { retryNotFound: true }), null);
  t.ok(Date.now() - started < 2000, 'bounded');
  server.failures.set('/pods/late', 100);
  await t.rejects(quick.getPod('ns', 'late', { retryNotFound: true }), { code: 11, message: /cannot read pod ns\/late from the API server: HTTP 500/ });
  server.failures.clear();
});

t.test('NADs by namespace/name; a missing NAD is null; a missing CRD is an error', async (t) => {
  const api = await createKubernetesApi(kubeconfig, { podLookupTimeoutMs: 500, log: silentLogger });
  server.addNad({ namespace: 'ns', name: 'vf', config: '{"cniVersion":"1.0.0","type":"x"}', annotations: { 'k8s.v1.cni.cncf.io/resourceName': 'a.com/b' } });
  t.same(await api.getNad('ns', 'vf'), { namespace: 'ns', name: 'vf', config: '{"cniVersion":"1.0.0","type":"x"}', resourceName: 'a.com/b' });
  t.equal(await api.getNad('other', 'vf'), null);
  server.nadCrdInstalled = false;
  await t.rejects(api.getNad('ns', 'vf'), /does not serve k8s\.cni\.cncf\.io\/v1 network-attachment-definitions \(is the CRD installed\?\)/);
  server.nadCrdInstalled = true;
});

t.test('network-status is written with a UID precondition; a recreated pod is not touched; a deleted pod is tolerated; events recorded', async (t) => {
  const api = await createKubernetesApi(kubeconfig, { podLookupTimeoutMs: 500, log: silentLogger });
  const pod = server.addPod({ namespace: 'ns', name: 'p' });
  await api.setNetworkStatus(pod, [{ name: 'ns/net', interface: 'net1', ips: ['10.0.0.1'] }]);
  t.same(JSON.parse(server.podAnnotations('ns', 'p')!['k8s.v1.cni.cncf.io/network-status']!), [{ name: 'ns/net', interface: 'net1', ips: ['10.0.0.1'] }]);
  server.changePodUid('ns', 'p');
  await t.rejects(api.setNetworkStatus(pod, []), /cannot write k8s\.v1\.cni\.cncf\.io\/network-status on pod ns\/p: HTTP 409/);
  server.deletePod('ns', 'p');
  await api.setNetworkStatus(pod, []);
  await api.recordEvent(pod, 'AddedInterface', 'Add net1 [10.0.0.1/24] from ns/net');
  t.match(server.events.at(-1), { reason: 'AddedInterface', type: 'Normal', message: 'Add net1 [10.0.0.1/24] from ns/net', involvedObject: { kind: 'Pod', name: 'p', uid: pod.uid } });
});
