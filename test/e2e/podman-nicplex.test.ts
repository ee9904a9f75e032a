// podman 4.3 (CNI backend) running containers on a network whose plugin is nicplex in standalone
// mode. Podman cannot pass pod annotations or custom CNI args, so the secondary network is chosen
// by the network config (`args.cni.networks`, the annotation syntax, naming a NAD file); podman
// sends no K8S_POD_NAMESPACE, so nicplex treats the container as a pod in namespace "default",
// which is where the NAD lives.
import t, { type Test } from 'tap';
import { writePodmanNetwork } from './harness/cni-dirs.js';
import { leftoversAfterTeardown, nothingLeft } from './harness/leftovers.js';
import { inRange, inSubnet, ipv4Addresses, listLinks } from './harness/node-netns.js';
import { clusterDelegate, nicplexConf, nicplexLayout, subnetsFor, writeNadFile, type NicplexLayout } from './harness/nicplex-networks.js';
import {
  netnsLeftSince,
  netnsMountsLeft,
  parseIpOneLineAddresses,
  podmanNetnsNames,
  preparePodmanFixture,
  printedNetnsInode,
  printNetnsThen,
  type PodmanFixture,
} from './harness/podman-fixture.js';
import { showLogsOnFailure } from './harness/run.js';

const subnets = subnetsFor(90);
const networkName = 'npx-e2e-nicplex';

async function podmanWithNicplexNetwork(t: Test, tag: string): Promise<{ fixture: PodmanFixture; layout: NicplexLayout }> {
  const fixture = await preparePodmanFixture(t, tag, subnets.masterPeerCidr);
  const layout = nicplexLayout(fixture.workDir, fixture.node, subnets, fixture.ipamDataDir, tag.slice(-1));
  writeNadFile(layout, 'default');
  writePodmanNetwork(
    fixture.cniConfDir,
    networkName,
    nicplexConf(layout, fixture.cniBinDir, [clusterDelegate(layout, subnets, fixture.ipamDataDir)], { standalone: true }, { args: { cni: { networks: layout.nadName } } }),
  );
  showLogsOnFailure(t, { nicplex: layout.logFile });
  return { fixture, layout };
}

t.test('podman + nicplex (standalone): the container gets eth0 from the cluster bridge and net1 from the macvlan NAD, nothing left after exit', async (t) => {
  const { fixture, layout } = await podmanWithNicplexNetwork(t, 'pn');
  const result = await fixture.podman.podman(['run', '--rm', '--network', networkName, fixture.imageRef, ...printNetnsThen('ip -o -4 addr show')], { allowFailure: true });
  t.equal(result.exitCode, 0, `podman run succeeded${result.exitCode === 0 ? '' : `: ${result.stderr.trim()}`}`);
  const netnsInode = printedNetnsInode(result.stdout);
  t.ok(netnsInode, `the container printed its netns (${netnsInode})`);
  const addresses = parseIpOneLineAddresses(result.stdout);
  const eth0 = addresses.find((address) => address.ifname === 'eth0');
  const net1 = addresses.find((address) => address.ifname === 'net1');
  t.ok(eth0 && inSubnet(eth0.cidr.split('/')[0]!, subnets.cluster), `the container saw eth0 ${eth0?.cidr ?? '(missing)'} in ${subnets.cluster}`);
  t.ok(
    inRange(net1?.cidr.split('/')[0] ?? '0.0.0.0', subnets.nadRangeStart, subnets.nadRangeEnd),
    `the container saw net1 ${net1?.cidr ?? '(missing)'} from the NAD range ${subnets.nadRangeStart}-${subnets.nadRangeEnd}`,
  );

  t.same(await netnsMountsLeft(netnsInode ?? 0), [], 'the container netns is no longer mounted in /run/netns');
  const leftovers = await leftoversAfterTeardown({
    node: fixture.node,
    ipamDataDirs: [fixture.ipamDataDir],
    nicplexCacheDir: layout.cacheDir,
    persistentLinks: [layout.bridge],
  });
  t.same(leftovers, nothingLeft, 'no host-side veth, IPAM lease or nicplex cache file is left');
});

interface PodmanInspect {
  NetworkSettings?: { SandboxKey?: string };
}

t.test('podman + nicplex (standalone): a running container holds both attachments, `podman rm -f` releases all of them', async (t) => {
  const { fixture, layout } = await podmanWithNicplexNetwork(t, 'pd');
  const containerName = `npx-e2e-${process.pid}`;
  await fixture.podman.podman(['run', '--detach', '--name', containerName, '--network', networkName, fixture.imageRef, 'sleep', '300']);
  const inspected = JSON.parse((await fixture.podman.podman(['inspect', containerName])).stdout) as PodmanInspect[];
  const netnsPath = inspected[0]?.NetworkSettings?.SandboxKey;
  if (!netnsPath) throw new Error(`podman inspect ${containerName} reports no NetworkSettings.SandboxKey`);
  const links = await listLinks({ path: netnsPath });
  const eth0Ip = ipv4Addresses(links.find((link) => link.ifname === 'eth0'))[0]?.split('/')[0] ?? '';
  const net1 = links.find((link) => link.ifname === 'net1');
  const net1Ip = ipv4Addresses(net1)[0]?.split('/')[0] ?? '';
  t.ok(inSubnet(eth0Ip, subnets.cluster), `eth0 ${eth0Ip} is in ${subnets.cluster}`);
  t.equal(net1?.linkinfo?.info_kind, 'macvlan', 'net1 is a macvlan');
  t.ok(inRange(net1Ip, subnets.nadRangeStart, subnets.nadRangeEnd), `net1 ${net1Ip} is in the NAD range`);
  const probes = { node: fixture.node, netnsPath, ipamDataDirs: [fixture.ipamDataDir], nicplexCacheDir: layout.cacheDir, persistentLinks: [layout.bridge] };
  const running = await leftoversAfterTeardown(probes);
  t.ok(running.netnsStillThere, 'the container netns exists while it runs');
  t.equal(running.ipamLeases.length, 2, 'host-local holds one lease per network while it runs');
  t.equal(running.strayLinks.length, 1, `the node netns holds the container's host-side veth (${running.strayLinks.join(', ')})`);
  t.ok(running.nicplexCacheFiles.length > 0, 'nicplex cached the attachment');

  await fixture.podman.podman(['rm', '--force', '--time', '0', containerName]);
  t.same(await leftoversAfterTeardown(probes), nothingLeft, 'no netns, host-side veth, IPAM lease or nicplex cache file is left');
});

t.test('podman + nicplex (standalone): a network naming a NAD that does not exist fails the run with nicplex\'s message, and leaves nothing behind', async (t) => {
  const fixture = await preparePodmanFixture(t, 'pf', subnets.masterPeerCidr);
  const layout = nicplexLayout(fixture.workDir, fixture.node, subnets, fixture.ipamDataDir, 'f');
  const brokenNetwork = 'npx-e2e-missing-nad';
  writePodmanNetwork(
    fixture.cniConfDir,
    brokenNetwork,
    nicplexConf(layout, fixture.cniBinDir, [clusterDelegate(layout, subnets, fixture.ipamDataDir)], { standalone: true }, { args: { cni: { networks: 'no-such-nad' } } }),
  );
  const netnsBefore = podmanNetnsNames();
  const result = await fixture.podman.podman(['run', '--rm', '--network', brokenNetwork, fixture.imageRef, 'true'], { allowFailure: true });
  t.not(result.exitCode, 0, 'podman run fails');
  t.match(result.stderr, /no-such-nad/, `podman shows nicplex's error naming the NAD (${result.stderr.trim().split('\n').pop() ?? ''})`);
  t.same(await netnsLeftSince(netnsBefore), [], 'no network namespace is left in /run/netns');
  const leftovers = await leftoversAfterTeardown({ node: fixture.node, ipamDataDirs: [fixture.ipamDataDir], nicplexCacheDir: layout.cacheDir, persistentLinks: [layout.bridge] });
  t.same(leftovers, nothingLeft, 'no host-side veth, IPAM lease or nicplex cache file is left');
  const containers = await fixture.podman.podman(['ps', '--all', '--quiet']);
  t.equal(containers.stdout.trim(), '', 'podman keeps no container from the failed run');
});
