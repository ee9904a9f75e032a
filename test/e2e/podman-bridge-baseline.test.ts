// Baseline for the podman harness: podman 4.3's CNI backend running a container on a network
// whose only plugin is the reference bridge. When this fails and the nicplex podman test fails
// too, the harness or the machine is at fault, not nicplex.
import t from 'tap';
import { bridgeNetworkConfig, writePodmanNetwork } from './harness/cni-dirs.js';
import { leftoversAfterTeardown, nothingLeft } from './harness/leftovers.js';
import { inSubnet } from './harness/node-netns.js';
import { netnsMountsLeft, parseIpOneLineAddresses, preparePodmanFixture, printedNetnsInode, printNetnsThen } from './harness/podman-fixture.js';

const clusterSubnet = '10.231.70.0/24';

t.test('podman (CNI backend) runs a container on a reference bridge network and cleans up', async (t) => {
  const fixture = await preparePodmanFixture(t, 'pb', '10.231.71.1/24');
  const bridge = `npxpb${process.pid}`.slice(0, 15);
  writePodmanNetwork(fixture.cniConfDir, 'npx-e2e-bridge', bridgeNetworkConfig({ name: 'npx-e2e-bridge', bridge, subnet: clusterSubnet, ipamDataDir: fixture.ipamDataDir }));

  const result = await fixture.podman.podman(['run', '--rm', '--network', 'npx-e2e-bridge', fixture.imageRef, ...printNetnsThen('ip -o -4 addr show')]);
  const netnsInode = printedNetnsInode(result.stdout);
  t.ok(netnsInode, `the container printed its netns (${netnsInode})`);
  const addresses = parseIpOneLineAddresses(result.stdout);
  const eth0 = addresses.find((address) => address.ifname === 'eth0');
  t.ok(eth0, `the container saw eth0 with an IPv4 address (output: ${result.stdout.trim()})`);
  t.ok(eth0 && inSubnet(eth0.cidr.split('/')[0]!, clusterSubnet), `eth0 ${eth0?.cidr} is in ${clusterSubnet}`);

  t.same(await netnsMountsLeft(netnsInode ?? 0), [], 'the container netns is no longer mounted in /run/netns');
  const leftovers = await leftoversAfterTeardown({ node: fixture.node, ipamDataDirs: [fixture.ipamDataDir], persistentLinks: [bridge] });
  t.same(leftovers, nothingLeft, 'no host-side veth or IPAM lease is left');
});
