// What a pod may leave behind after its runtime tore it down, gathered so a test can assert
// "nothing" and, when something is left, say exactly what.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { listLinks, type NodeNetns } from './node-netns.js';

/** libcni's result cache (containerd and podman both use the default). */
export const libcniResultsDir = '/var/lib/cni/results';

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...filesUnder(path));
    else found.push(path);
  }
  return found;
}

/** host-local keeps one file per leased address, named after the address. */
export function ipamLeases(ipamDataDir: string): string[] {
  return filesUnder(ipamDataDir).filter((path) => isIP(path.slice(path.lastIndexOf('/') + 1)) !== 0);
}

export function filesMentioning(dir: string, containerId: string): string[] {
  return filesUnder(dir).filter((path) => path.includes(containerId));
}

/** Links in the node netns other than loopback and the test's own macvlan-master veth pair. */
export async function strayNodeLinks(node: NodeNetns, alsoExpected: string[] = []): Promise<string[]> {
  const expected = new Set(['lo', node.macvlanMaster, node.masterPeer, ...alsoExpected]);
  return (await listLinks({ name: node.name })).map((link) => link.ifname).filter((name) => !expected.has(name));
}

export interface LeftoverReport {
  netnsStillThere: boolean;
  strayLinks: string[];
  ipamLeases: string[];
  cniCacheFiles: string[];
  nicplexCacheFiles: string[];
}

export async function leftoversAfterTeardown(options: {
  node: NodeNetns;
  netnsPath?: string;
  containerId?: string;
  ipamDataDirs: string[];
  nicplexCacheDir?: string;
  /** Links that legitimately outlive a pod (the bridge plugin never deletes its bridge). */
  persistentLinks?: string[];
}): Promise<LeftoverReport> {
  return {
    netnsStillThere: options.netnsPath !== undefined && existsSync(options.netnsPath),
    strayLinks: await strayNodeLinks(options.node, options.persistentLinks),
    ipamLeases: options.ipamDataDirs.flatMap(ipamLeases),
    cniCacheFiles: options.containerId ? filesMentioning(libcniResultsDir, options.containerId) : [],
    nicplexCacheFiles: options.nicplexCacheDir ? filesUnder(options.nicplexCacheDir) : [],
  };
}

export const nothingLeft: LeftoverReport = { netnsStillThere: false, strayLinks: [], ipamLeases: [], cniCacheFiles: [], nicplexCacheFiles: [] };
