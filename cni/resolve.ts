// Turns network references into delegate configs: NADs (from the API or standalone files), on-disk
// configs in confDir, directories and files. Errors say which namespace was searched and why.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { MultusNetConf } from '../config/multus-config.js';
import type { NetworkSelection } from './annotation.js';
import type { ClusterApi, NadInfo } from './cluster.js';
import { toConfList } from './delegate-conf.js';
import { CniCode, CniError } from './errors.js';
import type { ResolvedNetwork } from './plan.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CONF_EXTENSIONS = /\.(conf|conflist|json)$/;

function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CniError(CniCode.ioFailure, `cannot read CNI config ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CniError(CniCode.invalidConfig, `CNI config ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** The config in `confDir` whose `name` is `name` (files in alphabetical order; a broken file is an error). */
export function findConfByName(confDir: string, name: string): ResolvedNetwork | undefined {
  let files: string[];
  try {
    files = readdirSync(confDir).filter((file) => CONF_EXTENSIONS.test(file)).sort();
  } catch {
    return undefined;
  }
  for (const file of files) {
    const path = join(confDir, file);
    const raw = readJsonFile(path);
    if (typeof raw === 'object' && raw !== null && (raw as { name?: unknown }).name === name) {
      return { networkName: name, config: toConfList(raw, `CNI config ${path}`), source: `CNI config ${path}` };
    }
  }
  return undefined;
}

function fromFile(path: string): ResolvedNetwork {
  const list = toConfList(readJsonFile(path), `CNI config ${path}`);
  return { networkName: list.name, config: list, source: `CNI config ${path}` };
}

export function fromNad(nad: NadInfo, confDir: string): ResolvedNetwork {
  const networkName = `${nad.namespace}/${nad.name}`;
  const source = `NetworkAttachmentDefinition ${networkName}`;
  let resolved: ResolvedNetwork;
  if (nad.config && nad.config.trim() !== '') {
    let raw: unknown;
    try {
      raw = JSON.parse(nad.config);
    } catch (error) {
      throw new CniError(CniCode.invalidConfig, `${source}: spec.config is not valid JSON: ${(error as Error).message}`);
    }
    resolved = { networkName, config: toConfList(raw, `${source} spec.config`, nad.name), source };
  } else {
    // Spec 3.4.1: an empty spec.config means "the on-disk config named like the NAD".
    const onDisk = findConfByName(confDir, nad.name);
    if (!onDisk) throw new CniError(CniCode.invalidConfig, `${source} has no spec.config and no CNI config named "${nad.name}" exists in ${confDir}`);
    resolved = { ...onDisk, networkName, source: `${source} (config from ${onDisk.source})` };
  }
  if (nad.resourceName) resolved.resourceName = nad.resourceName;
  return resolved;
}

/**
 * `clusterNetwork` / `defaultNetworks` / the default-network annotation: a NAD name (in `namespace`), then a
 * config `name` in confDir, then a directory (its alphabetically first config), then a file.
 */
export async function resolveNamedNetwork(reference: string, namespace: string, conf: MultusNetConf, api: ClusterApi | undefined, what: string): Promise<ResolvedNetwork> {
  const searched: string[] = [];
  let nadNamespace = namespace;
  let nadName = reference;
  if (/^[^/]+\/[^/]+$/.test(reference) && !reference.startsWith('/')) [nadNamespace, nadName] = reference.split('/') as [string, string];
  if (api && DNS_LABEL.test(nadName) && DNS_LABEL.test(nadNamespace)) {
    const nad = await api.getNad(nadNamespace, nadName);
    if (nad) return fromNad(nad, conf.confDir);
    searched.push(`NetworkAttachmentDefinition ${nadNamespace}/${nadName} (${api.kind === 'standalone' ? `standalone NAD directory ${conf.standalone?.nadDir}` : 'API server'})`);
  }
  const byName = findConfByName(conf.confDir, reference);
  if (byName) return byName;
  searched.push(`a CNI config named "${reference}" in ${conf.confDir}`);
  if (reference.startsWith('/')) {
    let stats;
    try {
      stats = statSync(reference);
    } catch {
      stats = undefined;
    }
    if (stats?.isDirectory()) {
      const first = readdirSync(reference).filter((file) => CONF_EXTENSIONS.test(file)).sort()[0];
      if (!first) throw new CniError(CniCode.invalidConfig, `${what} "${reference}" is a directory without .conf/.conflist/.json files`);
      return fromFile(join(reference, first));
    }
    if (stats?.isFile()) return fromFile(reference);
    searched.push(`the path ${reference}`);
  }
  throw new CniError(CniCode.invalidConfig, `${what} "${reference}" not found; looked for ${searched.join(', then ')}`);
}

/** Namespace isolation and the NAD lookup for one annotation element, with errors that explain the namespace. */
export async function resolveSelection(selection: NetworkSelection, podNamespace: string, podLabel: string, conf: MultusNetConf, api: ClusterApi, explicitNamespace: boolean): Promise<ResolvedNetwork> {
  const reference = `${selection.namespace}/${selection.name}`;
  if (conf.namespaceIsolation && selection.namespace !== podNamespace && !conf.globalNamespaces.includes(selection.namespace)) {
    throw new CniError(
      CniCode.invalidConfig,
      `pod ${podLabel}: network "${reference}" is in namespace "${selection.namespace}", but namespaceIsolation is enabled: a pod may only use NADs of its own namespace "${podNamespace}" or of globalNamespaces [${conf.globalNamespaces.join(', ')}]; move the NAD or add "${selection.namespace}" to globalNamespaces (namespace isolation enabled, annotation violates permission)`,
    );
  }
  const nad = await api.getNad(selection.namespace, selection.name);
  if (!nad) {
    const why = explicitNamespace
      ? `the annotation names namespace "${selection.namespace}"`
      : `the annotation item names no namespace, so the pod's own namespace "${podNamespace}" was searched (write "<namespace>/${selection.name}" to use another one)`;
    const where = api.kind === 'standalone' ? `in the standalone NAD directory ${conf.standalone?.nadDir}` : 'on the API server';
    throw new CniError(CniCode.invalidConfig, `pod ${podLabel}: NetworkAttachmentDefinition "${reference}" not found ${where}; ${why}`);
  }
  return fromNad(nad, conf.confDir);
}
