// podman 4.3 (CNI backend) execs the C shim against `nicplex agent` in standalone mode: the container
// gets eth0 from the cluster bridge and net1 from the macvlan NAD, and nothing is left after `run --rm`.
import t from 'tap';
import { writePodmanNetwork } from './harness/cni-dirs.js';
import { leftoversAfterTeardown, nothingLeft } from './harness/leftovers.js';
import { inRange, inSubnet } from './harness/node-netns.js';
import { startNodeAgent } from './harness/nicplex-agent.js';
import { clusterDelegate, nicplexConf, nicplexLayout, subnetsFor, writeNadFile } from './harness/nicplex-networks.js';
import { netnsMountsLeft, parseIpOneLineAddresses, preparePodmanFixture, printedNetnsInode, printNetnsThen } from './harness/podman-fixture.js';

const subnets = subnetsFor(94);
const networkName = 'npx-e2e-agent';

t.test('podman → shim → nicplex agent (standalone): eth0 and net1, nothing left after exit', async (t) => {
  const fixture = await preparePodmanFixture(t, 'pa', subnets.masterPeerCidr);
  const layout = nicplexLayout(fixture.workDir, fixture.node, subnets, fixture.ipamDataDir, 'a');
  writeNadFile(layout, 'default');
  const agent = await startNodeAgent(t, fixture.node, fixture.workDir, fixture.cniBinDir);
  writePodmanNetwork(
    fixture.cniConfDir,
    networkName,
    nicplexConf(layout, fixture.cniBinDir, [clusterDelegate(layout, subnets, fixture.ipamDataDir)], { standalone: true }, { args: { cni: { networks: layout.nadName } }, socketDir: agent.socketDir }),
  );
  const result = await fixture.podman.podman(['run', '--rm', '--network', networkName, fixture.imageRef, ...printNetnsThen('ip -o -4 addr show')], { allowFailure: true });
  t.equal(result.exitCode, 0, `podman run succeeded${result.exitCode === 0 ? '' : `: ${result.stderr.trim()}\n${agent.stderr()}`}`);
  const addresses = parseIpOneLineAddresses(result.stdout);
  const eth0 = addresses.find((address) => address.ifname === 'eth0');
  const net1 = addresses.find((address) => address.ifname === 'net1');
  t.ok(eth0 && inSubnet(eth0.cidr.split('/')[0]!, subnets.cluster), `eth0 ${eth0?.cidr ?? '(missing)'} in ${subnets.cluster}`);
  t.ok(inRange(net1?.cidr.split('/')[0] ?? '0.0.0.0', subnets.nadRangeStart, subnets.nadRangeEnd), `net1 ${net1?.cidr ?? '(missing)'} from the NAD range`);
  t.same(await netnsMountsLeft(printedNetnsInode(result.stdout) ?? 0), [], 'the container netns is no longer mounted');
  const leftovers = await leftoversAfterTeardown({ node: fixture.node, ipamDataDirs: [fixture.ipamDataDir], nicplexCacheDir: layout.cacheDir, persistentLinks: [layout.bridge] });
  t.same(leftovers, nothingLeft, 'no host-side veth, IPAM lease or nicplex cache file is left');
});
