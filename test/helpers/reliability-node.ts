// A test "node" for the reliability tier: a CniLab namespace standing in for the host, with a macvlan
// master for the cluster network, veth ends as host-devices (their peers stay in the node), a standalone
// device pool, and a nicplex conf whose every directory is under the lab dir. It answers the questions
// the reliability tests ask after each storm: which links, leases, caches, claims, delegate state and
// temp files exist on the node now.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentProcess, runShim, type ShimCall } from './agent-harness.js';
import { CniLab, REFERENCE_PLUGIN_DIR, cniEnv, sh, type CniCall } from './cni-lab.js';

export const POOL_RESOURCE = 'example.com/pool';

export interface NodeLink { name: string; mac: string; mtu: number; alias?: string | undefined }

export interface NodeOptions {
  /** host-device veth ends hd0..hd<n-1> (peers hd<i>p), one NAD "hd<i>" each. */
  hostDevices: number;
  /** Device IDs of the standalone pool behind the NAD "pooled" (a macvlan with a resourceName). */
  poolDevices: number;
  /** The cluster network's plugin on the master mvm0: macvlan (exec'd, default) or the built-in ipvlan. */
  clusterType?: 'macvlan' | 'ipvlan';
  /** Whether the host-device NADs get a host-local lease (default true). */
  hostDeviceIpam?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function listRecursive(dir: string): string[] {
  return existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).sort() : [];
}

export class ReliabilityNode {
  readonly lab: CniLab;
  readonly socketDir: string;
  readonly socketPath: string;
  readonly cacheDir: string;
  readonly stateDir: string;
  readonly allocationDir: string;
  readonly ipamDir: string;
  readonly nadDir: string;
  readonly devinfoDir: string;
  readonly confPath: string;
  readonly hostDevices: string[];
  readonly poolDevices: string[];
  private readonly agents: AgentProcess[] = [];
  private readonly clusterPlugin: Record<string, unknown>;

  constructor(tag: string, options: NodeOptions) {
    this.lab = new CniLab(tag);
    const dir = this.lab.dir;
    this.socketDir = join(dir, 'sock');
    this.socketPath = join(this.socketDir, 'nicplex.sock');
    this.cacheDir = join(dir, 'cache');
    this.stateDir = join(dir, 'delegates');
    this.allocationDir = join(dir, 'alloc');
    this.ipamDir = join(dir, 'ipam');
    this.nadDir = join(dir, 'nads');
    this.devinfoDir = join(dir, 'devinfo');
    this.confPath = join(dir, '00-nicplex.conf');
    mkdirSync(this.nadDir, { recursive: true });
    this.lab.hostVeth('mvm0', 'mvm0p');
    const clusterIpam = { type: 'host-local', dataDir: this.ipamDir, subnet: '10.233.0.0/16' };
    this.clusterPlugin = options.clusterType === 'ipvlan'
      ? { type: 'ipvlan', master: 'mvm0', mode: 'l2', ipam: clusterIpam }
      : { type: 'macvlan', master: 'mvm0', mode: 'bridge', ipam: clusterIpam };
    this.hostDevices = Array.from({ length: options.hostDevices }, (_, index) => `hd${index}`);
    this.poolDevices = Array.from({ length: options.poolDevices }, (_, index) => `pdev${index}`);
    const nads: unknown[] = [];
    for (const [index, device] of this.hostDevices.entries()) {
      this.lab.hostVeth(device, `${device}p`);
      // A recognisable MAC and MTU, so "back with its attributes" means something.
      sh('ip', ['-n', this.lab.hostNs, 'link', 'set', device, 'address', `02:5e:00:00:01:${index.toString(16).padStart(2, '0')}`, 'mtu', String(1400 + index)]);
      nads.push(this.nad(device, { type: 'host-device', device, ...(options.hostDeviceIpam ?? true ? { ipam: this.ipam(`10.232.${100 + index}.0/24`) } : {}) }));
    }
    nads.push(this.nad('pooled', { type: 'macvlan', master: 'mvm0', mode: 'bridge', ipam: this.ipam('10.232.2.0/24') }, POOL_RESOURCE));
    for (const [index, nad] of nads.entries()) writeFileSync(join(this.nadDir, `nad${index}.json`), JSON.stringify(nad));
    writeFileSync(this.confPath, JSON.stringify(this.conf()));
    // A test killed on its timeout runs no teardown: its agents and namespaces must not outlive it.
    process.once('exit', () => this.cleanup());
    process.once('SIGTERM', () => process.exit(143));
  }

  private ipam(subnet: string) {
    return { type: 'host-local', dataDir: this.ipamDir, subnet };
  }

  private nad(name: string, config: Record<string, unknown>, resourceName?: string) {
    return {
      apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
      metadata: { name, namespace: 'default', ...(resourceName ? { annotations: { 'k8s.v1.cni.cncf.io/resourceName': resourceName } } : {}) },
      spec: { config: JSON.stringify({ cniVersion: '1.0.0', name, ...config }) },
    };
  }

  /** The meta-CNI conf (the file the agent serves and reconciles is this with no extra keys). */
  conf(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', binDir: REFERENCE_PLUGIN_DIR, socketDir: this.socketDir,
      cniDir: this.cacheDir, delegateStateDir: this.stateDir, cniDeviceInfoDir: this.devinfoDir, agentWaitSeconds: 1, agentTimeoutSeconds: 60,
      standalone: { nadDir: this.nadDir, allocationDir: this.allocationDir, devicePools: { [POOL_RESOURCE]: this.poolDevices } },
      delegates: [{ cniVersion: '1.0.0', name: 'cluster', plugins: [this.clusterPlugin] }],
      ...extra,
    };
  }

  async startAgent(args: string[] = []): Promise<AgentProcess> {
    const agent = await AgentProcess.start(this.lab, ['--cni-conf', this.confPath, '--socket-dir', this.socketDir, ...args], this.socketPath);
    this.agents.push(agent);
    return agent;
  }

  env(command: string, containerId: string, netns: string, networks: string): Record<string, string> {
    return { ...cniEnv(command, containerId, netns, 'eth0', `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${containerId};NICPLEX_NETWORKS=${networks}`), CNI_PATH: REFERENCE_PLUGIN_DIR };
  }

  /** One CNI call through the shim (the agent). */
  shim(command: string, containerId: string, netns: string, networks: string): Promise<ShimCall> {
    return runShim(this.env(command, containerId, netns, networks), this.conf());
  }

  /** One CNI call in thin mode (`nicplex cni` in the node namespace). */
  thin(command: string, containerId: string, netns: string, networks: string): Promise<CniCall> {
    return this.lab.runCni(this.env(command, containerId, netns, networks), this.conf());
  }

  /** DEL as a runtime sends it: again and again until it succeeds (bounded). */
  async delUntilDone(containerId: string, netns: string, networks: string, timeoutMs = 30_000): Promise<{ attempts: number; last: ShimCall }> {
    const deadline = Date.now() + timeoutMs;
    for (let attempts = 1; ; attempts++) {
      const last = await this.shim('DEL', containerId, netns, networks);
      if (last.exitCode === 0 || Date.now() > deadline) return { attempts, last };
      await sleep(100);
    }
  }

  /** Links of the node namespace with the attributes a restore must bring back. */
  nodeLinks(): NodeLink[] {
    const links = JSON.parse(sh('ip', ['-n', this.lab.hostNs, '-j', 'link', 'show'])) as Array<{ ifname: string; address: string; mtu: number; ifalias?: string }>;
    return links.map((link) => ({ name: link.ifname, mac: link.address, mtu: link.mtu, ...(link.ifalias ? { alias: link.ifalias } : {}) })).sort((a, b) => a.name.localeCompare(b.name));
  }

  linkNames(netns: string): string[] {
    return (JSON.parse(sh('ip', ['-n', netns, '-j', 'link', 'show'])) as Array<{ ifname: string }>).map((link) => link.ifname).sort();
  }

  /** host-local leases (its lock and last_reserved files are bookkeeping, not leases). */
  leases(): string[] {
    return listRecursive(this.ipamDir).filter((name) => /\d+\.\d+\.\d+\.\d+$/.test(name));
  }

  caches(): string[] {
    return listRecursive(this.cacheDir);
  }

  /** Standalone claims `<resource dir>/<device>` (and any temp file in the claim dirs). */
  allocations(): string[] {
    return listRecursive(this.allocationDir).filter((name) => name.includes('/'));
  }

  delegateStates(): string[] {
    return listRecursive(this.stateDir).filter((name) => name.includes('/'));
  }

  devinfoFiles(): string[] {
    return listRecursive(this.devinfoDir);
  }

  /** Everything nicplex keeps on disk for pods, in one list (empty on a clean node). */
  podFiles(): string[] {
    return [
      ...this.caches().map((name) => `cache/${name}`), ...this.allocations().map((name) => `alloc/${name}`),
      ...this.delegateStates().map((name) => `delegates/${name}`), ...this.devinfoFiles().map((name) => `devinfo/${name}`),
      ...this.leases().map((name) => `ipam/${name}`),
    ];
  }

  /** Owner of each standalone claim. */
  claimOwners(): Map<string, string> {
    const owners = new Map<string, string>();
    for (const name of this.allocations()) {
      if (name.split('/').pop()!.startsWith('.')) continue;
      owners.set(name, readFileSync(join(this.allocationDir, name), 'utf8'));
    }
    return owners;
  }

  private cleaned = false;

  /** Kills the agents this node started (by pid) and removes its namespaces and files; runs once. */
  cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const agent of this.agents) {
      try { process.kill(agent.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    this.lab.cleanup();
  }
}

/** A small seeded PRNG (mulberry32): the same seed gives the same kill points. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** Open fds and resident set size (MiB) of a process. */
export function processFigures(pid: number): { fds: number; rssMiB: number } {
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  return { fds, rssMiB: kib / 1024 };
}
