// An in-memory HostNetwork: namespaces holding links (with VFs on PFs), addresses, routes and sysctls.
// It runs HostBatch steps with the native layer's semantics (each step in its namespace, undo of the
// steps that succeeded in reverse order on a failure, best-effort steps recorded and skipped), so the
// in-process delegates are unit-tested without root. `failWhen` injects errors.
import type { RawHostStep, RawOp } from '../../native/addon.js';
import { AGENT_NETNS_PATH, HostBatchError, type HostBatch, type HostNetwork } from '../../native/host-network.js';
import type { AddressInfo, LinkInfo, RouteInfo, VfInfo } from '../../native/index.js';
import { NativeError } from '../../native/index.js';

const errno = { ENOENT: 2, ENODEV: 19, EEXIST: 17, EINVAL: 22, EADDRNOTAVAIL: 99, ESRCH: 3 } as const;

export interface FakeLink {
  index: number;
  name: string;
  mac: string;
  mtu: number;
  up: boolean;
  alias: string | null;
  kind: string | null;
  parentIndex: number | null;
  parentDevName: string | null;
  vfs: VfInfo[];
  ipvlanMode?: number;
}

interface FakeNamespace {
  links: FakeLink[];
  addresses: Array<{ index: number; address: string; prefixLength: number; family: 4 | 6 }>;
  routes: RouteInfo[];
  sysctls: Map<string, string>;
}

class StepError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

export function fakeVf(vf: number, overrides: Partial<VfInfo> = {}): VfInfo {
  return { vf, mac: '00:00:00:00:00:00', vlan: 0, qos: 0, vlanProto: '802.1Q', spoofchk: true, trust: false, linkState: 'auto', minTxRate: 0, maxTxRate: 0, ...overrides };
}

let macCounter = 0x10;

export class FakeHostNetwork implements HostNetwork {
  /** '' is the agent's namespace; others are keyed by their path. */
  readonly namespaces = new Map<string, FakeNamespace>([['', FakeHostNetwork.emptyNamespace()]]);
  /** Every op that ran (including undo), with the namespace it ran in. */
  readonly journal: Array<{ netns: string; op: RawOp; undo: boolean }> = [];
  /** Return an errno to make that op fail (before it changes anything). */
  failWhen: ((op: RawOp, netns: string) => number | undefined) | undefined;
  /** What each `announce` step would have put on the wire: the link, its MAC and the addresses. */
  readonly announcements: Array<{ netns: string; link: string; mac: string; addresses: string[] }> = [];
  private nextIndex = 100;

  static emptyNamespace(): FakeNamespace {
    return { links: [], addresses: [], routes: [], sysctls: new Map() };
  }

  addNamespace(path: string): void {
    this.namespaces.set(path, FakeHostNetwork.emptyNamespace());
  }

  /** The kernel on netns teardown: physical netdevs return to the agent's namespace (same name), virtual ones die. */
  removeNamespace(path: string): void {
    const ns = this.namespaces.get(path);
    this.namespaces.delete(path);
    for (const link of ns?.links ?? []) {
      if (link.kind === null) this.ns('').links.push({ ...link, up: false });
    }
  }

  addLink(netns: string, spec: Partial<FakeLink> & { name: string }): FakeLink {
    const link: FakeLink = {
      index: this.nextIndex++, mac: `02:00:00:00:00:${(macCounter++ & 0xff).toString(16).padStart(2, '0')}`, mtu: 1500, up: false, alias: null,
      kind: null, parentIndex: null, parentDevName: null, vfs: [], ...spec,
    };
    this.ns(netns).links.push(link);
    return link;
  }

  link(netns: string, name: string): FakeLink | undefined {
    return this.namespaces.get(netns)?.links.find((l) => l.name === name);
  }

  addressesOf(netns: string, name: string): string[] {
    const ns = this.namespaces.get(netns);
    const link = ns?.links.find((l) => l.name === name);
    return (ns?.addresses ?? []).filter((a) => a.index === link?.index).map((a) => `${a.address}/${a.prefixLength}`);
  }

  /** Main-table routes. */
  routesOf(netns: string): RouteInfo[] {
    return (this.namespaces.get(netns)?.routes ?? []).filter((r) => r.table === 254);
  }

  private ns(key: string): FakeNamespace {
    const ns = this.namespaces.get(key);
    if (!ns) throw new StepError(errno.ENOENT, `cannot open network namespace ${key}`);
    return ns;
  }

  private key(path: string | undefined): string {
    return path === undefined || path === '' || path === AGENT_NETNS_PATH ? '' : path;
  }

  private find(ns: FakeNamespace, ref: string | number): FakeLink {
    const link = ns.links.find((l) => (typeof ref === 'number' ? l.index === ref : l.name === ref));
    if (!link) throw new StepError(errno.ENODEV, `no such device ${ref}`);
    return link;
  }

  private toInfo(link: FakeLink): LinkInfo {
    return {
      index: link.index, name: link.name, flags: link.up ? 0x11043 : 0x1002, up: link.up, operUp: link.up, operState: link.up ? 'up' : 'down',
      mtu: link.mtu, mac: link.mac, kind: link.kind, ipvlanMode: link.ipvlanMode === undefined ? null : (['l2', 'l3', 'l3s'] as const)[link.ipvlanMode] ?? null, alias: link.alias, parentIndex: link.parentIndex, masterIndex: null,
      numVfs: link.vfs.length, vfs: link.vfs.map((vf) => ({ ...vf })), parentDevName: link.parentDevName,
    };
  }

  private apply(op: RawOp, key: string): unknown {
    const code = this.failWhen?.(op, key);
    if (code !== undefined) throw new StepError(code, `injected failure of ${op.op}`);
    const ns = this.ns(key);
    switch (op.op) {
      case 'getLink':
        return this.toInfo(this.find(ns, op.link));
      case 'listLinks':
        return ns.links.map((l) => this.toInfo(l));
      case 'setLink': {
        const link = this.find(ns, op.link);
        if (op.targetNetns !== undefined) {
          const target = this.ns(this.key(op.targetNetns));
          const name = op.newName ?? link.name;
          if (target !== ns && target.links.some((l) => l.name === name)) throw new StepError(errno.EEXIST, `${name} exists in the target`);
          ns.links.splice(ns.links.indexOf(link), 1);
          ns.addresses = ns.addresses.filter((a) => a.index !== link.index);
          ns.routes = ns.routes.filter((r) => r.oif !== link.index);
          link.name = name;
          link.up = false;
          target.links.push(link);
          return undefined;
        }
        if (op.newName !== undefined && op.newName !== link.name) {
          if (ns.links.some((l) => l.name === op.newName)) throw new StepError(errno.EEXIST, `${op.newName} exists`);
          link.name = op.newName;
        }
        if (op.mac !== undefined) link.mac = op.mac;
        if (op.mtu !== undefined) link.mtu = op.mtu;
        if (op.alias !== undefined) link.alias = op.alias === '' ? null : op.alias;
        if (op.up !== undefined) link.up = op.up;
        return undefined;
      }
      case 'deleteLink': {
        const link = this.find(ns, op.link);
        ns.links.splice(ns.links.indexOf(link), 1);
        ns.addresses = ns.addresses.filter((a) => a.index !== link.index);
        return undefined;
      }
      case 'newLink': {
        if (op.kind !== 'ipvlan') throw new StepError(errno.EINVAL, `the fake creates only ipvlan links, not ${op.kind}`);
        const parent = this.find(ns, op.parent ?? 0);
        const target = op.targetNetns === undefined ? ns : this.ns(this.key(op.targetNetns));
        if (target.links.some((l) => l.name === op.name)) throw new StepError(errno.EEXIST, `${op.name} exists`);
        const link: FakeLink = {
          index: this.nextIndex++, name: op.name, mac: parent.mac, mtu: op.mtu ?? parent.mtu, up: false, alias: null, kind: 'ipvlan',
          parentIndex: parent.index, parentDevName: null, vfs: [], ...(op.ipvlanMode !== undefined ? { ipvlanMode: op.ipvlanMode } : {}),
        };
        target.links.push(link);
        return undefined;
      }
      case 'setVf': {
        const pf = this.find(ns, op.link);
        const vf = pf.vfs.find((v) => v.vf === op.vf);
        if (!vf) throw new StepError(errno.EINVAL, `PF ${pf.name} has no VF ${op.vf}`);
        if (op.mac !== undefined) vf.mac = op.mac;
        if (op.vlan !== undefined) {
          vf.vlan = op.vlan;
          vf.qos = op.qos ?? 0;
          vf.vlanProto = op.vlanProtocol === 0x88a8 ? '802.1ad' : '802.1Q';
        }
        if (op.spoofchk !== undefined) vf.spoofchk = op.spoofchk;
        if (op.trust !== undefined) vf.trust = op.trust;
        if (op.linkState !== undefined) vf.linkState = (['auto', 'enable', 'disable'] as const)[op.linkState] ?? 'auto';
        if (op.minTxRate !== undefined) vf.minTxRate = op.minTxRate;
        if (op.maxTxRate !== undefined) vf.maxTxRate = op.maxTxRate;
        return undefined;
      }
      case 'addAddress': {
        const link = this.find(ns, op.link);
        if (ns.addresses.some((a) => a.index === link.index && a.address === op.address)) throw new StepError(errno.EEXIST, `${op.address} exists`);
        const family = op.address.includes(':') ? 6 : 4;
        ns.addresses.push({ index: link.index, address: op.address, prefixLength: op.prefixLength, family });
        // The kernel's local route for the address (for IPv6: once DAD is over, which the fake skips).
        ns.routes.push({ family, dst: `${op.address}/${family === 6 ? 128 : 32}`, gw: null, dev: link.name, oif: link.index, table: 255, priority: null, scope: 254, protocol: 2, type: 2, mtu: null, advmss: null });
        return undefined;
      }
      case 'deleteAddress': {
        const link = this.find(ns, op.link);
        const at = ns.addresses.findIndex((a) => a.index === link.index && a.address === op.address);
        if (at < 0) throw new StepError(errno.EADDRNOTAVAIL, `${op.address} not on ${link.name}`);
        ns.addresses.splice(at, 1);
        ns.routes = ns.routes.filter((r) => !(r.table === 255 && r.dst.startsWith(`${op.address}/`)));
        return undefined;
      }
      case 'addRoute': {
        const dev = op.dev === undefined ? undefined : this.find(ns, op.dev);
        const dst = op.dst === undefined ? (op.family === 6 ? '::/0' : '0.0.0.0/0') : `${op.dst}/${op.dstLength}`;
        if (ns.routes.some((r) => r.dst === dst && r.table === (op.table ?? 254) && (r.priority ?? 0) === (op.priority ?? 0))) throw new StepError(errno.EEXIST, `route ${dst} exists`);
        ns.routes.push({
          family: op.family, dst, gw: op.gw ?? null, dev: dev?.name ?? null, oif: dev?.index ?? null, table: op.table ?? 254,
          priority: op.priority ?? null, scope: op.scope ?? 0, protocol: 3, type: 1, mtu: op.mtu ?? null, advmss: op.advmss ?? null,
        });
        return undefined;
      }
      case 'deleteRoute': {
        const dst = op.dst === undefined ? (op.family === 6 ? '::/0' : '0.0.0.0/0') : `${op.dst}/${op.dstLength}`;
        const at = ns.routes.findIndex((r) => r.dst === dst && r.table === (op.table ?? 254));
        if (at < 0) throw new StepError(errno.ESRCH, `no route ${dst}`);
        ns.routes.splice(at, 1);
        return undefined;
      }
      case 'writeSysctl':
        ns.sysctls.set(op.key, op.value);
        return undefined;
      case 'readSysctl':
        return ns.sysctls.get(op.key) ?? '0';
      case 'announce': {
        const link = this.find(ns, op.link);
        this.announcements.push({ netns: key, link: link.name, mac: link.mac, addresses: [...op.addresses] });
        return `sent ${op.addresses.length} of ${op.addresses.length}`;
      }
      default:
        throw new StepError(errno.EINVAL, `the fake does not implement ${op.op}`);
    }
  }

  private runStep(step: RawOp & { netns?: string }, undo: boolean): unknown {
    const key = this.key(step.netns);
    const { netns: _netns, undo: _undo, bestEffort: _best, ...op } = step as RawHostStep;
    this.journal.push({ netns: key, op: op as RawOp, undo });
    return this.apply(op as RawOp, key);
  }

  async run(batch: HostBatch): Promise<unknown[]> {
    const results: unknown[] = [];
    for (const [index, { step, label }] of batch.steps.entries()) {
      try {
        results.push(this.runStep(step, false));
      } catch (error) {
        if (!(error instanceof StepError)) throw error;
        if (step.bestEffort) {
          results.push({ error: { code: error.code, message: error.message } });
          continue;
        }
        const undoFailures: string[] = [];
        for (let j = index - 1; j >= 0; j--) {
          const done = batch.steps[j]!;
          if (typeof results[j] === 'object' && results[j] !== null && 'error' in (results[j] as object)) continue;
          for (const undo of done.step.undo ?? []) {
            try {
              this.runStep({ ...undo, netns: undo.netns ?? done.step.netns ?? '' }, true);
            } catch (undoError) {
              undoFailures.push(`undo of "${done.label}": ${(undoError as Error).message}`);
            }
          }
        }
        throw new HostBatchError(index, label, { code: error.code, detail: error.message, ...(step.netns ? { netns: step.netns } : {}) }, undoFailures);
      }
    }
    return results;
  }

  async getLink(link: string | number, netns?: string): Promise<LinkInfo | null> {
    const ns = this.namespaces.get(this.key(netns));
    const found = ns?.links.find((l) => (typeof link === 'number' ? l.index === link : l.name === link));
    return found ? this.toInfo(found) : null;
  }

  async listLinks(netns?: string): Promise<LinkInfo[]> {
    return this.wrap(() => this.ns(this.key(netns)).links.map((l) => this.toInfo(l)), 'list links', netns);
  }

  async listAddresses(netns?: string): Promise<AddressInfo[]> {
    return this.wrap(() => {
      const ns = this.ns(this.key(netns));
      return ns.addresses.map((a) => ({ link: ns.links.find((l) => l.index === a.index)?.name ?? '', index: a.index, cidr: `${a.address}/${a.prefixLength}`, family: a.family, scope: 0 }));
    }, 'list addresses', netns);
  }

  async listRoutes(filter: { table?: number; family?: 4 | 6 }, netns?: string): Promise<RouteInfo[]> {
    return this.wrap(() => this.ns(this.key(netns)).routes.filter((r) => r.table === (filter.table ?? 254) && (filter.family === undefined || r.family === filter.family)), 'list routes', netns);
  }

  async readSysctl(key: string, netns?: string): Promise<string> {
    return this.wrap(() => this.ns(this.key(netns)).sysctls.get(key) ?? '0', 'read sysctl', netns);
  }

  async isNetns(path: string): Promise<boolean> {
    return this.namespaces.has(path);
  }

  private wrap<T>(work: () => T, operation: string, netns: string | undefined): T {
    try {
      return work();
    } catch (error) {
      if (error instanceof StepError) throw new NativeError({ code: error.code, operation, ...(netns ? { netns } : {}), detail: error.message });
      throw error;
    }
  }
}
