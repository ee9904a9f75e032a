// containerd 1.6's CRI plugin → the C shim → `nicplex agent` in Kubernetes mode: the agent's informers
// hold the node's pods and the NADs of the fake API server, so the ADD reads neither from the API; the
// network-status annotation still reaches the API server, and nothing is left after removal.
import t from 'tap';
import { join } from 'node:path';
import { writeJsonFile } from './harness/cni-dirs.js';
import { showLogsOnFailure } from './harness/run.js';
import { prepareContainerd } from './harness/containerd-fixture.js';
import { runTwoNetworkPod } from './harness/containerd-nicplex-scenario.js';
import { fakeApiServerForNode } from './harness/netns-port-bridge.js';
import { startNodeAgent } from './harness/nicplex-agent.js';
import { clusterDelegate, networksAnnotation, nicplexConf, nicplexLayout, subnetsFor, testMac } from './harness/nicplex-networks.js';
import { distinctCalls } from '../helpers/rbac.js';

const subnets = subnetsFor(86);

t.test('containerd → shim → nicplex agent (Kubernetes mode, informer caches)', async (t) => {
  const fixture = await prepareContainerd(t, 'ak', subnets.masterPeerCidr);
  const layout = nicplexLayout(fixture.workDir, fixture.node, subnets, fixture.ipamDataDir, 'k');
  const { apiServer, kubeconfig } = await fakeApiServerForNode(t, fixture.node, fixture.workDir);
  const namespace = 'e2e';
  const mac = testMac();
  const annotations = { [networksAnnotation]: JSON.stringify([{ name: layout.nadName, mac }]) };
  const pod = apiServer.addPod({ namespace, name: 'agent-kube-pod', uid: `uid-agent-kube-${process.pid}`, nodeName: 'e2e-node', annotations });
  apiServer.addNad({ namespace, name: layout.nadName, config: JSON.stringify(layout.nadConfig) });
  const agent = await startNodeAgent(t, fixture.node, fixture.workDir, fixture.cniBinDir, ['--kubeconfig', kubeconfig, '--node-name', 'e2e-node']);
  writeJsonFile(join(fixture.cniConfDir, '00-multus.conf'), nicplexConf(layout, fixture.cniBinDir, [clusterDelegate(layout, subnets, fixture.ipamDataDir)], { kubeconfig }, { socketDir: agent.socketDir }));
  const containerd = await fixture.start();
  showLogsOnFailure(t, { containerd: containerd.logPath });
  // The informers have listed the pod and the NAD by now (the shim's first call waits for nothing else).
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const readsBefore = apiServer.objectGets().length;

  await runTwoNetworkPod(t, {
    fixture, containerd, layout, subnets,
    pod: { name: pod.name, namespace, uid: pod.uid },
    annotations,
    expectedMac: mac,
    whileRunning: async () => {
      t.equal(apiServer.objectGets().length - readsBefore, 0, 'the ADD read neither the pod nor the NAD from the API server');
      t.match(apiServer.podAnnotations(namespace, pod.name)?.['k8s.v1.cni.cncf.io/network-status'] ?? '', /"interface": "net1"/, 'network-status written through the agent');
    },
  });
  t.notMatch(agent.stderr(), /"level":50/, 'the agent logged no error');
  t.same(apiServer.denied, [], `deploy/rbac.yaml allows every call the agent made: ${distinctCalls(apiServer.requests).join(', ')}`);
});
