// The agent image, as deploy/build-image.sh builds it (Debian base from mmdebstrap, the npm registry's
// Node, no registry pull), in the test's private podman storage: under 150 MB; `nicplex discover` with
// host networking and /sys finds what the host's CLI finds, with names from the image's pci.ids;
// `nicplex agent --help` works; and the agent in the container — with the DaemonSet's privileges
// (every capability dropped but NET_ADMIN, SYS_ADMIN, NET_RAW; read-only root; no new privileges) —
// installs the shim into a "host" bin dir, and that shim, run on the host, gets a pod netns created
// after the container started its eth0 (bridge) and net1 (macvlan NAD) from the agent inside, and
// nothing is left after DEL. /healthz and /readyz answer on loopback; the preStop command stops it
// with exit code 0.
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { accepts } from '../helpers/agent-harness.js';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { referencePluginDir, writeJsonFile } from './harness/cni-dirs.js';
import { leftoversAfterTeardown, nothingLeft } from './harness/leftovers.js';
import { inRange, inSubnet, ipv4Addresses, listLinks } from './harness/node-netns.js';
import { clusterDelegate, nicplexConf, nicplexLayout, subnetsFor, writeNadFile } from './harness/nicplex-networks.js';
import { preparePodmanFixture } from './harness/podman-fixture.js';
import { run, waitFor } from './harness/run.js';

const subnets = subnetsFor(96);
const imageSizeGoal = 150 * 1000 * 1000;
/** The DaemonSet's securityContext (deploy/daemonset.yaml), in podman's words. */
const daemonSetPrivileges = ['--cap-drop', 'all', '--cap-add', 'NET_ADMIN,SYS_ADMIN,NET_RAW', '--read-only', '--security-opt', 'no-new-privileges'];
const preStop = ['/usr/local/bin/node', '-e', "process.kill(1, 'SIGTERM')"];

interface DiscoverJson { devices: Array<{ pciAddress: string; vendorName: string | null }>; pciIdsSource?: string | null }

t.test('the agent image: built here, small, discover and the agent with the shim on the host', async (t) => {
  const fixture = await preparePodmanFixture(t, 'im', subnets.masterPeerCidr);
  const { podman, node } = fixture;
  const tag = `localhost/nicplex-e2e-image-${process.pid}:test`;

  const started = Date.now();
  const build = await run('bash', [join(repoRoot, 'deploy', 'build-image.sh'), '--no-build', '--tag', tag, '--', ...podman.globalFlags], { env: podman.env, timeoutMs: 240_000 });
  t.comment(`build: ${Math.round((Date.now() - started) / 1000)} s\n${build.stdout.trim()}`);
  const size = Number((await podman.podman(['image', 'inspect', '--format', '{{.Size}}', tag])).stdout.trim());
  t.ok(size > 0 && size < imageSizeGoal, `image size ${(size / 1e6).toFixed(1)} MB < ${imageSizeGoal / 1e6} MB`);
  const history = (await podman.podman(['history', '--format', '{{.CreatedBy}}', tag])).stdout;
  t.notMatch(history, /\bRUN\b|apt-get|npm /, 'no build step ran inside the image (nothing for building was in it)');

  // discover: the same devices as the host's CLI sees from the node netns, named from the image's pci.ids.
  const configDir = join(fixture.workDir, 'dp-config');
  mkdirSync(configDir);
  writeJsonFile(join(configDir, 'config.json'), { resourceList: [{ resourceName: 'virtio', selectors: { drivers: ['virtio-pci'] } }] });
  const discover = await podman.podman(['run', '--rm', '--network', 'host', '-v', '/sys:/sys:ro', '-v', `${configDir}:/etc/nicplex:ro`, tag,
    'discover', '--config', '/etc/nicplex/config.json', '--output', 'json'], { allowFailure: true });
  t.equal(discover.exitCode, 0, `nicplex discover in the image: ${discover.stderr.trim()}`);
  const inImage = JSON.parse(discover.stdout || '{"devices":[]}') as DiscoverJson;
  const onHost = JSON.parse((await run('nsenter', [...node.enterArgs, process.execPath, cliPath, 'discover', '--config', join(configDir, 'config.json'), '--output', 'json'])).stdout) as DiscoverJson;
  t.ok(onHost.devices.length > 0, `the host has PCI network devices to compare (${onHost.devices.length})`);
  t.same(inImage.devices.map((device) => device.pciAddress), onHost.devices.map((device) => device.pciAddress), 'the image finds the devices the host CLI finds');
  t.ok(inImage.devices.every((device) => typeof device.vendorName === 'string'), `with vendor names from the image's pci.ids (${inImage.devices.map((device) => device.vendorName).join(', ')})`);
  const help = await podman.podman(['run', '--rm', '--network', 'none', tag, 'agent', '--help'], { allowFailure: true });
  t.equal(help.exitCode, 0, 'nicplex agent --help exits 0');
  t.match(help.stdout, /--cni-bin-dir/, 'and lists the agent flags');

  // The agent in the container. Every path it shares with the host is the same path on both sides.
  const shared = join(fixture.workDir, 'shared');
  const hostBinDir = join(shared, 'host-cni-bin');
  const socketDir = join(shared, 'sock');
  const ipamDataDir = join(shared, 'ipam');
  for (const dir of [hostBinDir, ipamDataDir]) mkdirSync(dir, { recursive: true });
  const layout = nicplexLayout(shared, node, subnets, ipamDataDir, 'i');
  writeNadFile(layout, 'default');
  const metricsAddress = `127.0.0.1:${20000 + (process.pid % 20000)}`;
  const name = `nicplex-e2e-agent-${process.pid}`;
  await podman.podman(['run', '-d', '--name', name, '--network', 'host', ...daemonSetPrivileges,
    '-v', '/sys:/sys:ro', '-v', '/run/netns:/run/netns:ro,rslave', '-v', `${referencePluginDir}:${referencePluginDir}:ro`, '-v', `${shared}:${shared}`,
    tag, 'agent', '--socket-dir', socketDir, '--cni-bin-dir', hostBinDir, '--metrics-address', metricsAddress, '--log-level', 'debug']);
  t.teardown(() => podman.podman(['rm', '--force', '--time', '0', name], { allowFailure: true }));
  const logs = async () => {
    const { stdout, stderr } = await podman.podman(['logs', name], { allowFailure: true });
    return `${stdout}${stderr}`;
  };
  const socketPath = join(socketDir, 'nicplex.sock');
  await waitFor('the agent socket in the container', async () => ((await accepts(socketPath)) ? true : undefined), 30_000).catch(async (error: Error) => {
    throw new Error(`${error.message}\n${await logs()}`);
  });
  const socketStat = statSync(socketPath);
  t.same({ mode: (socketStat.mode & 0o777).toString(8), uid: socketStat.uid }, { mode: '600', uid: 0 }, 'the agent socket is 0600, owned by root');
  const shim = join(hostBinDir, 'nicplex');
  // The socket is served first, the shim installed right after it.
  await waitFor('the shim in the host bin dir', async () => (existsSync(shim) ? true : undefined), 10_000).catch(() => undefined);
  t.ok(existsSync(shim) && readFileSync(shim).equals(readFileSync(join(repoRoot, 'build', 'Release', 'nicplex-shim'))), 'the agent installed its shim into the host bin dir');
  const probe = async (path: string) => run('nsenter', [...node.enterArgs, 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${metricsAddress}${path}`], { allowFailure: true });
  t.equal((await probe('/healthz')).stdout, '200', '/healthz answers on loopback in the host network namespace');
  t.equal((await probe('/readyz')).stdout, '200', '/readyz: ready');

  // A pod netns made after the container started: it reaches the agent through the rslave /run/netns mount.
  const podNetns = `npxe2e-imp-${process.pid}`;
  await run('ip', ['netns', 'add', podNetns]);
  t.teardown(() => run('ip', ['netns', 'delete', podNetns], { allowFailure: true }));
  const conf = nicplexConf(layout, referencePluginDir, [clusterDelegate(layout, subnets, ipamDataDir)], { standalone: true }, { args: { cni: { networks: layout.nadName } }, socketDir });
  const cni = (command: string) => run(shim, [], {
    allowFailure: true,
    input: JSON.stringify(conf),
    env: { PATH: process.env['PATH'], CNI_COMMAND: command, CNI_CONTAINERID: `image-e2e-${process.pid}`, CNI_NETNS: `/run/netns/${podNetns}`, CNI_IFNAME: 'eth0', CNI_PATH: referencePluginDir },
  });
  const add = await cni('ADD');
  t.equal(add.exitCode, 0, `ADD through the host's shim and the agent in the container${add.exitCode === 0 ? '' : `: ${add.stdout}\n${await logs()}`}`);
  const links = await listLinks({ name: podNetns });
  const eth0 = ipv4Addresses(links.find((link) => link.ifname === 'eth0'))[0] ?? '';
  const net1 = ipv4Addresses(links.find((link) => link.ifname === 'net1'))[0] ?? '';
  t.ok(inSubnet(eth0.split('/')[0] || '0.0.0.0', subnets.cluster), `eth0 ${eth0 || '(missing)'} from the cluster bridge`);
  t.ok(inRange(net1.split('/')[0] || '0.0.0.0', subnets.nadRangeStart, subnets.nadRangeEnd), `net1 ${net1 || '(missing)'} from the macvlan NAD`);
  const del = await cni('DEL');
  t.equal(del.exitCode, 0, `DEL: ${del.stdout}`);
  t.same((await listLinks({ name: podNetns })).map((link) => link.ifname), ['lo'], 'the pod netns holds only lo after DEL');
  const leftovers = await leftoversAfterTeardown({ node, ipamDataDirs: [ipamDataDir], nicplexCacheDir: layout.cacheDir, persistentLinks: [layout.bridge] });
  t.same(leftovers, nothingLeft, 'no host-side veth, IPAM lease or nicplex cache file is left');

  // The DaemonSet's preStop hook, then the kubelet's SIGTERM (a no-op by then): a clean exit.
  await podman.podman(['exec', name, ...preStop], { allowFailure: true });
  await podman.podman(['stop', '--time', '20', name], { allowFailure: true });
  const exitCode = (await podman.podman(['inspect', '--format', '{{.State.ExitCode}}', name])).stdout.trim();
  const agentLog = await logs();
  t.equal(exitCode, '0', 'the agent exited 0 after the preStop hook and SIGTERM');
  t.match(agentLog, /SIGTERM: stopping[\s\S]*"stopped"/, 'it drained and stopped');
  t.notMatch(agentLog, /"level":50/, 'the agent logged no error');
});
