// What startup reconcile needs besides the plan: the conf whose directories it reads, the DEL a
// runtime would send for a stale cache entry (the same runCni path, with the cached config), and the
// `nicplex reconcile` command, the thin-mode variant (no agent runs at boot in thin mode; run it once
// from a boot unit, or let the runtime's CNI GC do the same work with its valid attachments).
import { readFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { isJsonObject } from '../config/cni-json.js';
import { MultusConfigError, parseMultusNetConf, type MultusNetConf } from '../config/multus-config.js';
import { builtinDelegatesFor, delegateExecutor, runCni, type CniServices } from './entry.js';
import { CniCode, CniError } from './errors.js';
import type { PluginExecutor } from './exec.js';
import type { Logger } from './log.js';
import { DEFAULT_POLICY, netnsLive, reconcileOnce, summarize, type ReconcileAction, type ReconcileEffects, type ReconcileOutcome } from './reconcile.js';

/** The directories a plugin may be found in during reconcile (no runtime passes CNI_PATH then). */
export function reconcileSearchPath(conf: MultusNetConf, extra: readonly (string | undefined)[]): string[] {
  return [...new Set([conf.binDir, ...extra.filter((dir): dir is string => !!dir), '/opt/cni/bin'])];
}

/** Parses a meta-CNI conf for reconcile; the error names the source. */
export function reconcileConf(raw: Record<string, unknown>, source: string): MultusNetConf {
  try {
    return parseMultusNetConf(raw, source).conf;
  } catch (error) {
    if (error instanceof MultusConfigError) throw new CniError(CniCode.invalidConfig, error.message);
    throw error;
  }
}

/** A stale cache entry released the way a runtime's DEL would: runCni with the conf and the cached netns/ifname. */
export function cachedDel(raw: Record<string, unknown>, searchPath: readonly string[], services: CniServices) {
  return async (action: Extract<ReconcileAction, { kind: 'staleAttachment' }>): Promise<void> => {
    const pod = action.pod ? `;K8S_POD_NAMESPACE=${action.pod.namespace};K8S_POD_NAME=${action.pod.name}${action.pod.uid ? `;K8S_POD_UID=${action.pod.uid}` : ''}` : '';
    const outcome = await runCni({
      env: { CNI_COMMAND: 'DEL', CNI_CONTAINERID: action.containerId, CNI_NETNS: action.netns, CNI_IFNAME: action.ifname || 'eth0', CNI_ARGS: `IgnoreUnknown=1${pod}`, CNI_PATH: searchPath.join(':') },
      stdin: JSON.stringify(raw),
      services,
    });
    if (outcome.exitCode !== 0) {
      let message = outcome.stdout.trim();
      try { message = String((JSON.parse(outcome.stdout) as { msg?: unknown }).msg ?? message); } catch { /* not JSON */ }
      throw new Error(`DEL failed: ${message}`);
    }
  };
}

export interface StartupReconcileOptions {
  raw: Record<string, unknown>;
  source: string;
  log: Logger;
  /** Extra plugin directories (the agent's --cni-bin-dir). */
  binDirs?: readonly (string | undefined)[];
  /** The agent's services (its long-lived built-ins); thin mode builds its own. */
  services?: CniServices;
  executor?: PluginExecutor;
  dryRun?: boolean;
  /** Override the age bounds (tests, and `nicplex reconcile --min-age-seconds`). */
  policy?: Partial<typeof DEFAULT_POLICY>;
}

/** Reconcile of one conf: cache entries whose netns is gone, orphaned delegate state and claims, stale temp files. */
export async function startupReconcile(options: StartupReconcileOptions): Promise<ReconcileOutcome> {
  const conf = reconcileConf(options.raw, options.source);
  const searchPath = reconcileSearchPath(conf, options.binDirs ?? []);
  const services = options.services ?? { log: options.log };
  const effects: ReconcileEffects = {
    log: options.log,
    executor: options.executor ?? delegateExecutor(searchPath, conf.delegateTimeoutSeconds * 1000, builtinDelegatesFor(conf, options.log)),
    delCached: cachedDel(options.raw, searchPath, services),
  };
  const outcome = await reconcileOnce(conf, effects, { policy: { ...DEFAULT_POLICY, ...options.policy, live: netnsLive }, dryRun: options.dryRun });
  options.log[outcome.failures.length > 0 ? 'warn' : 'verbose'](`${options.dryRun ? '(dry run) ' : ''}${summarize(outcome)}`);
  return outcome;
}

interface ReconcileArgs { 'cni-conf': string; 'dry-run': boolean; 'cni-bin-dir'?: string | undefined; 'min-age-seconds'?: number | undefined }

export const reconcileCommand: CommandModule<object, ReconcileArgs> = {
  command: 'reconcile',
  describe: 'Thin mode: release what containers that died without a DEL left behind (caches whose netns is gone, delegate state, device claims, temp files), once',
  builder: (y) => y
    .option('cni-conf', { type: 'string', demandOption: true, describe: 'the meta-CNI conf the runtime uses (its cniDir, delegateStateDir, standalone.allocationDir)' })
    .option('cni-bin-dir', { type: 'string', describe: 'where IPAM and other plugins are, besides the conf\'s binDir' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'report what would be released, change nothing' })
    .option('min-age-seconds', { type: 'number', describe: `reclaim device claims without a cache entry only when this old (default ${DEFAULT_POLICY.orphanGraceMs / 1000}: an ADD may be between its claim and its cache write)` }) as never,
  handler: async (args) => {
    const { createPino } = await import('../config/logger.js');
    const { loggerFromPino } = await import('./log.js');
    const log = loggerFromPino(createPino({ level: 'info', component: 'nicplex-reconcile' }));
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(args['cni-conf'], 'utf8'));
    } catch (error) {
      throw new Error(`--cni-conf ${args['cni-conf']}: ${(error as Error).message}`, { cause: error });
    }
    if (!isJsonObject(raw)) throw new Error(`--cni-conf ${args['cni-conf']}: expected a JSON object`);
    const outcome = await startupReconcile({
      raw, source: `--cni-conf ${args['cni-conf']}`, log, binDirs: [args['cni-bin-dir']], dryRun: args['dry-run'],
      ...(args['min-age-seconds'] !== undefined ? { policy: { orphanGraceMs: args['min-age-seconds'] * 1000 } } : {}),
    });
    process.stdout.write(`${JSON.stringify({ found: outcome.found, released: outcome.released, failures: outcome.failures })}\n`);
    process.exitCode = outcome.failures.length > 0 ? 1 : 0;
  },
};
