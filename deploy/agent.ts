// `nicplex agent`: the composition root of the node agent. It builds the long-lived services once —
// logger, delegate executor, Kubernetes API, device plugin (and its discovery for standalone pools),
// metrics — and hands them to the same per-request code thin mode runs (cni/entry.ts runCni), behind
// the meta-CNI server on a unix socket that the shim talks to. SIGTERM/SIGINT stop it cleanly.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import type { Logger as PinoLogger } from 'pino';
import { createPino } from '../config/logger.js';
import { isJsonObject } from '../config/cni-json.js';
import { MULTUS_DEFAULTS, MultusConfigError, parseMultusNetConf, type MultusNetConf, type StandaloneConf } from '../config/multus-config.js';
import { CniServer, type CniCall } from '../cni/agent-server.js';
import { flushCacheWrites } from '../cni/cache.js';
import { GuardedExecutor, type DelegateCall } from '../cni/agent-executor.js';
import type { ClusterApi } from '../cni/cluster.js';
import type { InProcessDelegates } from '../cni/delegates/routing.js';
import { builtinDelegatesFor, delegateExecutor, runCni, type CniRunOutcome, type CniServices } from '../cni/entry.js';
import { runHotplug, type DelegateCall as HotplugCall } from '../cni/hotplug-request.js';
import { cachePath } from '../cni/cache.js';
import { CniCode, CniError } from '../cni/errors.js';
import { ConfInstaller, META_PLUGIN_TYPES, findPrimaryConf, generateConf, installShim } from '../cni/install.js';
import { loggerFromPino } from '../cni/log.js';
import { TokenBucket } from '../cni/rate-limit.js';
import type { RunningDevicePlugin } from '../deviceplugin/server-command.js';
import type { AgentArgs } from './agent-cli.js';
import { AgentMetrics, errorKind, startMetricsServer, type PoolSize } from './agent-metrics.js';
import { gatherStatus, type AgentStatus } from './agent-status.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_SHIM = join(repoRoot, 'build', 'Release', 'nicplex-shim');

// daemon-config.json keys that configure the daemon and the conf generator, never a request.
const DAEMON_ONLY_KEYS = new Set([
  'socketDir', 'chrootDir', 'metricsPort', 'enablePprof', 'connectionLimit', 'perNodeCertificate', 'multusConfigFile',
  'multusAutoconfigDir', 'multusMasterCNI', 'cniConfigDir', 'forceCNIVersion', 'overrideNetworkName', 'cniVersion', 'name', 'type',
]);
// Keys Multus copies from the daemon config into the generated 00-multus.conf.
/** How many distinct (cniDir, standalone) configs the status remembers; the oldest is forgotten first. */
const REMEMBERED_CONFS = 32;
const confKey = (cniDir: string, standalone: StandaloneConf | undefined) => JSON.stringify([cniDir, standalone ?? null]);
const GENERATED_CONF_KEYS = ['binDir', 'capabilities', 'logFile', 'logLevel', 'logToStderr', 'logOptions', 'namespaceIsolation', 'globalNamespaces', 'cniDir', 'auxiliaryCNIChainName', 'daemonSocketDir', 'overrideNetworkName'];

/** What the agent serves and installs, from --cni-conf or --multus-daemon-config. */
export interface ServedConf {
  socketDir: string;
  socketName: string;
  /** The conf's `type`: the shim is installed under this name. */
  type: string;
  /** Installed conf: file name in the conf dir and how to build it (undefined: none installed). */
  install?: { confDir: string; fileName: string; build(): Record<string, unknown> | undefined; watchDirs: string[]; readinessIndicatorFile?: string | undefined };
  overlay: Record<string, unknown>;
  warnings: string[];
  /** The conf requests will carry (before the overlay), for startup reconcile; undefined: not known until a request comes. */
  requestConf?: () => Record<string, unknown> | undefined;
}

function readJsonObject(path: string, what: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${what} ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (!isJsonObject(raw)) throw new Error(`${what} ${path}: expected a JSON object`);
  return raw;
}

const socketNameFor = (type: string) => (type === 'multus-shim' ? 'multus.sock' : 'nicplex.sock');
const socketKeyFor = (type: string) => (type === 'multus-shim' ? 'daemonSocketDir' : 'socketDir');

/** Resolves what to serve from the flags (pure apart from reading the named files). */
export function servedConf(args: AgentArgs): ServedConf {
  const warnings: string[] = [];
  const daemonPath = args['multus-daemon-config'];
  if (daemonPath) {
    const daemon = readJsonObject(daemonPath, '--multus-daemon-config');
    // The agent listens, and the shim (in the runtime's working directory) connects, on these paths: relative
    // ones would name different files for the two.
    const absolute = (key: string): string | undefined => {
      const value = daemon[key];
      if (value === undefined || value === null || value === '') return undefined;
      if (typeof value !== 'string' || !value.startsWith('/')) throw new Error(`--multus-daemon-config ${daemonPath}: "${key}" must be an absolute path, got ${JSON.stringify(value)}`);
      return value;
    };
    const socketDir = absolute('socketDir') ?? args['socket-dir'];
    const type = typeof daemon['type'] === 'string' && daemon['type'] !== '' ? daemon['type'] : 'multus-shim';
    const confDir = args['cni-conf-dir'] ?? absolute('cniConfigDir') ?? '/etc/cni/net.d';
    const mode = typeof daemon['multusConfigFile'] === 'string' && daemon['multusConfigFile'] !== '' && daemon['multusConfigFile'] !== 'auto' ? absolute('multusConfigFile')! : 'auto';
    const autoDir = absolute('multusAutoconfigDir') ?? confDir;
    const readiness = typeof daemon['readinessindicatorfile'] === 'string' && daemon['readinessindicatorfile'] !== '' ? daemon['readinessindicatorfile'] : undefined;
    if (daemon['chrootDir']) warnings.push(`${daemonPath}: chrootDir is not supported; delegates run from binDir in the agent's mount namespace`);
    const overlay = Object.fromEntries(Object.entries(daemon).filter(([key]) => !DAEMON_ONLY_KEYS.has(key) && !(mode === 'auto' && key === 'readinessindicatorfile')));
    const extra: Record<string, unknown> = {};
    for (const key of GENERATED_CONF_KEYS) if (daemon[key] !== undefined) extra[key] = daemon[key];
    // A nicplex conf always names its socket. A multus-shim conf names it only when the daemon config
    // sets daemonSocketDir, as Multus does: socketDir is the daemon's view (`/host/run/multus/` in
    // Multus's reference DaemonSet), and the shim on the host uses its default /run/multus/.
    if (type !== 'multus-shim') extra[socketKeyFor(type)] = socketDir;
    const cniVersion = typeof daemon['cniVersion'] === 'string' && daemon['cniVersion'] !== '' ? daemon['cniVersion'] : '1.0.0';
    const fileName = '00-multus.conf';
    const build = mode === 'auto'
      ? () => {
        const primary = findPrimaryConf(autoDir, { ownFile: fileName, masterFile: typeof daemon['multusMasterCNI'] === 'string' ? daemon['multusMasterCNI'] : undefined });
        if (!primary) return undefined;
        const name = daemon['overrideNetworkName'] === true && typeof primary.conf['name'] === 'string' ? primary.conf['name'] : undefined;
        return generateConf(primary, { type, cniVersion, extra, name });
      }
      : () => ({ ...readJsonObject(mode, 'multusConfigFile'), [socketKeyFor(type)]: socketDir });
    return {
      socketDir, socketName: socketNameFor(type), type, overlay, warnings, requestConf: build,
      install: { confDir, fileName, build, watchDirs: mode === 'auto' ? [autoDir] : [dirname(mode)], readinessIndicatorFile: readiness },
    };
  }
  const socketDir = args['socket-dir'];
  const confPath = args['cni-conf'];
  const confDir = args['cni-conf-dir'];
  if (confPath === 'auto') {
    if (!confDir) throw new Error('--cni-conf auto needs --cni-conf-dir (where the primary conf is and where 00-nicplex.conf goes)');
    const fileName = '00-nicplex.conf';
    const build = () => {
      const primary = findPrimaryConf(confDir, { ownFile: fileName });
      return primary ? generateConf(primary, { type: 'nicplex', cniVersion: '1.0.0', name: 'nicplex', extra: { socketDir } }) : undefined;
    };
    return {
      socketDir, socketName: 'nicplex.sock', type: 'nicplex', overlay: {}, warnings, requestConf: build,
      install: { confDir, fileName, watchDirs: [confDir], build },
    };
  }
  if (confPath) {
    const conf = readJsonObject(confPath, '--cni-conf');
    const type = typeof conf['type'] === 'string' && conf['type'] !== '' ? conf['type'] : 'nicplex';
    const served: ServedConf = { socketDir, socketName: socketNameFor(type), type, overlay: {}, warnings, requestConf: () => readJsonObject(confPath, '--cni-conf') };
    if (confDir) {
      served.install = {
        confDir, fileName: basename(confPath), watchDirs: [dirname(confPath)],
        build: () => ({ ...readJsonObject(confPath, '--cni-conf'), [socketKeyFor(type)]: socketDir }),
      };
    }
    return served;
  }
  return { socketDir, socketName: 'nicplex.sock', type: 'nicplex', overlay: {}, warnings };
}

export async function runAgent(args: AgentArgs): Promise<number> {
  const pino: PinoLogger = createPino({ level: args['log-level'], component: 'nicplex-agent' });
  const log = loggerFromPino(pino);
  // Kept for the whole run: a second SIGTERM (the kubelet's, after a preStop hook sent the first)
  // must not kill the drain that the first one started.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.on('SIGTERM', () => resolve('SIGTERM'));
    process.on('SIGINT', () => resolve('SIGINT'));
  });
  let reloadOnHup: () => void = () => undefined;
  process.on('SIGHUP', () => reloadOnHup());
  let agent: Agent;
  try {
    agent = await Agent.start(args, pino);
  } catch (error) {
    log.error(`cannot start: ${(error as Error).message}`);
    return 1;
  }
  reloadOnHup = () => void agent.devicePlugin?.reload('SIGHUP');
  const signal = await stopSignal;
  log.verbose(`${signal}: stopping`);
  await agent.stop();
  log.verbose('stopped');
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}

export class Agent {
  devicePlugin: RunningDevicePlugin | undefined;
  server: CniServer | undefined;
  installer: ConfInstaller | undefined;
  metrics!: AgentMetrics;
  private metricsServer: Server | undefined;
  private readonly kubernetesApis = new Map<string, Promise<ClusterApi>>();
  private readonly informers: Array<{ name: string; synced: boolean; size: number; stop(): void }> = [];
  /** The cniDir and standalone config of recent requests, for the status (insertion order = age). */
  private readonly seenConfs = new Map<string, { cniDir: string; standalone?: StandaloneConf | undefined; conf?: MultusNetConf }>([
    [confKey(MULTUS_DEFAULTS.cniDir, undefined), { cniDir: MULTUS_DEFAULTS.cniDir }],
  ]);
  private stopping = false;
  /** pod-resources calls: 20/s, burst 5 (the kubelet allows 100/s, burst 10, for everyone together). */
  private readonly podResourcesRate = new TokenBucket(20, 5);
  /** The built-in delegates, built once per (enabled types, state dir) and shared by every request. */
  private readonly builtins = new Map<string, InProcessDelegates>();

  private constructor(private readonly args: AgentArgs, private readonly pino: PinoLogger, readonly served: ServedConf) {}

  static async start(args: AgentArgs, pino: PinoLogger): Promise<Agent> {
    const agent = new Agent(args, pino, servedConf(args));
    try {
      await agent.begin();
    } catch (error) {
      // Whatever did start (device-plugin servers, the socket) must not keep the process alive.
      await agent.stop().catch(() => undefined);
      throw error;
    }
    return agent;
  }

  private get log() {
    return loggerFromPino(this.pino);
  }

  private async begin(): Promise<void> {
    const { args, served } = this;
    for (const warning of served.warnings) this.log.warn(warning);
    if (args.config) {
      // Loaded only with a device-plugin config: gRPC and discovery cost memory a CNI-only agent does not need.
      const [{ loggerFromPino: dpLoggerFromPino }, { logStartFailure, startDevicePlugin }] = await Promise.all([
        import('../deviceplugin/server/log.js'), import('../deviceplugin/server-command.js'),
      ]);
      try {
        this.devicePlugin = await startDevicePlugin({ ...args, config: args.config }, dpLoggerFromPino(this.pino.child({ subsystem: 'deviceplugin' })));
      } catch (error) {
        logStartFailure(error, dpLoggerFromPino(this.pino));
        throw new Error('the device plugin could not start', { cause: error });
      }
    }
    if (args.kubeconfig) void this.kubernetesApi(args.kubeconfig).catch((error: Error) => this.log.error(`Kubernetes API: ${error.message}`));
    this.metrics = new AgentMetrics({
      queued: () => this.server?.queue.queued ?? 0,
      inFlight: () => this.server?.queue.active ?? 0,
      pools: () => this.poolSizes(),
      informers: () => Object.fromEntries(this.informers.map((informer) => [informer.name, informer.synced])),
    });
    // Before the socket opens: no request of this agent can be in flight while the leftovers are released.
    await this.reconcile();
    const server = new CniServer({
      socketPath: join(served.socketDir, served.socketName),
      maxConcurrent: args['max-concurrent-requests'],
      log: this.log,
      handle: (call) => this.handle(call),
      delegate: (call) => this.handleHotplug(call),
      status: () => this.status(),
    });
    await server.start();
    this.server = server;
    this.log.verbose(`serving CNI requests on ${server.socketPath} (at most ${args['max-concurrent-requests']} at once)`);
    // The shim before the conf: a runtime that sees the conf must find its binary.
    if (args['cni-bin-dir']) {
      const shim = args.shim ?? DEFAULT_SHIM;
      if (!existsSync(shim)) throw new Error(`the shim ${shim} does not exist (run \`npm run build\`, or pass --shim)`);
      const installed = await installShim(shim, args['cni-bin-dir'], served.type);
      this.log.verbose(`installed the shim as ${installed}`);
    }
    if (served.install && (args['cni-conf-dir'] || args['multus-daemon-config'])) {
      this.installer = new ConfInstaller({ ...served.install, log: this.log });
      await this.installer.start();
    }
    if (args['metrics-address'] !== '') {
      this.metricsServer = await startMetricsServer(args['metrics-address'], this.metrics, { notReadyReason: () => this.notReadyReason() });
      this.log.verbose(`metrics on http://${args['metrics-address']}/metrics`);
    }
  }

  /**
   * Releases what a crash or a missing DEL left behind in the directories of the served conf (caches whose
   * netns is gone, delegate state and device claims without an owner, temp files of killed writes). Its
   * failures are logged and counted; they never keep the agent from serving.
   */
  private async reconcile(): Promise<void> {
    let raw: Record<string, unknown> | undefined;
    try {
      raw = this.served.requestConf?.();
    } catch (error) {
      this.log.warn(`reconcile skipped: cannot read the served conf: ${(error as Error).message}`);
      return;
    }
    if (!raw) {
      this.log.verbose('reconcile skipped: no conf to serve yet (its directories are not known)');
      return;
    }
    raw = { ...raw, ...this.served.overlay };
    try {
      const { startupReconcile } = await import('../cni/reconcile-command.js');
      const { parseMultusNetConf } = await import('../config/multus-config.js');
      const conf = parseMultusNetConf(raw, 'the served conf').conf;
      const call: CniCall = { env: { CNI_COMMAND: 'DEL' }, stdin: '' };
      const services = this.services(call, () => undefined);
      const outcome = await startupReconcile({
        raw, source: 'the served conf', log: loggerFromPino(this.pino.child({ subsystem: 'reconcile' })), binDirs: [this.args['cni-bin-dir']], services,
        executor: delegateExecutor([conf.binDir], conf.delegateTimeoutSeconds * 1000, this.builtinsFor(conf)),
        // Nothing is in flight: this agent has not served yet, and only the agent writes these directories
        // (an ADD killed between its device claim and its cache write left a claim that no one owns).
        policy: { orphanGraceMs: 0, claimGraceMs: 0 },
      });
      for (const [kind, count] of Object.entries(outcome.found)) if (count > 0) this.metrics.reconcileFound.inc({ kind }, count);
      for (const [kind, count] of Object.entries(outcome.released)) if (count > 0) this.metrics.reconcileReleased.inc({ kind }, count);
      if (outcome.failures.length > 0) this.metrics.errors.inc({ kind: 'reconcile' }, outcome.failures.length);
    } catch (error) {
      this.metrics.errors.inc({ kind: 'reconcile' });
      this.log.warn(`reconcile failed: ${(error as Error).message}`);
    }
  }

  private poolSizes(): PoolSize[] {
    const servers = this.devicePlugin?.manager.poolServers();
    if (!servers) return [];
    return [...servers.values()].map((server) => {
      const devices = server.devices();
      return {
        resource: server.resourceName, total: devices.length, healthy: devices.filter((device) => device.health === 'Healthy').length,
        allocated: server.allocatedCount(), registrations: server.registrations,
      };
    });
  }

  /** What `nicplex status` shows (GET /v1/status on the agent socket). */
  status(): Promise<AgentStatus> {
    return gatherStatus({
      socket: this.server?.socketPath ?? join(this.served.socketDir, this.served.socketName),
      notReadyReason: this.notReadyReason(),
      requests: { inFlight: this.server?.queue.active ?? 0, queued: this.server?.queue.queued ?? 0 },
      devicePlugin: this.devicePlugin ? { registration: this.devicePlugin.manager.registration, pools: this.poolSizes() } : undefined,
      informers: this.informers,
      confs: [...this.seenConfs.values()],
    });
  }

  private rememberConf(conf: MultusNetConf): void {
    const key = confKey(conf.cniDir, conf.standalone);
    this.seenConfs.delete(key);
    this.seenConfs.set(key, { cniDir: conf.cniDir, standalone: conf.standalone, conf });
    while (this.seenConfs.size > REMEMBERED_CONFS) this.seenConfs.delete(this.seenConfs.keys().next().value!);
  }

  /** undefined when ready; else the reason (stopping, pools not registered, conf not installed). */
  notReadyReason(): string | undefined {
    if (this.stopping) return 'stopping';
    if (this.args.kubeconfig && this.informers.length === 0) return 'the Kubernetes API client is not open yet';
    for (const informer of this.informers) if (!informer.synced) return `the ${informer.name} cache has not synced with the API server`;
    for (const pool of this.poolSizes()) if (pool.registrations === 0) return `pool ${pool.resource} is not registered with the kubelet yet`;
    if (this.installer && !this.installer.installed) return `the CNI conf ${this.installer.path} is not installed (no primary CNI conf yet?)`;
    return undefined;
  }

  /** One client and one pair of informers per kubeconfig, built on first use (at start for --kubeconfig). */
  kubernetesApi(kubeconfig: string): Promise<ClusterApi> {
    let api = this.kubernetesApis.get(kubeconfig);
    if (!api) {
      api = (async () => {
        const [{ createKubernetesApi, nadInfoFrom, podInfoFrom }, { openKubeClient }, { Informer }] = await Promise.all([
          import('../cni/k8s-api.js'), import('../cni/kube-client.js'), import('../cni/informer.js'),
        ]);
        const client = await openKubeClient(kubeconfig);
        type Meta = { metadata?: { namespace?: string; name?: string } };
        const ids = (object: Meta) => [object.metadata?.namespace ?? '', object.metadata?.name ?? ''] as const;
        const nodeName = this.args['node-name'];
        const pods = nodeName
          ? new Informer(client, 'pods', '/api/v1/pods', `spec.nodeName=${nodeName}`, (object) => podInfoFrom(object as Parameters<typeof podInfoFrom>[0], ...ids(object as Meta)), this.log)
          : undefined;
        if (!pods) this.log.warn('no --node-name (or NODE_NAME): pods are read from the API server per request instead of a cache of this node\'s pods');
        const nads = new Informer(client, 'nads', '/apis/k8s.cni.cncf.io/v1/network-attachment-definitions', undefined, (object) => nadInfoFrom(object as Parameters<typeof nadInfoFrom>[0], ...ids(object as Meta)), this.log);
        for (const informer of [pods, nads]) {
          if (!informer) continue;
          this.informers.push(informer);
          informer.start();
        }
        return createKubernetesApi(kubeconfig, {
          client,
          podLookupTimeoutMs: 2500,
          log: this.log,
          cache: {
            async pod(namespace, name, wait) {
              if (!pods?.synced) return undefined;
              if (!pods.get(namespace, name) && wait) await pods.waitFor(namespace, name, 1000);
              return pods.get(namespace, name) ?? null;
            },
            nad: (namespace, name) => (nads.synced ? nads.get(namespace, name) ?? null : undefined),
          },
        });
      })();
      api.catch(() => this.kubernetesApis.delete(kubeconfig));
      this.kubernetesApis.set(kubeconfig, api);
    }
    return api;
  }

  private builtinsFor(conf: MultusNetConf): InProcessDelegates {
    const key = JSON.stringify([conf.builtinDelegates, conf.delegateStateDir]);
    let delegates = this.builtins.get(key);
    if (!delegates) {
      delegates = builtinDelegatesFor(conf, loggerFromPino(this.pino.child({ subsystem: 'delegates' })));
      this.builtins.set(key, delegates);
    }
    return delegates;
  }

  private services(call: CniCall, onDelegate: (delegate: DelegateCall) => void): CniServices {
    const overlay = { ...this.served.overlay };
    if (this.args.kubeconfig && overlay['kubeconfig'] === undefined) overlay['kubeconfig'] = this.args.kubeconfig;
    const selfTypes = new Set([...META_PLUGIN_TYPES, this.served.type]);
    return {
      log: loggerFromPino(this.pino.child({ subsystem: 'cni', command: call.env['CNI_COMMAND'], containerId: call.env['CNI_CONTAINERID'] })),
      executor: (searchPath, timeoutMs, conf) => new GuardedExecutor(delegateExecutor(searchPath, timeoutMs, this.builtinsFor(conf)), selfTypes, onDelegate),
      kubernetesApi: (conf: MultusNetConf) => this.kubernetesApi(conf.kubeconfig!),
      discoveredPools: () => this.devicePlugin?.pools() ?? {},
      beforePodResources: () => this.podResourcesRate.take(),
      confOverlay: overlay,
      onConf: (conf) => this.rememberConf(conf),
    };
  }

  private observeDelegate(delegate: DelegateCall): void {
    this.metrics.delegateDuration.observe({ delegate: delegate.type, command: delegate.command, result: delegate.ok ? 'success' : 'error' }, delegate.seconds);
    if (!delegate.ok) this.metrics.errors.inc({ kind: `delegate_${errorKind(delegate.code)}` });
  }

  private handle(call: CniCall): Promise<CniRunOutcome> {
    const command = call.env['CNI_COMMAND'] ?? '';
    return this.measured(command, async () => {
      const notReady = command === 'STATUS' ? this.notReadyReason() : undefined;
      if (notReady) return { exitCode: 1, stdout: `${JSON.stringify({ cniVersion: '1.1.0', code: 50, msg: `the nicplex agent is not ready: ${notReady}` })}\n` };
      return runCni({ env: call.env, stdin: call.stdin, services: this.services(call, (delegate) => this.observeDelegate(delegate)) });
    });
  }

  /**
   * POST /delegate (hot-plug): run with the conf that attached the container (a conf a request brought whose
   * cniDir holds its cache), else the served conf, else the newest conf a request brought.
   */
  private handleHotplug(call: HotplugCall): Promise<CniRunOutcome> {
    return this.measured(`DELEGATE_${call.env['CNI_COMMAND'] ?? ''}`, async () => {
      let conf: MultusNetConf;
      try {
        conf = this.hotplugConf(call.env['CNI_CONTAINERID'] ?? '');
      } catch (error) {
        const message = error instanceof MultusConfigError ? `the served conf: ${error.message}` : (error as Error).message;
        return { exitCode: 1, stdout: `${JSON.stringify(new CniError(CniCode.invalidConfig, message).toJSON('1.1.0'))}\n` };
      }
      const services = this.services({ env: call.env, stdin: '' }, (delegate) => this.observeDelegate(delegate));
      return runHotplug(call, conf, { log: services.log!, executor: services.executor!, kubernetesApi: services.kubernetesApi });
    });
  }

  private hotplugConf(containerId: string): MultusNetConf {
    const seen = [...this.seenConfs.values()].reverse().flatMap((entry) => (entry.conf ? [entry.conf] : []));
    const holding = seen.find((conf) => {
      try {
        return existsSync(cachePath(conf.cniDir, containerId));
      } catch {
        return false;
      }
    });
    if (holding) return holding;
    const raw = this.served.requestConf?.();
    if (raw) {
      const overlay = { ...this.served.overlay };
      if (this.args.kubeconfig && overlay['kubeconfig'] === undefined) overlay['kubeconfig'] = this.args.kubeconfig;
      return parseMultusNetConf({ ...raw, ...overlay }, 'the served conf').conf;
    }
    if (seen[0]) return seen[0];
    throw new Error('the agent knows no nicplex conf yet (no --cni-conf or --multus-daemon-config, and no CNI request served since it started): /delegate needs the conf\'s cniDir and binDir');
  }

  private async measured(command: string, run: () => Promise<CniRunOutcome>): Promise<CniRunOutcome> {
    const started = process.hrtime.bigint();
    const outcome = await run();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const ok = outcome.exitCode === 0;
    this.metrics.requestDuration.observe({ command, result: ok ? 'success' : 'error' }, seconds);
    if (!ok) {
      let code: number | undefined;
      try { code = (JSON.parse(outcome.stdout) as { code?: number }).code; } catch { code = undefined; }
      this.metrics.errors.inc({ kind: errorKind(code) });
    }
    return outcome;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    // No new connections; requests in flight finish (bounded by their delegates' own timeouts).
    const closing = this.server?.close() ?? Promise.resolve();
    await this.installer?.stop({ removeConf: this.args['cleanup-config-on-exit'] });
    await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    for (const informer of this.informers) informer.stop();
    await this.devicePlugin?.stop();
    await flushCacheWrites();
    await new Promise<void>((resolve) => (this.metricsServer ? this.metricsServer.close(() => resolve()) : resolve()));
  }
}
