// The pod both containerd + nicplex tests run: RunPodSandbox with the networks annotation, then
// look inside the sandbox netns (eth0 from the cluster bridge, net1 from the macvlan NAD with the
// requested MAC, reachable), then StopPodSandbox (DEL with the netns) and RemovePodSandbox (DEL
// again with CNI_NETNS="") and check that nothing is left.
import { run } from './run.js';
import { leftoversAfterTeardown, nothingLeft } from './leftovers.js';
import { runSandbox, type ContainerdFixture, type RunningSandbox } from './containerd-fixture.js';
import type { ContainerdInstance } from './containerd.js';
import { inRange, inSubnet, ipv4Addresses } from './node-netns.js';
import type { NicplexLayout, TestSubnets } from './nicplex-networks.js';
import type { PodIdentity } from '../../helpers/cri-client.js';

interface Assertions {
  ok(value: unknown, message: string): void;
  equal(found: unknown, wanted: unknown, message: string): void;
  same(found: unknown, wanted: unknown, message: string): void;
  notOk(value: unknown, message: string): void;
}

export interface TwoNetworkPodOptions {
  fixture: ContainerdFixture;
  containerd: ContainerdInstance;
  layout: NicplexLayout;
  subnets: TestSubnets;
  pod: PodIdentity;
  annotations: Record<string, string>;
  expectedMac: string;
  /** Extra checks while the sandbox runs (e.g. the network-status the fake API server received). */
  whileRunning?: (sandbox: RunningSandbox) => Promise<void>;
}

export async function runTwoNetworkPod(t: Assertions, options: TwoNetworkPodOptions): Promise<void> {
  const { fixture, containerd, layout, subnets } = options;
  const sandbox = await runSandbox(containerd, fixture.workDir, options.pod, options.annotations);

  const eth0 = sandbox.links.find((link) => link.ifname === 'eth0');
  const eth0Addresses = ipv4Addresses(eth0);
  t.equal(eth0Addresses.length, 1, `eth0 has one IPv4 address (${eth0Addresses.join(', ') || 'none'})`);
  const eth0Ip = eth0Addresses[0]?.split('/')[0] ?? '';
  t.ok(inSubnet(eth0Ip, subnets.cluster), `eth0 ${eth0Ip} is in the cluster network ${subnets.cluster}`);
  t.equal(eth0?.linkinfo?.info_kind, 'veth', 'eth0 is the bridge plugin veth');
  t.equal(sandbox.status.status?.network?.ip, eth0Ip, 'containerd reports the cluster network address as the pod IP');

  const net1 = sandbox.links.find((link) => link.ifname === 'net1');
  t.ok(net1, `net1 exists in the sandbox (links: ${sandbox.links.map((link) => link.ifname).join(', ')})`);
  t.equal(net1?.linkinfo?.info_kind, 'macvlan', 'net1 is a macvlan');
  t.equal(net1?.address, options.expectedMac, 'net1 has the MAC the annotation asked for');
  const net1Addresses = ipv4Addresses(net1);
  t.equal(net1Addresses.length, 1, `net1 has one IPv4 address (${net1Addresses.join(', ') || 'none'})`);
  const net1Ip = net1Addresses[0]?.split('/')[0] ?? '0.0.0.0';
  t.ok(inRange(net1Ip, subnets.nadRangeStart, subnets.nadRangeEnd), `net1 ${net1Ip} is in the NAD's host-local range ${subnets.nadRangeStart}-${subnets.nadRangeEnd}`);
  const peer = fixture.node.peerAddress;
  const ping = await run('nsenter', [`--net=${sandbox.netnsPath}`, '/bin/busybox', 'ping', '-c', '2', '-W', '5', peer], { allowFailure: true, timeoutMs: 10_000 });
  t.equal(ping.exitCode, 0, `net1 reaches ${peer} on the macvlan master's peer (${ping.stdout.trim().split('\n').pop() ?? ''})`);
  // The same probes that must come back empty after removal see the pod's state now, so an empty
  // answer later means "cleaned up", not "never looked in the right place".
  const whileRunning = await leftoversAfterTeardown({
    node: fixture.node,
    netnsPath: sandbox.netnsPath,
    containerId: sandbox.id,
    ipamDataDirs: [fixture.ipamDataDir],
    nicplexCacheDir: layout.cacheDir,
    persistentLinks: [layout.bridge],
  });
  t.ok(whileRunning.netnsStillThere, 'the sandbox netns exists while the pod runs');
  t.equal(whileRunning.ipamLeases.length, 2, `host-local holds one lease per network while the pod runs (${whileRunning.ipamLeases.length})`);
  t.equal(whileRunning.strayLinks.length, 1, `the node netns holds the pod's host-side veth while the pod runs (${whileRunning.strayLinks.join(', ')})`);
  t.ok(whileRunning.cniCacheFiles.length > 0, `libcni cached containerd's result (${whileRunning.cniCacheFiles.length} file(s))`);
  t.ok(whileRunning.nicplexCacheFiles.length > 0, `nicplex cached the attachment in its cniDir (${whileRunning.nicplexCacheFiles.length} file(s))`);
  if (options.whileRunning) await options.whileRunning(sandbox);

  await containerd.cri.stopPodSandbox(sandbox.id);
  await containerd.cri.removePodSandbox(sandbox.id);
  const remaining = await containerd.cri.listPodSandbox();
  t.notOk(remaining.some((item) => item.id === sandbox.id), 'ListPodSandbox no longer has the sandbox');
  const leftovers = await leftoversAfterTeardown({
    node: fixture.node,
    netnsPath: sandbox.netnsPath,
    containerId: sandbox.id,
    ipamDataDirs: [fixture.ipamDataDir],
    nicplexCacheDir: layout.cacheDir,
    persistentLinks: [layout.bridge],
  });
  t.same(leftovers, nothingLeft, 'no netns, host-side veth, IPAM lease, libcni cache or nicplex cache file is left');
}
