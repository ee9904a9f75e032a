// Loads the C++ addon (build/Release/nicplex_native.node) lazily and describes its raw interface.
// Only the native/ facade modules use this; everything else imports native/index.js.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeError } from './errors.js';

/** A link named or addressed by ifindex, resolved in the namespace the batch runs in. */
export type RawLinkRef = string | number;

/** One netlink/ioctl/sysctl step; a batch of them runs on one dedicated thread, in one namespace. */
export type RawOp =
  | { op: 'listLinks'; withVfs?: boolean }
  | { op: 'getLink'; link: RawLinkRef }
  | { op: 'setLink'; link: RawLinkRef; up?: boolean; newName?: string; mac?: string; mtu?: number; alias?: string; master?: RawLinkRef; targetNetns?: string; targetNetnsFd?: number }
  | { op: 'deleteLink'; link: RawLinkRef }
  | {
      op: 'newLink'; name: string; kind: 'veth' | 'macvlan' | 'ipvlan' | 'vlan' | 'bridge' | 'dummy';
      parent?: RawLinkRef; mtu?: number; mac?: string; targetNetns?: string;
      macvlanMode?: number; ipvlanMode?: number; ipvlanFlags?: number; vlanId?: number; vlanProtocol?: number;
      peerName?: string; peerNetns?: string;
    }
  | {
      op: 'setVf'; link: RawLinkRef; vf: number; mac?: string; vlan?: number; qos?: number; vlanProtocol?: number;
      spoofchk?: boolean; trust?: boolean; linkState?: number; minTxRate?: number; maxTxRate?: number;
    }
  | { op: 'addAddress' | 'deleteAddress'; link: RawLinkRef; address: string; prefixLength: number }
  | { op: 'listAddresses'; link?: RawLinkRef }
  | {
      op: 'addRoute' | 'deleteRoute'; family: 4 | 6; dst?: string; dstLength: number; gw?: string; dev?: RawLinkRef;
      table?: number; priority?: number; scope?: number; mtu?: number; advmss?: number;
    }
  | { op: 'listRoutes'; family?: 4 | 6; table?: number }
  | { op: 'ethtoolDriverInfo'; ifname: string }
  | { op: 'readSysctl'; key: string }
  | { op: 'writeSysctl'; key: string; value: string }
  | { op: 'rawDump'; what: 'links' | 'addresses' | 'routes' }
  | { op: 'announce'; link: RawLinkRef; addresses: string[] };

export interface RawVfInfo {
  vf: number; mac: string; vlan: number; qos: number; vlanProtocol: number;
  spoofchk: number; trust: number; linkState: number; minTxRate: number; maxTxRate: number;
}

export interface RawLinkInfo {
  index: number; name: string; flags: number; operState: number; mtu: number; mac: string | null;
  kind: string | null; ipvlanMode?: number | null; alias: string | null; parentIndex: number | null; masterIndex: number | null;
  numVfs: number; vfs: RawVfInfo[]; parentDevName: string | null; linkNetnsId: number | null;
}

export interface RawAddress { index: number; family: 4 | 6; prefixLength: number; address: string; scope: number }

export interface RawRoute {
  family: 4 | 6; dst: string | null; dstLength: number; gw: string | null; oif: number | null; table: number;
  priority: number | null; scope: number; protocol: number; type: number; mtu: number | null; advmss: number | null;
}

export interface RawFailure { code: number; message: string; opIndex: number }

export type RawBatchOutcome = { ok: true; results: unknown[] } | { ok: false; error: RawFailure };

/** A host-batch step: an op, the namespace it runs in (absent = the agent's), its undo ops, best effort. */
export type RawHostStep = RawOp & { netns?: string; bestEffort?: boolean; undo?: Array<RawOp & { netns?: string }> };

/** A best-effort step that failed, in place of its result. */
export interface RawStepError { error: { code: number; message: string } }

export type RawHostBatchOutcome =
  | { ok: true; results: unknown[] }
  | { ok: false; error: RawFailure; undoErrors: RawFailure[] };

export interface RawMonitorEvent { type: 'new' | 'del'; link: RawLinkInfo }

export interface RawMonitor { close(): void }

export interface NativeBinding {
  abiVersion(): number;
  /** Runs the ops on a fresh native thread (entering `netns` first when given) and settles when done. */
  runBatch(ops: RawOp[], netns: string | undefined): Promise<RawBatchOutcome>;
  /**
   * Runs host steps on one fresh native thread, entering each step's namespace in turn; on a failure the
   * undo ops of the steps that succeeded run in reverse order (failures listed in undoErrors).
   */
  runHostBatch(steps: RawHostStep[]): Promise<RawHostBatchOutcome>;
  /** Link events from a socket bound to RTMGRP_LINK in `netns`, read on a dedicated native thread. */
  monitorLinks(netns: string | undefined, onEvent: (event: RawMonitorEvent | { type: 'error'; code: number; message: string }) => void): RawMonitor;
  /** netns inode of the calling (main) thread and of `count` libuv pool threads, each measured on that thread. */
  poolThreadNetns(count: number): Promise<{ main: number; pool: { tid: number; inode: number }[] }>;
  /** The parser's own decoding of raw netlink bytes; used by the fuzz corpus and parser tests. */
  /** Process-wide counters: dumps restarted after NLM_F_DUMP_INTR. */
  stats(): { dumpRestarts: number };
  decodeMessages(bytes: Uint8Array): { links: RawLinkInfo[]; addresses: RawAddress[]; routes: RawRoute[]; errors: number[] };
  /**
   * Directories read synchronously, each in one pass (see native/src/sysfs_dir.h): null for one that
   * cannot be listed, else its sorted entries, the trimmed text (≤ 4096 bytes, latin1) of each of
   * `files` that is an entry, the target of each of `links` that is an entry, [name, target, ...] of
   * every entry starting with `linkPrefix` that is a readable symlink, and `subdir` listed with each
   * of `subdirFiles` read inside each of its entries (entry-major; null when absent). With
   * `keepEntries`, `entries` holds only the names listed or starting with a prefix; `entryCount`
   * counts them all. Large batches are read on a few threads.
   */
  readSysfsDirs(dirs: readonly string[], files: readonly string[], links: readonly string[], linkPrefix: string, subdir: string, subdirFiles: readonly string[], keepEntries?: { names: readonly string[]; prefixes: readonly string[] }): Array<RawDirSnapshot | null>;
  /**
   * posix_spawn (no fork) of `binary` with only `env` ("K=V"), argv [binary], in a new session with
   * default signal dispositions; returns its pid and the parent's ends of its stdin/stdout/stderr pipes.
   * Started on a libuv pool thread; rejects with an Error whose `errno` is the negative errno number.
   */
  spawnProcess?(binary: string, env: readonly string[]): Promise<{ pid: number; stdin: number; stdout: number; stderr: number }>;
  /** waitpid(pid) on a libuv pool thread (reaping can block for tens of ms): its exit code or terminating signal number. */
  waitProcess?(pid: number): Promise<{ code: number | null; signal: number | null }>;
}

export interface RawDirSnapshot {
  entries: string[]; entryCount: number; texts: Array<string | null>; links: Array<string | null>; prefixed: string[];
  subdir: { entries: string[]; texts: Array<string | null> } | null;
}

let binding: NativeBinding | undefined;

export function nativeBinding(): NativeBinding {
  if (binding) return binding;
  const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  // NICPLEX_NATIVE_ADDON points at another build of the same addon (e.g. one built with AddressSanitizer).
  const path = process.env['NICPLEX_NATIVE_ADDON'] || join(repoRoot, 'build', 'Release', 'nicplex_native.node');
  try {
    binding = createRequire(import.meta.url)(path) as NativeBinding;
  } catch (cause) {
    const err = new NativeError({ code: 38 /* ENOSYS */, operation: 'load native addon', detail: `${path}: ${(cause as Error).message} — run \`npx node-gyp rebuild\`` });
    throw err;
  }
  return binding;
}
