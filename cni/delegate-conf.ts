// JSON surgery on delegate network configs: normalise to a conflist, inject device IDs and cni-args,
// and hand each plugin exactly the runtimeConfig keys it declares as capabilities.
import { isJsonObject as isObject, type JsonObject } from '../config/cni-json.js';
import { CniCode, CniError } from './errors.js';
import { delegateVersion } from './version.js';

export type { JsonObject };

export interface ConfList {
  cniVersion: string;
  name: string;
  plugins: JsonObject[];
  disableCheck?: boolean;
  disableGC?: boolean;
  /** Any other top-level keys, preserved for the cache round-trip. */
  extra?: JsonObject;
}


const LIST_KEYS = ['cniVersion', 'cniVersions', 'name', 'plugins', 'disableCheck', 'disableGC'];

function truthy(value: unknown): boolean {
  return value === true || value === 'true';
}

/**
 * A single-plugin conf becomes a one-element list (as libcni does); a config without `type` is a conflist
 * (as Multus does). `fallbackName` fills an empty `name` (spec 3.4.2: the NAD's name). A missing or empty
 * `cniVersion` is accepted as Multus and libcni accept it: the delegate runs as 0.1.0.
 */
export function toConfList(raw: unknown, source: string, fallbackName?: string): ConfList {
  if (!isObject(raw)) throw new CniError(CniCode.invalidConfig, `${source}: expected a CNI config object`);
  const name = typeof raw['name'] === 'string' && raw['name'] !== '' ? raw['name'] : fallbackName;
  if (!name) throw new CniError(CniCode.invalidConfig, `${source}: "name" is missing`);
  const cniVersion = delegateVersion(raw['cniVersion'], source);
  if (Array.isArray(raw['plugins'])) {
    const plugins = raw['plugins'].map((plugin, index) => {
      if (!isObject(plugin) || typeof plugin['type'] !== 'string' || plugin['type'] === '') {
        throw new CniError(CniCode.invalidConfig, `${source}: plugins[${index}] needs a "type"`);
      }
      return structuredClone(plugin);
    });
    if (plugins.length === 0) throw new CniError(CniCode.invalidConfig, `${source}: "plugins" is empty`);
    const extra: JsonObject = {};
    for (const [key, value] of Object.entries(raw)) if (!LIST_KEYS.includes(key)) extra[key] = value;
    const list: ConfList = { cniVersion, name, plugins };
    if (truthy(raw['disableCheck'])) list.disableCheck = true;
    if (truthy(raw['disableGC'])) list.disableGC = true;
    if (Object.keys(extra).length > 0) list.extra = extra;
    return list;
  }
  if (typeof raw['type'] !== 'string' || raw['type'] === '') {
    throw new CniError(CniCode.invalidConfig, `${source}: neither "type" (a plugin config) nor "plugins" (a conflist)`);
  }
  const plugin = structuredClone(raw);
  delete plugin['cniVersion'];
  delete plugin['name'];
  return { cniVersion, name, plugins: [plugin] };
}

/** Writes the device into every plugin as both `deviceID` and `pciBusID` (what sriov-cni and host-device read). */
export function injectDeviceId(list: ConfList, deviceId: string): void {
  for (const plugin of list.plugins) {
    plugin['deviceID'] = deviceId;
    plugin['pciBusID'] = deviceId;
  }
}

/** Merges annotation `cni-args` into each plugin's `args.cni`; annotation values win. */
export function mergeCniArgs(list: ConfList, cniArgs: JsonObject): void {
  for (const plugin of list.plugins) {
    const args = isObject(plugin['args']) ? plugin['args'] : {};
    const existing = isObject(args['cni']) ? args['cni'] : {};
    plugin['args'] = { ...args, cni: { ...existing, ...cniArgs } };
  }
}

/** Capability names a plugin declares true, as spelled by the plugin. */
export function declaredCapabilities(plugin: JsonObject): string[] {
  const capabilities = plugin['capabilities'];
  if (!isObject(capabilities)) return [];
  return Object.entries(capabilities).filter(([, enabled]) => enabled === true).map(([name]) => name);
}

/**
 * The runtimeConfig one plugin receives: the offered keys it declares. Matching ignores case because
 * runtimes disagree on spelling (podman and containerd differ); the plugin gets its own spelling.
 */
export function runtimeConfigFor(plugin: JsonObject, offered: JsonObject): JsonObject | undefined {
  const byLowerName = new Map<string, unknown>();
  for (const [key, value] of Object.entries(offered)) byLowerName.set(key.toLowerCase(), value);
  const out: JsonObject = {};
  for (const capability of declaredCapabilities(plugin)) {
    const value = byLowerName.get(capability.toLowerCase());
    if (value !== undefined) out[capability] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** True when some plugin of the list declares `capability` (case-insensitive). */
export function listDeclares(list: ConfList, capability: string): boolean {
  return list.plugins.some((plugin) => declaredCapabilities(plugin).some((name) => name.toLowerCase() === capability.toLowerCase()));
}

/** The stdin libcni would send one plugin of a list. */
export function pluginStdin(list: ConfList, plugin: JsonObject, extras: { runtimeConfig?: JsonObject | undefined; prevResult?: unknown }): JsonObject {
  const stdin: JsonObject = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  delete stdin['runtimeConfig'];
  if (extras.runtimeConfig) stdin['runtimeConfig'] = extras.runtimeConfig;
  if (extras.prevResult !== undefined) stdin['prevResult'] = extras.prevResult;
  else delete stdin['prevResult'];
  return stdin;
}
