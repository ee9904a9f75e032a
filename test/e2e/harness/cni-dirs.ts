// CNI directories for a runtime under test: a bin dir holding the reference plugins and a
// `nicplex` entry, and the network configs the tests write.
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cniLauncherPath } from '../../helpers/cni-lab.js';

export const referencePluginDir = '/usr/lib/cni';

/**
 * containerd takes exactly one bin_dir, so the reference plugins are symlinked next to `nicplex`.
 * `nicplex` is a symlink to build/Release/nicplex-cni, as the README installs thin mode: it execs the
 * node that built dist/ (a runtime's PATH may not contain node) on the fast CNI entry.
 */
export function makeCniBinDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const plugin of readdirSync(referencePluginDir)) symlinkSync(join(referencePluginDir, plugin), join(dir, plugin));
  symlinkSync(cniLauncherPath, join(dir, 'nicplex'));
  return dir;
}

export function writeJsonFile(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

export interface BridgeNetworkOptions {
  name: string;
  bridge: string;
  subnet: string;
  ipamDataDir: string;
  cniVersion?: string;
}

/** The cluster network of every e2e test: bridge + host-local in a private /24 inside the node netns. */
export function bridgeNetworkConfig(options: BridgeNetworkOptions): Record<string, unknown> {
  return {
    cniVersion: options.cniVersion ?? '1.0.0',
    name: options.name,
    type: 'bridge',
    bridge: options.bridge,
    isGateway: true,
    ipMasq: false,
    ipam: {
      type: 'host-local',
      dataDir: options.ipamDataDir,
      ranges: [[{ subnet: options.subnet }]],
      routes: [{ dst: '0.0.0.0/0' }],
    },
  };
}

export interface MacvlanNetworkOptions {
  name: string;
  master: string;
  subnet: string;
  rangeStart: string;
  rangeEnd: string;
  ipamDataDir: string;
  cniVersion?: string;
}

/** The secondary network: macvlan on the node netns's test veth, host-local in another private /24. */
export function macvlanNetworkConfig(options: MacvlanNetworkOptions): Record<string, unknown> {
  return {
    cniVersion: options.cniVersion ?? '1.0.0',
    name: options.name,
    type: 'macvlan',
    master: options.master,
    mode: 'bridge',
    ipam: {
      type: 'host-local',
      dataDir: options.ipamDataDir,
      ranges: [[{ subnet: options.subnet, rangeStart: options.rangeStart, rangeEnd: options.rangeEnd }]],
    },
  };
}

/** A podman (CNI backend) network: a conflist named after the network, holding one plugin config. */
export function writePodmanNetwork(confDir: string, networkName: string, pluginConfig: Record<string, unknown>): void {
  const { cniVersion, name: _ignoredName, ...plugin } = pluginConfig;
  writeJsonFile(join(confDir, `10-${networkName}.conflist`), { cniVersion: cniVersion ?? '1.0.0', name: networkName, plugins: [plugin] });
}
