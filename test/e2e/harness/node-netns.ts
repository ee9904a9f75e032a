// The "node" the runtimes live on: a network namespace of our own in which containerd or podman
// (and therefore every CNI plugin they exec) runs. Bridges, host-side veths, macvlan masters and
// the ip_forward sysctl that bridge's isGateway sets all stay in here, so the real host netns and
// its eth0 are never touched. The filesystem is shared, so /run/netns, IPAM files and caches are
// visible to the test as usual.
import { existsSync } from 'node:fs';
import { run } from './run.js';

export interface NodeNetns {
  name: string;
  path: string;
  /** A veth in the node netns that plays the NIC macvlan NADs hang off (never eth0). */
  macvlanMaster: string;
  /** The other end of `macvlanMaster`, holding `peerAddress`, so a macvlan child can reach it. */
  masterPeer: string;
  peerAddress: string;
  /** Prefix for running a command inside the node netns (`nsenter --net=<path> ...`). */
  enterArgs: string[];
  destroy(): Promise<void>;
}

export interface LinkInfo {
  ifname: string;
  link_type?: string;
  address?: string;
  master?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}

/** `tag` is 1–3 lower-case letters naming the test file; with our pid it keeps link names unique and ≤ 15 chars. */
export async function createNodeNetns(tag: string, peerAddressCidr: string): Promise<NodeNetns> {
  if (!/^[a-z]{1,3}$/.test(tag)) throw new Error(`node netns tag ${JSON.stringify(tag)}: expected 1-3 lower-case letters`);
  const name = `npxe2e-${tag}-${process.pid}`;
  const path = `/run/netns/${name}`;
  const macvlanMaster = `npx${tag}m${process.pid}`.slice(0, 14);
  const masterPeer = `${macvlanMaster}p`;
  const node: NodeNetns = {
    name,
    path,
    macvlanMaster,
    masterPeer,
    peerAddress: peerAddressCidr.split('/')[0]!,
    enterArgs: [`--net=${path}`],
    destroy: async () => {
      // Deleting the netns destroys every link inside it (veths, bridges, macvlans).
      if (existsSync(path)) await run('ip', ['netns', 'delete', name], { allowFailure: true });
    },
  };
  await run('ip', ['netns', 'add', name]);
  try {
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    await run('ip', ['-n', name, 'link', 'add', macvlanMaster, 'type', 'veth', 'peer', 'name', masterPeer]);
    await run('ip', ['-n', name, 'link', 'set', macvlanMaster, 'up']);
    await run('ip', ['-n', name, 'link', 'set', masterPeer, 'up']);
    await run('ip', ['-n', name, 'addr', 'add', peerAddressCidr, 'dev', masterPeer]);
  } catch (error) {
    await node.destroy();
    throw error;
  }
  return node;
}

/** Links of a namespace given by a path (a pod's netns) or by name (`ip -n`), from iproute2's JSON. */
export async function listLinks(netns: { path: string } | { name: string }): Promise<LinkInfo[]> {
  const args = 'path' in netns ? ['nsenter', `--net=${netns.path}`, 'ip', '-j', '-d', 'addr', 'show'] : ['ip', '-n', netns.name, '-j', '-d', 'addr', 'show'];
  const { stdout } = await run(args[0]!, args.slice(1), { timeoutMs: 10_000 });
  return JSON.parse(stdout) as LinkInfo[];
}

export function ipv4Addresses(link: LinkInfo | undefined): string[] {
  return (link?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
}

function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** True when `address` (dotted quad) lies in `cidr` (IPv4 only; the tests use private /24s). */
export function inSubnet(address: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const size = 2 ** (32 - Number(bitsText));
  return Math.floor(ipv4ToNumber(address) / size) === Math.floor(ipv4ToNumber(base!) / size);
}

/** True when `address` lies between `first` and `last` inclusive (a host-local rangeStart/rangeEnd). */
export function inRange(address: string, first: string, last: string): boolean {
  const value = ipv4ToNumber(address);
  return value >= ipv4ToNumber(first) && value <= ipv4ToNumber(last);
}
