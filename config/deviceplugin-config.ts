// sriov-network-device-plugin's `config.json`, read unchanged: `resourceList[]` of pools, each
// with a name, optional prefix, device type, selectors and additionalInfo. Validation follows the
// reference plugin (so a config means the same thing here) and is stricter only where the
// reference would silently produce an unusable pool; such cases are warnings, not errors.
import { readFile } from 'node:fs/promises';
import { normalizePciAddress } from './deviceplugin/pci-address.js';
import { ConfigError, ProblemSink, type ConfigProblem } from './deviceplugin/problems.js';
import { deviceTypes, parseSelector, type DeviceType, type SelectorConfig } from './deviceplugin/selector-schema.js';

export { ConfigError, formatProblem, type ConfigProblem } from './deviceplugin/problems.js';
export { deviceTypes, type DeviceType, type SelectorConfig } from './deviceplugin/selector-schema.js';
export type { VfRangeSelector } from './deviceplugin/vf-ranges.js';

export interface ResourceConfig {
  resourceName: string;
  resourcePrefix: string;
  /** `<resourcePrefix>/<resourceName>`, the name the kubelet sees. */
  fullName: string;
  deviceType: DeviceType;
  excludeTopology: boolean;
  /** `"*"` (every device) or a PCI address → key/value pairs handed to the pod. */
  additionalInfo: Record<string, Record<string, string>>;
  selectors: SelectorConfig[];
}

export interface DevicePluginConfig {
  resourceList: ResourceConfig[];
}

export interface ParseOptions {
  /** Prefix for pools that set no `resourcePrefix` (the reference plugin's default is `intel.com`). */
  defaultPrefix: string;
}

export interface ParsedConfig {
  config: DevicePluginConfig;
  warnings: ConfigProblem[];
}

export const defaultResourcePrefix = 'intel.com';

// The reference plugin's rule for resource names.
const resourceNamePattern = /^[a-zA-Z0-9_-]+$/;
// The kubelet accepts `<DNS subdomain>/<name>` as an extended resource name.
const prefixPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const topLevelKeys = ['resourceList'];
const resourceKeys = ['resourceName', 'resourcePrefix', 'deviceType', 'excludeTopology', 'selectors', 'additionalInfo'];

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Go's encoding/json (which the reference uses) matches keys case-insensitively; so do we. */
function pick(object: Record<string, unknown>, key: string): unknown {
  if (key in object) return object[key];
  const lower = key.toLowerCase();
  for (const [name, value] of Object.entries(object)) if (name.toLowerCase() === lower) return value;
  return undefined;
}

function reportUnknownKeys(object: Record<string, unknown>, path: string, known: string[], sink: ProblemSink): void {
  const knownLower = new Set(known.map((key) => key.toLowerCase()));
  for (const key of Object.keys(object)) {
    if (!knownLower.has(key.toLowerCase())) sink.unknownKey(path === '' ? key : `${path}.${key}`, key, known);
  }
}

function jsonSyntaxMessage(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const position = /position (\d+)/.exec(message);
  if (position?.[1] === undefined) return `not valid JSON: ${message}`;
  const before = text.slice(0, Number(position[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `not valid JSON at line ${line}, column ${column}: ${message}`;
}

function parsePrefix(value: unknown, path: string, fallback: string, sink: ProblemSink): string {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value !== 'string') {
    sink.error(path, `expected a string like "intel.com", got ${JSON.stringify(value)}`);
    return fallback;
  }
  if (!prefixPattern.test(value)) sink.error(path, `"${value}" is not a valid resource prefix: expected a lower-case DNS name like "intel.com"`);
  return value;
}

function parseAdditionalInfo(value: unknown, path: string, sink: ProblemSink): Record<string, Record<string, string>> {
  const result: Record<string, Record<string, string>> = {};
  if (value === undefined || value === null) return result;
  if (!isObject(value)) {
    sink.error(path, 'expected an object like {"*": {"key": "value"}, "0000:3b:02.1": {...}}');
    return result;
  }
  for (const [device, entries] of Object.entries(value)) {
    const devicePath = `${path}["${device}"]`;
    if (device !== '*' && normalizePciAddress(device) === null) {
      sink.warning(devicePath, `"${device}" never applies: keys are "*" (every device) or a PCI address like "0000:3b:02.1"`);
    }
    if (!isObject(entries)) {
      sink.error(devicePath, 'expected an object of string values');
      continue;
    }
    const map: Record<string, string> = {};
    for (const [key, item] of Object.entries(entries)) {
      if (typeof item === 'string') map[key] = item;
      else sink.error(`${devicePath}.${key}`, `expected a string, got ${JSON.stringify(item)}`);
    }
    result[device === '*' ? device : normalizePciAddress(device) ?? device] = map;
  }
  return result;
}

function parseSelectors(value: unknown, path: string, deviceType: DeviceType, sink: ProblemSink): SelectorConfig[] {
  if (value === undefined || value === null) {
    sink.error(path, 'missing: expected a selector object, or a list of them, e.g. {"vendors": ["8086"], "drivers": ["iavf"]}');
    return [];
  }
  if (Array.isArray(value)) {
    if (value.length === 0) sink.warning(path, 'an empty selector list selects nothing, so this pool stays empty');
    return value.flatMap((item, index) => parseSelector(item, `${path}[${index}]`, deviceType, sink) ?? []);
  }
  const selector = parseSelector(value, path, deviceType, sink);
  return selector === null ? [] : [selector];
}

function parseResource(value: unknown, index: number, options: ParseOptions, sink: ProblemSink): ResourceConfig | null {
  const path = `resourceList[${index}]`;
  if (!isObject(value)) {
    sink.error(path, 'expected a resource object with "resourceName" and "selectors"');
    return null;
  }
  const errorsBefore = sink.errorCount();
  reportUnknownKeys(value, path, resourceKeys, sink);

  const name = pick(value, 'resourceName');
  let resourceName = '';
  if (typeof name !== 'string' || name === '') {
    sink.error(`${path}.resourceName`, `expected a non-empty string of letters, digits and "_", got ${JSON.stringify(name ?? null)}`);
  } else if (!resourceNamePattern.test(name)) {
    sink.error(`${path}.resourceName`, `"${name}" may only contain letters, digits, "_" and "-"`);
  } else {
    resourceName = name;
    if (name.includes('-')) {
      sink.warning(`${path}.resourceName`, `"${name}" contains "-", which ends up in the PCIDEVICE_* environment variable name and makes it unreadable from a shell; prefer "${name.replaceAll('-', '_')}"`);
    }
  }

  const resourcePrefix = parsePrefix(pick(value, 'resourcePrefix'), `${path}.resourcePrefix`, options.defaultPrefix, sink);

  const rawType = pick(value, 'deviceType');
  let deviceType: DeviceType = 'netDevice';
  if (rawType !== undefined && rawType !== null && rawType !== '') {
    if (typeof rawType === 'string' && (deviceTypes as readonly string[]).includes(rawType)) deviceType = rawType as DeviceType;
    else sink.error(`${path}.deviceType`, `${JSON.stringify(rawType)} is not a device type: expected one of ${deviceTypes.join(', ')}`);
  }

  const rawExclude = pick(value, 'excludeTopology');
  let excludeTopology = false;
  if (typeof rawExclude === 'boolean') excludeTopology = rawExclude;
  else if (rawExclude !== undefined && rawExclude !== null) sink.error(`${path}.excludeTopology`, `expected true or false, got ${JSON.stringify(rawExclude)}`);

  const selectors = parseSelectors(pick(value, 'selectors'), `${path}.selectors`, deviceType, sink);
  const additionalInfo = parseAdditionalInfo(pick(value, 'additionalInfo'), `${path}.additionalInfo`, sink);
  if (sink.errorCount() !== errorsBefore) return null;
  return { resourceName, resourcePrefix, fullName: `${resourcePrefix}/${resourceName}`, deviceType, excludeTopology, additionalInfo, selectors };
}

/** Parses and validates config text. Throws ConfigError listing every problem found. */
export function parseDevicePluginConfig(text: string, sourceName: string, options: ParseOptions): ParsedConfig {
  const sink = new ProblemSink(sourceName);
  if (!prefixPattern.test(options.defaultPrefix)) {
    sink.error('', `default resource prefix "${options.defaultPrefix}" (--resource-prefix) is not a lower-case DNS name like "intel.com"`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    sink.error('', jsonSyntaxMessage(text, error));
    throw new ConfigError(sink.errors);
  }
  if (!isObject(document)) {
    sink.error('', 'expected a JSON object with a "resourceList" array');
    throw new ConfigError(sink.errors);
  }
  reportUnknownKeys(document, '', topLevelKeys, sink);
  const list = pick(document, 'resourceList');
  if (!Array.isArray(list)) {
    sink.error('resourceList', list === undefined ? 'missing: expected a list of resource pools' : `expected a list of resource pools, got ${JSON.stringify(list)}`);
    throw new ConfigError(sink.errors);
  }
  if (list.length === 0) sink.warning('resourceList', 'no pools are configured, so no device is advertised');

  const resources: ResourceConfig[] = [];
  const firstIndexByName = new Map<string, number>();
  list.forEach((item, index) => {
    const resource = parseResource(item, index, options, sink);
    if (resource === null) return;
    const earlier = firstIndexByName.get(resource.fullName);
    if (earlier !== undefined) {
      sink.error(`resourceList[${index}].resourceName`, `duplicate resource "${resource.fullName}" (already defined by resourceList[${earlier}]); every prefix/name must be unique`);
      return;
    }
    firstIndexByName.set(resource.fullName, index);
    resources.push(resource);
  });
  if (sink.errors.length > 0) throw new ConfigError(sink.errors);
  return { config: { resourceList: resources }, warnings: sink.warnings };
}

/** Reads and validates a config file. A missing or unreadable file is a ConfigError naming it. */
export async function loadDevicePluginConfig(path: string, options: ParseOptions): Promise<ParsedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, expected a JSON file' : `cannot be read (${code ?? String(error)})`;
    throw new ConfigError([{ file: path, path: '', message: `${reason}; pass the sriov-network-device-plugin config.json with --config` }]);
  }
  return parseDevicePluginConfig(text, path, options);
}
