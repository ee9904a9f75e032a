// podman 4.3 (CNI backend) execs the C shim against `nicplex agent` in Kubernetes mode: the pod and its
// NAD live in the fake API server and reach the agent through its informers.
//
// How a podman container becomes a pod: podman's libnetwork (containers/common, libnetwork/cni
// getRuntimeConfig) sends CNI_ARGS "IgnoreUnknown=1;K8S_POD_NAME=<container name>" and never
// K8S_POD_NAMESPACE (containers/podman#12083), then appends every KEY=VALUE of the CNI_ARGS variable in
// its own environment. So `podman run --name <pod>` with CNI_ARGS="K8S_POD_NAMESPACE=<ns>;K8S_POD_UID=<uid>"
// in podman's environment names the pod <ns>/<pod>. Without the namespace there is no pod, and nicplex
// attaches only the cluster network (the second test shows it).
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { writePodmanNetwork } from './harness/cni-dirs.js';
import { leftoversAfterTeardown, nothingLeft } from './harness/leftovers.js';
import { fakeApiServerForNode } from './harness/netns-port-bridge.js';
import { inRange, inSubnet } from './harness/node-netns.js';
import { startNodeAgent, type NodeAgent } from './harness/nicplex-agent.js';
import { clusterDelegate, networksAnnotation, nicplexConf, nicplexLayout, subnetsFor, testMac, type NicplexLayout } from './harness/nicplex-networks.js';
import { netnsMountsLeft, parseIpOneLineAddresses, preparePodmanFixture, printedNetnsInode, printNetnsThen, type PodmanFixture } from './harness/podman-fixture.js';
import { showLogsOnFailure, waitFor } from './harness/run.js';
import { distinctCalls } from '../helpers/rbac.js';
import type { FakeApiServer } from '../helpers/fake-apiserver.js';
import { fetchStatus } from '../../deploy/status-command.js';
import { NETWORK_STATUS_ANNOTATION as networkStatusAnnotation } from '../../cni/annotation.js';
import type { NetworkStatusEntry } from '../../cni/cluster.js';

const subnets = subnetsFor(88);
const networkName = 'npx-e2e-agent-kube';
const namespace = 'e2e';
interface Setup {
  fixture: PodmanFixture;
  layout: NicplexLayout;
  apiServer: FakeApiServer;
  agent: NodeAgent;
}

/** The two pods of this file, their NAD, the agent with its informers synced, and the podman network. */
async function setUp(t: Test): Promise<Setup> {
  const fixture = await preparePodmanFixture(t, 'pk', subnets.masterPeerCidr);
  const layout = nicplexLayout(fixture.workDir, fixture.node, subnets, fixture.ipamDataDir, 'k');
  const { apiServer, kubeconfig } = await fakeApiServerForNode(t, fixture.node, fixture.workDir);
  apiServer.addNad({ namespace, name: layout.nadName, config: JSON.stringify(layout.nadConfig) });
  const agent = await startNodeAgent(t, fixture.node, fixture.workDir, fixture.cniBinDir, ['--kubeconfig', kubeconfig, '--node-name', 'e2e-node']);
  showLogsOnFailure(t, { nicplex: layout.logFile });
  writePodmanNetwork(
    fixture.cniConfDir,
    networkName,
    nicplexConf(layout, fixture.cniBinDir, [clusterDelegate(layout, subnets, fixture.ipamDataDir)], { kubeconfig }, { socketDir: agent.socketDir }),
  );
  return { fixture, layout, apiServer, agent };
}

/** Pods added after the agent started reach it by watch: wait until its pod cache holds `count` of them. */
async function podsCached(agent: NodeAgent, count: number): Promise<void> {
  const socketPath = join(agent.socketDir, 'nicplex.sock');
  await waitFor(`the agent's informers to sync and hold ${count} pod(s)`, async () => {
    const status = await fetchStatus(socketPath, 5_000);
    const informers = status.informers;
    const pods = informers.find((informer) => informer.name === 'pods');
    return informers.length === 2 && informers.every((informer) => informer.synced) && (pods?.objects ?? 0) >= count ? true : undefined;
  }, 20_000);
}

/** The interface lines `ip -o link` printed: ifname → MAC. */
function printedMacs(output: string): Map<string, string> {
  const macs = new Map<string, string>();
  for (const match of output.matchAll(/^\d+:\s+([^:@\s]+)[^\n]*link\/ether\s+([0-9a-f:]{17})/gm)) macs.set(match[1]!, match[2]!);
  return macs;
}

t.test('podman → shim → nicplex agent (Kubernetes mode): the pod named by the container and CNI_ARGS gets eth0 and the NAD of its annotation, network-status reaches the API server, nothing left after `run --rm`', async (t) => {
  const { fixture, layout, apiServer, agent } = await setUp(t);
  const mac = testMac();
  const annotations = { [networksAnnotation]: JSON.stringify([{ name: layout.nadName, mac }]) };
  const pod = apiServer.addPod({ namespace, name: 'podman-kube-pod', uid: `uid-podman-kube-${process.pid}`, nodeName: 'e2e-node', annotations });
  await podsCached(agent, 1);
  const readsBefore = apiServer.objectGets().length;

  const result = await fixture.podman.podman(
    ['run', '--rm', '--name', pod.name, '--network', networkName, fixture.imageRef, ...printNetnsThen('ip -o -4 addr show; ip -o link show')],
    { allowFailure: true, env: { CNI_ARGS: `K8S_POD_NAMESPACE=${namespace};K8S_POD_UID=${pod.uid}` } },
  );
  t.equal(result.exitCode, 0, `podman run succeeded${result.exitCode === 0 ? '' : `: ${result.stderr.trim()}\n${agent.stderr()}`}`);
  const addresses = parseIpOneLineAddresses(result.stdout);
  const eth0Ip = addresses.find((address) => address.ifname === 'eth0')?.cidr.split('/')[0] ?? '';
  const net1Ip = addresses.find((address) => address.ifname === 'net1')?.cidr.split('/')[0] ?? '';
  t.ok(inSubnet(eth0Ip, subnets.cluster), `eth0 ${eth0Ip || '(missing)'} in the cluster network ${subnets.cluster}`);
  t.ok(inRange(net1Ip || '0.0.0.0', subnets.nadRangeStart, subnets.nadRangeEnd), `net1 ${net1Ip || '(missing)'} from the range of the NAD the annotation names`);
  t.equal(printedMacs(result.stdout).get('net1'), mac, 'net1 has the MAC the annotation asked for');

  t.equal(apiServer.objectGets().length - readsBefore, 0, 'neither ADD nor DEL read the pod or the NAD from the API server (informer caches)');
  const entries = JSON.parse(apiServer.podAnnotations(namespace, pod.name)?.[networkStatusAnnotation] ?? '[]') as NetworkStatusEntry[];
  const net1Entry = entries.find((entry) => entry.interface === 'net1');
  const eth0Entry = entries.find((entry) => entry.interface === 'eth0');
  t.equal(net1Entry?.name, `${namespace}/${layout.nadName}`, 'network-status written through the agent names the NAD for net1');
  t.same(net1Entry?.ips, [net1Ip], 'network-status has net1 with the address the container saw');
  t.equal(net1Entry?.mac, mac, 'network-status has net1 with the MAC the container saw');
  t.equal(eth0Entry?.default, true, 'network-status marks eth0 as the default network');
  t.same(eth0Entry?.ips, [eth0Ip], 'network-status has eth0 with the address the container saw');

  t.same(await netnsMountsLeft(printedNetnsInode(result.stdout) ?? 0), [], 'the container netns is no longer mounted');
  const leftovers = await leftoversAfterTeardown({ node: fixture.node, ipamDataDirs: [fixture.ipamDataDir], nicplexCacheDir: layout.cacheDir, persistentLinks: [layout.bridge] });
  t.same(leftovers, nothingLeft, 'no host-side veth, IPAM lease or nicplex cache file is left');
  t.notMatch(agent.stderr(), /"level":50/, 'the agent logged no error');
  t.same(apiServer.denied, [], `deploy/rbac.yaml allows every call the agent made: ${distinctCalls(apiServer.requests).join(', ')}`);
});

t.test('podman → shim → nicplex agent (Kubernetes mode): without K8S_POD_NAMESPACE, podman\'s K8S_POD_NAME alone is no pod: eth0 only, the API server untouched', async (t) => {
  const { fixture, layout, apiServer, agent } = await setUp(t);
  const annotations = { [networksAnnotation]: JSON.stringify([{ name: layout.nadName }]) };
  const pod = apiServer.addPod({ namespace, name: 'podman-no-ns-pod', uid: `uid-podman-no-ns-${process.pid}`, nodeName: 'e2e-node', annotations });
  await podsCached(agent, 1);
  const requestsBefore = apiServer.requests.length;
  const result = await fixture.podman.podman(['run', '--rm', '--name', pod.name, '--network', networkName, fixture.imageRef, ...printNetnsThen('ip -o -4 addr show')], { allowFailure: true });
  t.equal(result.exitCode, 0, `podman run succeeded${result.exitCode === 0 ? '' : `: ${result.stderr.trim()}`}`);
  const addresses = parseIpOneLineAddresses(result.stdout);
  t.ok(inSubnet(addresses.find((address) => address.ifname === 'eth0')?.cidr.split('/')[0] ?? '', subnets.cluster), 'eth0 from the cluster network');
  t.same(addresses.map((address) => address.ifname).filter((name) => name !== 'lo'), ['eth0'], 'no net1: the pod\'s annotation was never read');
  t.same(apiServer.requests.slice(requestsBefore).filter((request) => request.method !== 'GET'), [], 'nothing was written to the API server (no network-status, no event)');
  t.equal(apiServer.podAnnotations(namespace, pod.name)?.[networkStatusAnnotation], undefined, 'the pod has no network-status');
  const leftovers = await leftoversAfterTeardown({ node: fixture.node, ipamDataDirs: [fixture.ipamDataDir], nicplexCacheDir: layout.cacheDir, persistentLinks: [layout.bridge] });
  t.same(leftovers, nothingLeft, 'no host-side veth, IPAM lease or nicplex cache file is left');
});
