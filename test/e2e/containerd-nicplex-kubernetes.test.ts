// containerd 1.6's CRI plugin driving nicplex in Kubernetes mode, as on a real node: the pod and
// its NAD live in an API server (our fake one, reached through the kubeconfig nicplex is given),
// the pod's `k8s.v1.cni.cncf.io/networks` annotation selects the macvlan NAD, and nicplex reports
// back through the pod's network-status annotation and AddedInterface events.
import t from 'tap';
import { join } from 'node:path';
import { writeJsonFile } from './harness/cni-dirs.js';
import { showLogsOnFailure } from './harness/run.js';
import { prepareContainerd } from './harness/containerd-fixture.js';
import { runTwoNetworkPod } from './harness/containerd-nicplex-scenario.js';
import { fakeApiServerForNode } from './harness/netns-port-bridge.js';
import { ipv4Addresses } from './harness/node-netns.js';
import { clusterDelegate, networksAnnotation, nicplexConf, nicplexLayout, subnetsFor, testMac } from './harness/nicplex-networks.js';
import { distinctCalls } from '../helpers/rbac.js';

const subnets = subnetsFor(84);
const networkStatusAnnotation = 'k8s.v1.cni.cncf.io/network-status';

interface NetworkStatusEntry {
  name?: string;
  interface?: string;
  ips?: string[];
  mac?: string;
  default?: boolean;
}

t.test('containerd + nicplex (Kubernetes mode): pod and NAD from the API server', async (t) => {
  const fixture = await prepareContainerd(t, 'ck', subnets.masterPeerCidr);
  const layout = nicplexLayout(fixture.workDir, fixture.node, subnets, fixture.ipamDataDir, 'k');
  const { apiServer, kubeconfig } = await fakeApiServerForNode(t, fixture.node, fixture.workDir);

  const namespace = 'e2e';
  const mac = testMac();
  const annotations = { [networksAnnotation]: JSON.stringify([{ name: layout.nadName, mac }]) };
  const pod = apiServer.addPod({ namespace, name: 'kube-pod', uid: `uid-kube-${process.pid}`, annotations });
  apiServer.addNad({ namespace, name: layout.nadName, config: JSON.stringify(layout.nadConfig) });
  writeJsonFile(join(fixture.cniConfDir, '00-multus.conf'), nicplexConf(layout, fixture.cniBinDir, [clusterDelegate(layout, subnets, fixture.ipamDataDir)], { kubeconfig }));
  const containerd = await fixture.start();
  showLogsOnFailure(t, { nicplex: layout.logFile, containerd: containerd.logPath });

  await t.test('the pod annotation selects the NAD; network-status and events reach the API server; nothing is left after removal', async (t) => {
    await runTwoNetworkPod(t, {
      fixture,
      containerd,
      layout,
      subnets,
      pod: { name: pod.name, namespace, uid: pod.uid },
      // The kubelet copies the pod's annotations into the sandbox config; nicplex reads them from the API server.
      annotations,
      expectedMac: mac,
      whileRunning: async (sandbox) => {
        const statusText = apiServer.podAnnotations(namespace, pod.name)?.[networkStatusAnnotation];
        t.ok(statusText, 'nicplex wrote the network-status annotation to the pod');
        const entries = JSON.parse(statusText ?? '[]') as NetworkStatusEntry[];
        const net1Ip = ipv4Addresses(sandbox.links.find((link) => link.ifname === 'net1'))[0]?.split('/')[0];
        const eth0Ip = ipv4Addresses(sandbox.links.find((link) => link.ifname === 'eth0'))[0]?.split('/')[0];
        const net1Entry = entries.find((entry) => entry.interface === 'net1');
        const eth0Entry = entries.find((entry) => entry.interface === 'eth0');
        t.equal(net1Entry?.name, `${namespace}/${layout.nadName}`, 'network-status names the NAD for net1');
        t.equal(net1Entry?.mac, mac, 'network-status has net1 with the MAC in the sandbox');
        t.same(net1Entry?.ips, [net1Ip], 'network-status has net1 with the address in the sandbox');
        t.equal(eth0Entry?.default, true, 'network-status marks eth0 as the default network');
        t.same(eth0Entry?.ips, [eth0Ip], 'network-status has eth0 with the address in the sandbox');
        const addedInterface = apiServer.events.filter((event) => event['reason'] === 'AddedInterface');
        t.ok(addedInterface.length >= 2, `an AddedInterface event per interface (${addedInterface.length})`);
      },
    });
  });

  await t.test('a pod force-deleted from the API server before its sandbox is torn down still releases everything', async (t) => {
    // The classic Multus leak: the pod object is gone when the kubelet stops the sandbox, so DEL
    // must work from nicplex's cache (StopPodSandbox) and with neither cache nor pod (RemovePodSandbox).
    const goneMac = testMac(process.pid + 1);
    const goneAnnotations = { [networksAnnotation]: JSON.stringify([{ name: layout.nadName, mac: goneMac }]) };
    const gonePod = apiServer.addPod({ namespace, name: 'force-deleted-pod', uid: `uid-gone-${process.pid}`, annotations: goneAnnotations });
    await runTwoNetworkPod(t, {
      fixture,
      containerd,
      layout,
      subnets,
      pod: { name: gonePod.name, namespace, uid: gonePod.uid },
      annotations: goneAnnotations,
      expectedMac: goneMac,
      whileRunning: async () => {
        apiServer.deletePod(namespace, gonePod.name);
        t.equal(apiServer.podAnnotations(namespace, gonePod.name), undefined, 'the pod is gone from the API server before teardown');
      },
    });
  });

  // Thin mode makes a subset of the agent's calls: the same ClusterRole serves its kubeconfig's identity.
  t.same(apiServer.denied, [], `deploy/rbac.yaml allows every call thin mode made: ${distinctCalls(apiServer.requests).join(', ')}`);
});
