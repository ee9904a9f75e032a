// Baseline for the containerd harness: containerd 1.6's CRI plugin with the reference bridge
// plugin as its only CNI network. When this fails and the nicplex tests fail too, the harness or
// the machine is at fault, not nicplex.
import t from 'tap';
import { join } from 'node:path';
import { bridgeNetworkConfig, writeJsonFile } from './harness/cni-dirs.js';
import { prepareContainerd, runSandbox } from './harness/containerd-fixture.js';
import { leftoversAfterTeardown, nothingLeft } from './harness/leftovers.js';
import { inSubnet, ipv4Addresses } from './harness/node-netns.js';

const clusterSubnet = '10.231.60.0/24';

t.test('containerd CRI runs and removes a pod sandbox with the reference bridge plugin as the CNI', async (t) => {
  const fixture = await prepareContainerd(t, 'cb', '10.231.61.1/24');
  const bridge = `npxbb${process.pid}`.slice(0, 15);
  writeJsonFile(
    join(fixture.cniConfDir, '10-bridge.conf'),
    bridgeNetworkConfig({ name: 'npx-e2e-cluster', bridge, subnet: clusterSubnet, ipamDataDir: fixture.ipamDataDir }),
  );
  const containerd = await fixture.start();
  const version = await containerd.cri.version();
  t.equal(version.runtimeName, 'containerd', 'the CRI socket is containerd');

  const pod = { name: 'baseline', namespace: 'e2e', uid: `uid-baseline-${process.pid}` };
  const sandbox = await runSandbox(containerd, fixture.workDir, pod);
  const eth0 = sandbox.links.find((link) => link.ifname === 'eth0');
  const eth0Addresses = ipv4Addresses(eth0);
  t.equal(eth0Addresses.length, 1, `eth0 has one IPv4 address (${eth0Addresses.join(', ')})`);
  t.ok(inSubnet(eth0Addresses[0]!.split('/')[0]!, clusterSubnet), `eth0 address ${eth0Addresses[0]} is in ${clusterSubnet}`);
  t.equal(sandbox.status.status?.network?.ip, eth0Addresses[0]!.split('/')[0], 'PodSandboxStatus reports the eth0 address as the pod IP');
  t.equal(sandbox.status.status?.metadata?.uid, pod.uid, 'the sandbox carries the pod UID');

  await containerd.cri.stopPodSandbox(sandbox.id);
  await containerd.cri.removePodSandbox(sandbox.id);
  const remaining = await containerd.cri.listPodSandbox();
  t.notOk(remaining.some((item) => item.id === sandbox.id), 'ListPodSandbox no longer has the sandbox');
  const leftovers = await leftoversAfterTeardown({
    node: fixture.node,
    netnsPath: sandbox.netnsPath,
    containerId: sandbox.id,
    ipamDataDirs: [fixture.ipamDataDir],
    persistentLinks: [bridge],
  });
  t.same(leftovers, nothingLeft, 'no netns, host-side veth, IPAM lease or CNI cache file is left');
});
