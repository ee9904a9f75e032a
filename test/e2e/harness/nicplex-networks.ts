// The nicplex side of the e2e tests: the Multus-format config (`00-multus.conf`) the runtimes
// find in their CNI conf dir, NAD manifests, and the pod-level assertions shared by the
// containerd tests in both modes.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bridgeNetworkConfig, macvlanNetworkConfig, writeJsonFile } from './cni-dirs.js';
import type { NodeNetns } from './node-netns.js';

export const networksAnnotation = 'k8s.v1.cni.cncf.io/networks';

/** Subnets of one test file: the cluster bridge and the macvlan NAD, both private and inside the node netns. */
export interface TestSubnets {
  cluster: string;
  nad: string;
  /** The node netns's end of the macvlan master veth, inside `nad`. */
  masterPeerCidr: string;
  nadRangeStart: string;
  nadRangeEnd: string;
}

export function subnetsFor(thirdOctetBase: number): TestSubnets {
  const nadPrefix = `10.231.${thirdOctetBase + 1}`;
  return {
    cluster: `10.231.${thirdOctetBase}.0/24`,
    nad: `${nadPrefix}.0/24`,
    masterPeerCidr: `${nadPrefix}.1/24`,
    nadRangeStart: `${nadPrefix}.100`,
    nadRangeEnd: `${nadPrefix}.150`,
  };
}

export interface NicplexLayout {
  /** nicplex's `cniDir`: its per-attachment cache, which must be empty once a pod is gone. */
  cacheDir: string;
  logFile: string;
  nadDir: string;
  bridge: string;
  clusterNetworkName: string;
  nadName: string;
  nadConfig: Record<string, unknown>;
}

export function nicplexLayout(workDir: string, node: NodeNetns, subnets: TestSubnets, ipamDataDir: string, bridgeTag: string): NicplexLayout {
  const cacheDir = join(workDir, 'nicplex-cache');
  const nadDir = join(workDir, 'nads');
  mkdirSync(cacheDir, { recursive: true });
  mkdirSync(nadDir, { recursive: true });
  const nadName = 'macvlan-nad';
  const nadConfig = {
    ...macvlanNetworkConfig({
      name: nadName,
      master: node.macvlanMaster,
      subnet: subnets.nad,
      rangeStart: subnets.nadRangeStart,
      rangeEnd: subnets.nadRangeEnd,
      ipamDataDir,
    }),
    // Lets the pod annotation's "mac" reach macvlan as runtimeConfig.mac.
    capabilities: { mac: true },
  };
  return {
    cacheDir,
    logFile: join(workDir, 'nicplex.log'),
    nadDir,
    bridge: `npxb${bridgeTag}${process.pid}`.slice(0, 15),
    clusterNetworkName: 'npx-e2e-cluster',
    nadName,
    nadConfig,
  };
}

/** The cluster network nicplex delegates eth0 to (Multus's classic inline `delegates` form). */
export function clusterDelegate(layout: NicplexLayout, subnets: TestSubnets, ipamDataDir: string): Record<string, unknown> {
  return bridgeNetworkConfig({ name: layout.clusterNetworkName, bridge: layout.bridge, subnet: subnets.cluster, ipamDataDir });
}

/** A NetworkAttachmentDefinition object as the API server (or a standalone NAD file) holds it. */
export function nadManifest(namespace: string, name: string, config: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name, namespace },
    spec: { config: JSON.stringify(config) },
  };
}

export function writeNadFile(layout: NicplexLayout, namespace: string): void {
  writeJsonFile(join(layout.nadDir, `${namespace}-${layout.nadName}.json`), nadManifest(namespace, layout.nadName, layout.nadConfig));
}

/** The nicplex `00-multus.conf`: common keys, plus `kubeconfig` (Kubernetes mode) or `standalone`. */
export function nicplexConf(layout: NicplexLayout, cniBinDir: string, delegates: Record<string, unknown>[], mode: { kubeconfig: string } | { standalone: true }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: 'multus-cni-network',
    type: 'nicplex',
    cniDir: layout.cacheDir,
    binDir: cniBinDir,
    logFile: layout.logFile,
    logLevel: 'debug',
    delegates,
    ...('kubeconfig' in mode ? { kubeconfig: mode.kubeconfig } : { standalone: { nadDir: layout.nadDir } }),
    ...extra,
  };
}

/** A locally administered unicast MAC for the annotation's "mac" key. */
export function testMac(pid = process.pid): string {
  const bytes = [0x02, 0x00, (pid >> 24) & 0xff, (pid >> 16) & 0xff, (pid >> 8) & 0xff, pid & 0xff];
  return bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}
