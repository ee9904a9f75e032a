// Standalone mode (no Kubernetes): NADs are manifest files in a directory, the "pod" is what the runtime
// tells us (CNI args, annotations it forwards), and devices come from pools the agent hands out itself.
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileExclusive } from '../config/atomic-file.js';
import { isJsonObject as isObject } from '../config/cni-json.js';
import type { StandaloneConf } from '../config/multus-config.js';
import { RESOURCE_NAME_ANNOTATION } from './annotation.js';
import type { ClusterApi, NadInfo, PodInfo } from './cluster.js';
import { CniCode, CniError } from './errors.js';
import type { Logger } from './log.js';


/**
 * The documents of a YAML file (js-yaml, loaded only when a YAML manifest is present: it loads in a
 * third of the time the `yaml` package takes, which thin mode pays on every call).
 */
async function yamlDocuments(text: string): Promise<unknown[]> {
  const { loadAll, YAMLException } = (await import('js-yaml')).default;
  try {
    return loadAll(text);
  } catch (error) {
    if (error instanceof YAMLException) throw new Error(`line ${error.mark ? error.mark.line + 1 : '?'}: ${error.reason}`, { cause: error });
    throw error;
  }
}

/** Reads every `*.yaml`, `*.yml` and `*.json` NAD manifest in `dir` (a file may hold several YAML documents). */
export async function loadNadDirectory(dir: string): Promise<Map<string, NadInfo>> {
  const nads = new Map<string, NadInfo>();
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => /\.(ya?ml|json)$/.test(name)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return nads;
    throw new CniError(CniCode.ioFailure, `standalone NAD directory ${dir}: ${(error as Error).message}`);
  }
  for (const fileName of names) {
    const path = join(dir, fileName);
    const text = readFileSync(path, 'utf8');
    let documents: unknown[];
    try {
      documents = fileName.endsWith('.json') ? [JSON.parse(text)] : await yamlDocuments(text);
    } catch (error) {
      throw new CniError(CniCode.invalidConfig, `standalone NAD file ${path}: ${(error as Error).message}`);
    }
    const flattened = documents.flatMap((document) => (isObject(document) && document['kind'] === 'List' && Array.isArray(document['items']) ? document['items'] : [document]));
    flattened.forEach((document, index) => {
      const where = `standalone NAD file ${path}${flattened.length > 1 ? ` (document ${index + 1})` : ''}`;
      if (document === null) return;
      if (!isObject(document) || document['kind'] !== 'NetworkAttachmentDefinition') {
        throw new CniError(CniCode.invalidConfig, `${where}: expected kind: NetworkAttachmentDefinition`);
      }
      const metadata = isObject(document['metadata']) ? document['metadata'] : {};
      const spec = isObject(document['spec']) ? document['spec'] : {};
      if (typeof metadata['name'] !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(metadata['name'])) {
        throw new CniError(CniCode.invalidConfig, `${where}: metadata.name must be a DNS-1123 label`);
      }
      const namespace = typeof metadata['namespace'] === 'string' && metadata['namespace'] !== '' ? metadata['namespace'] : 'default';
      if (spec['config'] !== undefined && typeof spec['config'] !== 'string') {
        throw new CniError(CniCode.invalidConfig, `${where}: spec.config must be a string holding the CNI JSON (use "config: |" in YAML)`);
      }
      const annotations = isObject(metadata['annotations']) ? metadata['annotations'] : {};
      const key = `${namespace}/${metadata['name']}`;
      if (nads.has(key)) throw new CniError(CniCode.invalidConfig, `${where}: NetworkAttachmentDefinition ${key} is defined twice in ${dir}`);
      nads.set(key, {
        namespace,
        name: metadata['name'],
        config: spec['config'] as string | undefined,
        resourceName: typeof annotations[RESOURCE_NAME_ANNOTATION] === 'string' ? annotations[RESOURCE_NAME_ANNOTATION] : undefined,
      });
    });
  }
  return nads;
}

export function createStandaloneApi(conf: StandaloneConf, pod: PodInfo, log: Logger): ClusterApi {
  let nads: Map<string, NadInfo> | undefined;
  return {
    kind: 'standalone',
    async getPod(namespace, name) {
      return namespace === pod.namespace && name === pod.name ? pod : null;
    },
    async getNad(namespace, name) {
      nads ??= await loadNadDirectory(conf.nadDir);
      return nads.get(`${namespace}/${name}`) ?? null;
    },
    async setNetworkStatus(target, status) {
      log.verbose(`network-status of ${target.namespace}/${target.name}: ${JSON.stringify(status)}`);
    },
    async recordEvent(target, reason, message) {
      log.verbose(`event ${reason} for ${target.namespace}/${target.name}: ${message}`);
    },
  };
}

// ---- device pools ---------------------------------------------------------------------------------
// One file per allocated device, `<allocationDir>/<resource with "/" as "_">/<deviceID>`, holding the
// owning container ID. The claim is atomic and exclusive without a flock: the owner is written to a temp
// file which is then hard-linked to the claim name (link() fails with EEXIST when the device is taken),
// so a claim never exists without its owner and a crash leaves only a temp file that reconcile removes.

export function resourceDir(allocationDir: string, resourceName: string): string {
  return join(allocationDir, resourceName.replace(/\//g, '_'));
}

export async function allocateStandaloneDevices(conf: StandaloneConf, containerId: string, demand: ReadonlyMap<string, number>): Promise<Map<string, string[]>> {
  const allocated = new Map<string, string[]>();
  try {
    for (const [resourceName, count] of demand) {
      const pool = conf.devicePools[resourceName];
      if (!pool) throw new CniError(CniCode.invalidConfig, `resource "${resourceName}" is not in standalone.devicePools of the nicplex config; known: ${Object.keys(conf.devicePools).join(', ') || 'none'}`);
      const dir = resourceDir(conf.allocationDir, resourceName);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const mine: string[] = [];
      allocated.set(resourceName, mine);
      for (const deviceId of pool) {
        if (mine.length === count) break;
        const path = join(dir, deviceId);
        if (await createFileExclusive(path, containerId, { mode: 0o600 })) {
          mine.push(deviceId);
        } else if ((await readFile(path, 'utf8').catch(() => '')) === containerId) {
          // Same container again (a retried ADD): the device is already ours.
          mine.push(deviceId);
        }
      }
      if (mine.length < count) {
        throw new CniError(CniCode.tryAgainLater, `standalone device pool "${resourceName}" has ${pool.length} device(s) and not enough are free for ${count} network(s); free some by deleting containers`);
      }
    }
  } catch (error) {
    await releaseStandaloneDevices(conf, containerId, allocated);
    throw error;
  }
  return allocated;
}

/** Releases devices that `containerId` holds; a device owned by someone else is left alone. */
export async function releaseStandaloneDevices(conf: StandaloneConf, containerId: string, devices: ReadonlyMap<string, readonly string[]>): Promise<void> {
  for (const [resourceName, ids] of devices) {
    for (const deviceId of ids) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(deviceId)) continue;
      const path = join(resourceDir(conf.allocationDir, resourceName), deviceId);
      const owner = await readFile(path, 'utf8').catch(() => undefined);
      if (owner === containerId) await unlink(path).catch(() => undefined);
    }
  }
}

/** All allocations, for GC: resource → device → owning container. */
export function listStandaloneAllocations(conf: StandaloneConf): Array<{ resourceName: string; deviceId: string; containerId: string }> {
  const out: Array<{ resourceName: string; deviceId: string; containerId: string }> = [];
  for (const resourceName of Object.keys(conf.devicePools)) {
    const dir = resourceDir(conf.allocationDir, resourceName);
    let names: string[] = [];
    try { names = readdirSync(dir); } catch { continue; }
    for (const deviceId of names) {
      if (deviceId.startsWith('.')) continue; // a claim's temp file, not a claim
      try { out.push({ resourceName, deviceId, containerId: readFileSync(join(dir, deviceId), 'utf8') }); } catch { /* raced with a release */ }
    }
  }
  return out;
}
