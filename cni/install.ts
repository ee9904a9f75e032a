// Installing the agent's CNI entry on the node: the shim binary in the CNI bin dir and the meta-CNI
// conf in the CNI conf dir, each replaced atomically (temp file + rename: a runtime exec'ing the shim
// or reading the conf at that moment sees the old or the new file, never a torn one or "text file busy").
// The conf is either the operator's file (socket location filled in) or generated from the node's
// primary CNI conf the way Multus does with `multusConfigFile: auto`, and regenerated when that changes.
import { existsSync, readdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../config/atomic-file.js';
import { isJsonObject } from '../config/cni-json.js';
import type { Logger } from './log.js';
import { compareVersions } from './version.js';

/** Plugin types that are this meta-CNI (or Multus); a conf of theirs is never the primary network. */
export const META_PLUGIN_TYPES = new Set(['nicplex', 'multus', 'multus-shim']);

/** Copies the shim to `<binDir>/<name>` through a temp file and rename. */
export async function installShim(shimPath: string, binDir: string, name: string): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`CNI plugin type "${name}" is not a plain binary name; cannot install the shim under it`);
  const target = join(binDir, name);
  let binary: Buffer;
  try {
    binary = readFileSync(shimPath);
  } catch (error) {
    throw new Error(`cannot read the shim ${shimPath} (built by \`npm run build\`): ${(error as Error).message}`, { cause: error });
  }
  const current = await readFile(target).catch(() => null);
  if (current && current.equals(binary)) return target;
  await writeFileAtomic(target, binary, { mode: 0o755, createDir: true });
  return target;
}

function pluginTypes(conf: Record<string, unknown>): string[] {
  if (Array.isArray(conf['plugins'])) return (conf['plugins'] as unknown[]).map((plugin) => String((plugin as Record<string, unknown>)?.['type'] ?? ''));
  return [String(conf['type'] ?? '')];
}

/**
 * The primary conf as Multus picks it: `masterFile` if given, else the first `*.conf`/`*.conflist` by
 * name that is not ours (`00-multus*`, `ownFile`) and not a meta-plugin's.
 */
export function findPrimaryConf(dir: string, options: { ownFile: string; masterFile?: string | undefined }): { path: string; conf: Record<string, unknown> } | undefined {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return undefined;
  }
  if (options.masterFile) names = names.filter((name) => name === options.masterFile);
  for (const name of names) {
    if (!/\.(conf|conflist)$/.test(name) || name.startsWith('00-multus') || name === options.ownFile) continue;
    const path = join(dir, name);
    let conf: unknown;
    try {
      conf = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      continue;
    }
    if (!isJsonObject(conf) || pluginTypes(conf).some((type) => META_PLUGIN_TYPES.has(type))) continue;
    return { path, conf };
  }
  return undefined;
}

export interface GeneratedConfOptions {
  type: string;
  cniVersion: string;
  /** Keys copied verbatim (Multus copies binDir, logLevel, cniDir, namespaceIsolation, …). */
  extra: Record<string, unknown>;
  name?: string | undefined;
}

/** The meta-CNI conf for a primary conf: clusterNetwork names its file, capabilities are the union of its. */
export function generateConf(primary: { path: string; conf: Record<string, unknown> }, options: GeneratedConfOptions): Record<string, unknown> {
  const primaryVersion = typeof primary.conf['cniVersion'] === 'string' ? primary.conf['cniVersion'] : '';
  if (compareVersions(options.cniVersion, '0.4.0') >= 0 && primaryVersion && compareVersions(primaryVersion, '0.4.0') < 0) {
    throw new Error(`delegate cni version is ${primaryVersion} while top level cni version is ${options.cniVersion} (primary conf ${primary.path})`);
  }
  const capabilities: Record<string, boolean> = {};
  const plugins = Array.isArray(primary.conf['plugins']) ? (primary.conf['plugins'] as unknown[]) : [primary.conf];
  for (const plugin of plugins) {
    const caps = (plugin as Record<string, unknown>)?.['capabilities'];
    if (!isJsonObject(caps)) continue;
    for (const [name, enabled] of Object.entries(caps)) if (enabled === true) capabilities[name] = true;
  }
  return {
    cniVersion: options.cniVersion,
    name: options.name ?? 'multus-cni-network',
    type: options.type,
    capabilities,
    clusterNetwork: primary.path,
    ...options.extra,
  };
}

export interface ConfInstallerOptions {
  confDir: string;
  fileName: string;
  log: Logger;
  /** Builds the conf to write; undefined = nothing can be written yet (no primary conf). Throws on a bad conf. */
  build(): Record<string, unknown> | undefined;
  /** Directories whose changes trigger a rebuild (the primary conf's dir). */
  watchDirs: string[];
  /** While this file is missing the conf is removed (Multus's readinessindicatorfile). */
  readinessIndicatorFile?: string | undefined;
}

/** Writes the conf, keeps it in step with its sources, removes it on request. */
export class ConfInstaller {
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;
  private written: string | null = null;
  private stopped = false;
  /** Completed syncs; tests wait on it. */
  syncs = 0;

  constructor(private readonly options: ConfInstallerOptions) {}

  get path(): string {
    return join(this.options.confDir, this.options.fileName);
  }

  /** Whether the conf is on disk as last written. */
  get installed(): boolean {
    return this.written !== null;
  }

  async start(): Promise<void> {
    await this.sync();
    const dirs = new Set(this.options.watchDirs);
    if (this.options.readinessIndicatorFile) dirs.add(dirname(this.options.readinessIndicatorFile));
    for (const dir of dirs) {
      if (!existsSync(dir)) continue;
      const watcher = watch(dir, (_event, changed) => {
        // Our own writes (the conf and its temp file) must not retrigger a sync.
        const name = changed === null ? '' : String(changed);
        if (name === this.options.fileName || name.startsWith(`.${this.options.fileName}.`)) return;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.sync(), 100);
      });
      watcher.on('error', (error) => this.options.log.error(`watching ${dir} failed: ${error.message}`));
      this.watchers.push(watcher);
    }
  }

  async sync(): Promise<void> {
    if (this.stopped) return;
    try {
      const indicator = this.options.readinessIndicatorFile;
      const conf = indicator && !existsSync(indicator) ? undefined : this.options.build();
      if (!conf) {
        if (this.written !== null) {
          this.options.log.warn(`${indicator && !existsSync(indicator) ? `readiness indicator ${indicator} is gone` : 'no primary CNI conf'}; removing ${this.path}`);
          await unlink(this.path).catch(() => undefined);
          this.written = null;
        }
        return;
      }
      const text = `${JSON.stringify(conf, null, 2)}\n`;
      const onDisk = await readFile(this.path, 'utf8').catch(() => null);
      if (onDisk !== text) {
        await writeFileAtomic(this.path, text, { mode: 0o600, createDir: true });
        this.options.log.verbose(`wrote ${this.path}`);
      }
      this.written = text;
    } catch (error) {
      this.options.log.error(`cannot install the CNI conf ${this.path}: ${(error as Error).message}`);
    } finally {
      this.syncs++;
    }
  }

  async stop(options: { removeConf: boolean }): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const watcher of this.watchers) watcher.close();
    if (options.removeConf && this.written !== null) await unlink(this.path).catch(() => undefined);
  }
}
