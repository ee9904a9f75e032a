// The meta-CNI's own network configuration, in Multus's `00-multus.conf` format plus a few nicplex keys.
// Existing Multus files must load unchanged (both the `.conf` shape and the `.conflist` shape Multus
// writes for cniVersion >= 1.0.0); unknown keys only warn, naming the nearest known key.
import { readFileSync } from 'node:fs';
import { isJsonObject as isObject } from './cni-json.js';
import { nearestKey } from './nearest-key.js';

export type LogLevel = 'debug' | 'verbose' | 'error' | 'panic';

export interface StandaloneConf {
  /** Directory of NetworkAttachmentDefinition manifests (YAML or JSON), one NAD per file. */
  nadDir: string;
  /** Devices the agent hands out itself, keyed by resource name (e.g. "example.com/dev": ["0000:00:01.0"]). */
  devicePools: Record<string, string[]>;
  /** Where the per-device allocation records live (one O_EXCL file per allocated device). */
  allocationDir: string;
  /** `"devicePools": "discovered"`: the pools are the agent's device-plugin discovery (agent only). */
  discoveredPools?: boolean;
}

export interface MultusNetConf {
  cniVersion: string;
  name: string;
  type: string;
  delegates: Record<string, unknown>[];
  clusterNetwork?: string | undefined;
  defaultNetworks: string[];
  systemNamespaces: string[];
  multusNamespace: string;
  namespaceIsolation: boolean;
  globalNamespaces: string[];
  confDir: string;
  cniDir: string;
  binDir: string;
  kubeconfig?: string | undefined;
  readinessIndicatorFile?: string | undefined;
  readinessTimeoutSeconds: number;
  logLevel: LogLevel;
  logFile?: string | undefined;
  logToStderr: boolean;
  capabilities: Record<string, boolean>;
  /** What the runtime put into `runtimeConfig` (only the capabilities this config declares). */
  runtimeConfig: Record<string, unknown>;
  args?: Record<string, unknown> | undefined;
  prevResult?: unknown;
  retryDeleteOnError: boolean;
  podResourcesSocket: string;
  kubeletCheckpointFile: string;
  deviceInfoDir: string;
  cniDeviceInfoDir: string;
  delegateTimeoutSeconds: number;
  podLookupTimeoutMs: number;
  standalone?: StandaloneConf | undefined;
  /** Delegate types run in-process (sriov, host-device, ipvlan, and static IPAM for those); a type left out is exec'd as a binary. */
  builtinDelegates: BuiltinDelegateType[];
  /** Where the built-in delegates keep their per-attachment state (original host names, VF settings). */
  delegateStateDir: string;
}

/** `static` is the IPAM plugin: in-process for the built-in delegates' IPAM (exec'd plugins exec their own). */
export const BUILTIN_DELEGATE_TYPES = ['sriov', 'host-device', 'ipvlan', 'static'] as const;
export type BuiltinDelegateType = (typeof BUILTIN_DELEGATE_TYPES)[number];

export interface ConfigIssue { path: string; message: string }

export class MultusConfigError extends Error {
  constructor(readonly source: string, readonly issues: ConfigIssue[]) {
    super(issues.map((issue) => `${source}: ${issue.path}: ${issue.message}`).join('\n'));
    this.name = 'MultusConfigError';
  }
}

export const MULTUS_DEFAULTS = {
  confDir: '/etc/cni/multus/net.d',
  cniDir: '/var/lib/cni/multus',
  binDir: '/opt/cni/bin',
  multusNamespace: 'kube-system',
  systemNamespaces: ['kube-system'],
  globalNamespaces: ['default'],
  podResourcesSocket: '/var/lib/kubelet/pod-resources/kubelet.sock',
  kubeletCheckpointFile: '/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint',
  deviceInfoDir: '/var/run/k8s.cni.cncf.io/devinfo/dp',
  cniDeviceInfoDir: '/var/run/k8s.cni.cncf.io/devinfo/cni',
  standaloneNadDir: '/etc/nicplex/nads',
  standaloneAllocationDir: '/var/lib/nicplex/devices',
  delegateStateDir: '/var/lib/nicplex/delegates',
} as const;

// Keys CNI itself defines for any plugin object; they are never "unknown".
const CNI_KEYS = ['cniVersion', 'cniVersions', 'name', 'type', 'capabilities', 'runtimeConfig', 'args', 'prevResult', 'ipam', 'dns', 'disableCheck', 'disableGC'];
const MULTUS_KEYS = [
  'delegates', 'clusterNetwork', 'defaultNetworks', 'systemNamespaces', 'multusNamespace', 'namespaceIsolation',
  'globalNamespaces', 'confDir', 'cniDir', 'binDir', 'kubeconfig', 'readinessindicatorfile', 'logLevel', 'logFile',
  'logToStderr', 'logOptions', 'retryDeleteOnError', 'auxiliaryCNIChainName', 'cniConf', 'daemonSocketDir',
];
const NICPLEX_KEYS = [
  'podResourcesSocket', 'kubeletCheckpointFile', 'deviceInfoDir', 'cniDeviceInfoDir', 'delegateTimeoutSeconds',
  'readinessTimeoutSeconds', 'podLookupTimeoutMs', 'standalone', 'builtinDelegates', 'delegateStateDir',
  'socketDir', 'agentWaitSeconds', 'agentTimeoutSeconds',
];
const KNOWN_KEYS = [...CNI_KEYS, ...MULTUS_KEYS, ...NICPLEX_KEYS];
const STANDALONE_KEYS = ['nadDir', 'devicePools', 'allocationDir'];
const LOG_LEVELS: LogLevel[] = ['debug', 'verbose', 'error', 'panic'];


class Reader {
  readonly issues: ConfigIssue[] = [];
  constructor(private readonly raw: Record<string, unknown>, private readonly base: string) {}

  private fail(key: string, message: string): undefined {
    this.issues.push({ path: `${this.base}.${key}`, message });
    return undefined;
  }
  string(key: string): string | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') return this.fail(key, `expected a string, got ${JSON.stringify(value)}`);
    return value;
  }
  path(key: string): string | undefined {
    const value = this.string(key);
    if (value !== undefined && value !== '' && !value.startsWith('/')) return this.fail(key, `expected an absolute path, got "${value}"`);
    return value === '' ? undefined : value;
  }
  boolean(key: string): boolean | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    // Multus's Go structs take real booleans; generated configs sometimes quote them.
    if (value === 'true' || value === 'false') return value === 'true';
    if (typeof value !== 'boolean') return this.fail(key, `expected true or false, got ${JSON.stringify(value)}`);
    return value;
  }
  positiveNumber(key: string): number | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return this.fail(key, `expected a positive number, got ${JSON.stringify(value)}`);
    return value;
  }
  stringList(key: string, options: { commaSeparated?: boolean } = {}): string[] | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string' && options.commaSeparated) return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
      return this.fail(key, `expected ${options.commaSeparated ? 'a comma-separated string or ' : ''}an array of strings, got ${JSON.stringify(value)}`);
    }
    return (value as string[]).map((item) => item.trim()).filter((item) => item !== '');
  }
  object(key: string): Record<string, unknown> | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    if (!isObject(value)) return this.fail(key, `expected an object, got ${JSON.stringify(value)}`);
    return value;
  }
}

function readStandalone(value: Record<string, unknown>, base: string, issues: ConfigIssue[], warnings: string[]): StandaloneConf {
  const reader = new Reader(value, base);
  for (const key of Object.keys(value)) {
    if (!STANDALONE_KEYS.includes(key)) {
      const hint = nearestKey(key, STANDALONE_KEYS);
      warnings.push(`${base}.${key}: unknown key, ignored${hint ? ` (did you mean "${hint}"?)` : ''}`);
    }
  }
  const pools: Record<string, string[]> = {};
  const discovered = value['devicePools'] === 'discovered';
  const rawPools = discovered ? {} : reader.object('devicePools') ?? {};
  for (const [resource, ids] of Object.entries(rawPools)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9.-]*\/[A-Za-z0-9_.-]+$/.test(resource)) {
      issues.push({ path: `${base}.devicePools["${resource}"]`, message: 'expected a resource name of the form "<domain>/<name>"' });
      continue;
    }
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(id))) {
      issues.push({ path: `${base}.devicePools["${resource}"]`, message: `expected an array of device IDs (letters, digits, "_.:-"), got ${JSON.stringify(ids)}` });
      continue;
    }
    pools[resource] = [...(ids as string[])].sort();
  }
  // Read before the reader's issues are collected: a relative or non-string directory is an error, never a
  // silent fallback to the default directory on the host.
  const nadDir = reader.path('nadDir') ?? MULTUS_DEFAULTS.standaloneNadDir;
  const allocationDir = reader.path('allocationDir') ?? MULTUS_DEFAULTS.standaloneAllocationDir;
  issues.push(...reader.issues);
  return { nadDir, devicePools: pools, allocationDir, ...(discovered ? { discoveredPools: true } : {}) };
}

/**
 * Validates one plugin object (what a runtime hands the meta-CNI on stdin, or the plugin inside a
 * `00-multus.conflist`). Throws MultusConfigError naming every bad field; returns warnings for unknown keys.
 */
export function parseMultusNetConf(raw: unknown, source: string, base = '$'): { conf: MultusNetConf; warnings: string[] } {
  if (!isObject(raw)) throw new MultusConfigError(source, [{ path: base, message: 'expected a JSON object' }]);
  const reader = new Reader(raw, base);
  const issues = reader.issues;
  const warnings: string[] = [];
  for (const key of Object.keys(raw)) {
    if (KNOWN_KEYS.includes(key) || key.startsWith('cni.dev/')) continue;
    const hint = nearestKey(key, KNOWN_KEYS);
    warnings.push(`${source}: ${base}.${key}: unknown key, ignored${hint ? ` (did you mean "${hint}"?)` : ''}`);
  }
  const cniVersion = reader.string('cniVersion');
  if (cniVersion === undefined) issues.push({ path: `${base}.cniVersion`, message: 'required: the CNI spec version of this config, e.g. "1.0.0"' });
  const delegatesValue = raw['delegates'];
  let delegates: Record<string, unknown>[] = [];
  if (delegatesValue !== undefined) {
    if (!Array.isArray(delegatesValue)) issues.push({ path: `${base}.delegates`, message: 'expected an array of CNI configs' });
    else delegatesValue.forEach((delegate, index) => {
      if (!isObject(delegate)) issues.push({ path: `${base}.delegates[${index}]`, message: 'expected a CNI config object' });
      else if (typeof delegate['type'] !== 'string' && !Array.isArray(delegate['plugins'])) {
        issues.push({ path: `${base}.delegates[${index}]`, message: 'expected a plugin config with "type" or a conflist with "plugins"' });
      } else delegates.push(delegate);
    });
  }
  const clusterNetwork = reader.string('clusterNetwork') || undefined;
  if (clusterNetwork !== undefined && delegates.length > 0) {
    warnings.push(`${source}: ${base}.delegates: ignored because clusterNetwork is set (Multus does the same)`);
    delegates = [];
  }
  if (clusterNetwork === undefined && delegates.length === 0 && delegatesValue !== undefined && issues.length === 0) {
    issues.push({ path: `${base}.delegates`, message: 'must hold at least one CNI config (the cluster network)' });
  }
  if (clusterNetwork === undefined && delegatesValue === undefined) {
    issues.push({ path: base, message: 'set either "clusterNetwork" (a NAD name, conf name, directory or file) or "delegates" (inline CNI configs)' });
  }
  const logLevelText = reader.string('logLevel');
  let logLevel: LogLevel = 'panic';
  if (logLevelText !== undefined && logLevelText !== '') {
    const lower = logLevelText.toLowerCase();
    if (LOG_LEVELS.includes(lower as LogLevel)) logLevel = lower as LogLevel;
    else issues.push({ path: `${base}.logLevel`, message: `expected one of ${LOG_LEVELS.join(', ')}, got "${logLevelText}"` });
  }
  const capabilities: Record<string, boolean> = {};
  for (const [name, enabled] of Object.entries(reader.object('capabilities') ?? {})) {
    if (typeof enabled !== 'boolean') issues.push({ path: `${base}.capabilities.${name}`, message: `expected true or false, got ${JSON.stringify(enabled)}` });
    else capabilities[name] = enabled;
  }
  // Multus's thin entrypoint writes "cniConf" although Multus reads "confDir"; honour both.
  const confDir = reader.path('confDir') ?? reader.path('cniConf');
  const standaloneRaw = reader.object('standalone');
  const standalone = standaloneRaw ? readStandalone(standaloneRaw, `${base}.standalone`, issues, warnings) : undefined;
  const builtinDelegates = reader.stringList('builtinDelegates') ?? [...BUILTIN_DELEGATE_TYPES];
  builtinDelegates.forEach((type, index) => {
    if (!(BUILTIN_DELEGATE_TYPES as readonly string[]).includes(type)) {
      issues.push({ path: `${base}.builtinDelegates[${index}]`, message: `"${type}" has no built-in implementation; expected some of ${BUILTIN_DELEGATE_TYPES.join(', ')} (leave a type out to exec its binary)` });
    }
  });
  const conf: MultusNetConf = {
    cniVersion: cniVersion ?? '',
    name: reader.string('name') ?? '',
    type: reader.string('type') ?? '',
    delegates,
    clusterNetwork,
    defaultNetworks: reader.stringList('defaultNetworks') ?? [],
    systemNamespaces: reader.stringList('systemNamespaces', { commaSeparated: true }) ?? [...MULTUS_DEFAULTS.systemNamespaces],
    multusNamespace: reader.string('multusNamespace') || MULTUS_DEFAULTS.multusNamespace,
    namespaceIsolation: reader.boolean('namespaceIsolation') ?? false,
    globalNamespaces: reader.stringList('globalNamespaces', { commaSeparated: true }) ?? [...MULTUS_DEFAULTS.globalNamespaces],
    confDir: confDir ?? MULTUS_DEFAULTS.confDir,
    cniDir: reader.path('cniDir') ?? MULTUS_DEFAULTS.cniDir,
    binDir: reader.path('binDir') ?? MULTUS_DEFAULTS.binDir,
    kubeconfig: reader.path('kubeconfig'),
    readinessIndicatorFile: reader.path('readinessindicatorfile'),
    readinessTimeoutSeconds: reader.positiveNumber('readinessTimeoutSeconds') ?? 45,
    logLevel,
    logFile: reader.path('logFile'),
    logToStderr: reader.boolean('logToStderr') ?? true,
    capabilities,
    runtimeConfig: reader.object('runtimeConfig') ?? {},
    args: reader.object('args'),
    prevResult: raw['prevResult'],
    retryDeleteOnError: reader.boolean('retryDeleteOnError') ?? false,
    podResourcesSocket: reader.path('podResourcesSocket') ?? MULTUS_DEFAULTS.podResourcesSocket,
    kubeletCheckpointFile: reader.path('kubeletCheckpointFile') ?? MULTUS_DEFAULTS.kubeletCheckpointFile,
    deviceInfoDir: reader.path('deviceInfoDir') ?? MULTUS_DEFAULTS.deviceInfoDir,
    cniDeviceInfoDir: reader.path('cniDeviceInfoDir') ?? MULTUS_DEFAULTS.cniDeviceInfoDir,
    delegateTimeoutSeconds: reader.positiveNumber('delegateTimeoutSeconds') ?? 60,
    podLookupTimeoutMs: reader.positiveNumber('podLookupTimeoutMs') ?? 2500,
    standalone,
    builtinDelegates: builtinDelegates.filter((type): type is BuiltinDelegateType => (BUILTIN_DELEGATE_TYPES as readonly string[]).includes(type)),
    delegateStateDir: reader.path('delegateStateDir') ?? MULTUS_DEFAULTS.delegateStateDir,
  };
  if (raw['auxiliaryCNIChainName'] !== undefined) warnings.push(`${source}: ${base}.auxiliaryCNIChainName: not supported by nicplex yet, ignored`);
  if (issues.length > 0) throw new MultusConfigError(source, issues);
  return { conf, warnings };
}

/**
 * Loads a `00-multus.conf` (plugin object) or `00-multus.conflist` (the meta-plugin inside `plugins[]`,
 * with the list's `cniVersion` and `name` injected as a runtime would).
 */
export function loadMultusConfigFile(path: string): { conf: MultusNetConf; warnings: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new MultusConfigError(path, [{ path: '$', message: `cannot read the file: ${(error as Error).message}` }]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new MultusConfigError(path, [{ path: '$', message: `not valid JSON: ${(error as Error).message}` }]);
  }
  if (isObject(raw) && Array.isArray(raw['plugins'])) {
    const plugins = raw['plugins'] as unknown[];
    const index = plugins.findIndex((plugin) => isObject(plugin) && /^(multus|multus-shim|nicplex)$/.test(String(plugin['type'])));
    const chosen = index >= 0 ? index : 0;
    const plugin = plugins[chosen];
    if (!isObject(plugin)) throw new MultusConfigError(path, [{ path: '$.plugins', message: 'expected at least one plugin object' }]);
    return parseMultusNetConf({ ...plugin, cniVersion: raw['cniVersion'], name: raw['name'] }, path, `$.plugins[${chosen}]`);
  }
  return parseMultusNetConf(raw, path);
}
