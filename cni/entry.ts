// Thin-mode CNI entry: one process per CNI call. Reads CNI_* and stdin, answers on stdout in the caller's
// CNI version, errors as CNI error JSON with a non-zero exit. Heavy libraries load only when needed.
import { readFileSync } from 'node:fs';
import { MultusConfigError, parseMultusNetConf, type MultusNetConf } from '../config/multus-config.js';
import type { ClusterApi } from './cluster.js';
import type { ClaimAllocation } from './dra-devices.js';
import { cmdAdd, cmdCheck, cmdDel, cmdGc, cmdStatus, standaloneNetworksFrom, type CommandDeps } from './commands.js';
import { CniCode, CniError, asCniError } from './errors.js';
import { ExecPluginExecutor, type PluginExecutor } from './exec.js';
import { RoutingExecutor, lazyDelegates, type InProcessDelegates } from './delegates/routing.js';
import { createLogger, type BufferedLogger, type Logger } from './log.js';
import { NETWORKS_ANNOTATION } from './annotation.js';
import { readRequest, type CniRequest } from './request.js';
import { CURRENT_VERSION, SUPPORTED_VERSIONS, assertSupportedVersion } from './version.js';

/**
 * Long-lived services the agent builds once and hands to every request; thin mode builds each one for
 * a single call, lazily. Every field is optional: what is absent is built the thin-mode way.
 */
export interface CniServices {
  /** The agent's logger (a child per request); thin mode logs per the config's logLevel/logFile. */
  log?: Logger;
  /** Delegate executor for this request (delegateExecutor over the agent's long-lived built-ins); absent = thin mode's. */
  executor?: (searchPath: string[], timeoutMs: number, conf: MultusNetConf) => PluginExecutor;
  /** Kubernetes API (informer caches in the agent) for a config with "kubeconfig". */
  kubernetesApi?: (conf: MultusNetConf) => Promise<ClusterApi>;
  /** Standalone device pools the config names as "discovered" (the agent's device-plugin discovery). */
  discoveredPools?: () => Record<string, string[]>;
  /** Waits for the agent's rate limit before each kubelet pod-resources call. */
  beforePodResources?: () => Promise<void>;
  /** Top-level keys laid over every request's config (Multus thick's daemon-config.json does this). */
  confOverlay?: Record<string, unknown>;
  /** Told each request's parsed config (the agent's status lists the caches and standalone pools it names). */
  onConf?: (conf: MultusNetConf) => void;
}

export interface CniRunOptions {
  env: NodeJS.ProcessEnv;
  stdin: string;
  /** Test seams: replace the delegate executor, the cluster API or the device source. */
  overrides?: Partial<Pick<CommandDeps, 'executor' | 'clusterApi' | 'podDevices' | 'log'>>;
  services?: CniServices;
}

export interface CniRunOutcome { exitCode: number; stdout: string }

function errorOutput(error: unknown, cniVersion: string): CniRunOutcome {
  const cniError = asCniError(error);
  return { exitCode: 1, stdout: `${JSON.stringify(cniError.toJSON(cniVersion))}\n` };
}

function parseStdin(text: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new CniError(CniCode.decodeFailure, `the network configuration on stdin is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CniError(CniCode.decodeFailure, 'the network configuration on stdin must be a JSON object');
  return raw as Record<string, unknown>;
}

/**
 * Built-in delegate types in-process (`delegates`), everything else (and IPAM) exec'd from the search
 * path. The agent passes its long-lived built-ins; thin mode builds them for one call (builtinDelegatesFor).
 */
export function delegateExecutor(searchPath: string[], timeoutMs: number, delegates: InProcessDelegates): PluginExecutor {
  return new RoutingExecutor(delegates, new ExecPluginExecutor(searchPath, timeoutMs));
}

/**
 * In-process delegates for one conf's builtinDelegates and delegateStateDir, created on first use, so the
 * delegate code loads only when a built-in type is actually routed.
 */
export function builtinDelegatesFor(conf: MultusNetConf, log: Logger): InProcessDelegates {
  return lazyDelegates(conf.builtinDelegates, async () => {
    const { DelegateRegistry } = await import('./delegates/registry.js');
    return new DelegateRegistry({ stateDir: conf.delegateStateDir, log, enabled: conf.builtinDelegates });
  });
}

function buildDeps(request: CniRequest, conf: MultusNetConf, log: Logger, overrides: CniRunOptions['overrides'], services: CniServices): CommandDeps {
  let apiPromise: Promise<ClusterApi | undefined> | undefined;
  const standaloneNetworks = conf.standalone ? standaloneNetworksFrom(request, conf) : undefined;
  const clusterApi = (): Promise<ClusterApi | undefined> => {
    apiPromise ??= (async () => {
      if (conf.standalone) {
        const { createStandaloneApi } = await import('./standalone.js');
        // STATUS and GC carry no pod; the standalone API then only serves NADs.
        const pod = request.pod ?? { namespace: '', name: '', uid: '', infraContainerId: '' };
        const annotations: Record<string, string> = {};
        if (standaloneNetworks) annotations[NETWORKS_ANNOTATION] = standaloneNetworks;
        return createStandaloneApi(conf.standalone, { namespace: pod.namespace, name: pod.name, uid: pod.uid, annotations }, log);
      }
      if (conf.kubeconfig && services.kubernetesApi) return services.kubernetesApi(conf);
      if (conf.kubeconfig) {
        const { createKubernetesApi } = await import('./k8s-api.js');
        return createKubernetesApi(conf.kubeconfig, { podLookupTimeoutMs: conf.podLookupTimeoutMs, log });
      }
      return undefined;
    })();
    return apiPromise;
  };
  return {
    conf,
    log,
    executor: overrides?.executor ?? (services.executor ?? defaultExecutor(log))([conf.binDir, ...request.cniPath], conf.delegateTimeoutSeconds * 1000, conf),
    clusterApi: overrides?.clusterApi ?? clusterApi,
    podDevices: overrides?.podDevices ?? (async (pod) => {
      const { podDevicesFromKubelet } = await import('./pod-devices.js');
      await services.beforePodResources?.();
      let kubeletClaims: ClaimAllocation[] = [];
      const fromKubelet = await podDevicesFromKubelet({
        socketPath: conf.podResourcesSocket, checkpointFile: conf.kubeletCheckpointFile, namespace: pod.namespace, name: pod.name, uid: pod.uid, log,
        onDraClaims: (claims) => { kubeletClaims = claims; },
      });
      if (!pod.resourceClaims?.length) return fromKubelet;
      const dra = (await clusterApi())?.dra;
      if (!dra) return fromKubelet;
      const { mergePodDevices, podDevicesFromDra } = await import('./dra-devices.js');
      return mergePodDevices(fromKubelet, await podDevicesFromDra(dra, pod, log, kubeletClaims));
    }),
    standaloneNetworks,
  };
}

/** Thin mode's executor: built-ins created for this one call, everything else exec'd. */
const defaultExecutor = (log: Logger) => (searchPath: string[], timeoutMs: number, conf: MultusNetConf): PluginExecutor =>
  delegateExecutor(searchPath, timeoutMs, builtinDelegatesFor(conf, log));

export async function runCni(options: CniRunOptions): Promise<CniRunOutcome> {
  let cniVersion = CURRENT_VERSION;
  let callLogger: BufferedLogger | undefined;
  const services = options.services ?? {};
  try {
    const request = readRequest(options.env);
    if (request.command === 'VERSION') {
      // libcni sends {"cniVersion": "<its version>"}; an empty stdin still gets an answer.
      let asked: unknown;
      try { asked = (JSON.parse(options.stdin) as { cniVersion?: unknown }).cniVersion; } catch { asked = undefined; }
      return { exitCode: 0, stdout: `${JSON.stringify({ cniVersion: typeof asked === 'string' ? asked : CURRENT_VERSION, supportedVersions: SUPPORTED_VERSIONS })}\n` };
    }
    const raw = { ...parseStdin(options.stdin), ...services.confOverlay };
    if (typeof raw['cniVersion'] === 'string') cniVersion = raw['cniVersion'];
    assertSupportedVersion(raw['cniVersion'], 'network configuration on stdin');
    let parsed;
    try {
      parsed = parseMultusNetConf(raw, 'network configuration on stdin');
    } catch (error) {
      if (error instanceof MultusConfigError) throw new CniError(CniCode.invalidConfig, error.message);
      throw error;
    }
    const { conf, warnings } = parsed;
    if (conf.standalone?.discoveredPools) conf.standalone = { ...conf.standalone, devicePools: services.discoveredPools?.() ?? {} };
    services.onConf?.(conf);
    const log = options.overrides?.log ?? services.log ?? (callLogger = createLogger({ level: conf.logLevel, file: conf.logFile, toStderr: conf.logToStderr }));
    for (const warning of warnings) log.warn(warning);
    if (conf.standalone && !request.pod && request.containerId) {
      // Runtimes without Kubernetes may send no K8S_POD_* args; the container is then its own "pod".
      request.pod = { namespace: 'default', name: request.containerId.slice(0, 63).toLowerCase(), uid: '', infraContainerId: request.containerId };
    }
    const deps = buildDeps(request, conf, log, options.overrides, services);
    switch (request.command) {
      case 'ADD':
        return { exitCode: 0, stdout: `${JSON.stringify(await cmdAdd(request, deps))}\n` };
      case 'DEL':
        await cmdDel(request, deps);
        return { exitCode: 0, stdout: '' };
      case 'CHECK':
        await cmdCheck(request, deps);
        return { exitCode: 0, stdout: '' };
      case 'STATUS':
        await cmdStatus(deps);
        return { exitCode: 0, stdout: '' };
      case 'GC':
        await cmdGc(deps, raw);
        return { exitCode: 0, stdout: '' };
    }
  } catch (error) {
    return errorOutput(error, cniVersion);
  } finally {
    await callLogger?.flush().catch(() => undefined);
  }
  return errorOutput(new CniError(CniCode.invalidEnvironment, 'unhandled command'), cniVersion);
}

function readAllStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EAGAIN' || (error as NodeJS.ErrnoException).code === 'EOF') return '';
    throw new CniError(CniCode.ioFailure, `cannot read stdin: ${(error as Error).message}`);
  }
}

/** Called by deploy/nicplex.ts for `nicplex cni` or a CNI-named symlink; returns the exit code. */
export async function runCniEntry(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    // `nicplex cni` never reaches yargs (it is dispatched first), so answer --help here.
    const { cniCommand, CNI_HELP_EPILOG } = await import('./cli.js');
    process.stdout.write(`nicplex cni\n\n${String(cniCommand.describe)}\n\n${CNI_HELP_EPILOG}\n`);
    return 0;
  }
  let stdin: string;
  try {
    stdin = readAllStdin();
  } catch (error) {
    process.stdout.write(errorOutput(error, CURRENT_VERSION).stdout);
    return 1;
  }
  const outcome = await runCni({ env: process.env, stdin });
  if (outcome.stdout) process.stdout.write(outcome.stdout);
  return outcome.exitCode;
}
