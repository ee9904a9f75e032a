// Files other processes read while we may crash mid-write (device-info files, checkpoints, caches)
// must never be seen half-written: write a temp file in the same directory, fsync, rename over.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomHex } from './random-hex.js';

/** Longest file name Linux filesystems take (NAME_MAX), in bytes. */
const NAME_MAX = 255;

/**
 * `.<name>.<pid>.<random>.tmp` next to the target. A target name near NAME_MAX (a 255-character container
 * ID is valid) is shortened in the temp name, which would otherwise fail with ENAMETOOLONG.
 */
function tempPathFor(path: string): string {
  const suffix = `.${process.pid}.${randomHex(4)}.tmp`;
  let name = basename(path);
  while (name.length > 0 && Buffer.byteLength(`.${name}${suffix}`) > NAME_MAX) name = name.slice(0, -1);
  return join(dirname(path), `.${name}${suffix}`);
}

/** The temp files `tempPathFor` names: `.<name>.<writer pid>.<8 hex>.tmp` (a kill mid-write leaves one). */
export const TEMP_FILE_PATTERN = /^\.(.+)\.(\d+)\.([0-9a-f]{8})\.tmp$/;

/** The target name and writer pid of a temp file name, or undefined when `name` is not one. */
export function parseTempFileName(name: string): { target: string; pid: number } | undefined {
  const match = TEMP_FILE_PATTERN.exec(name);
  return match ? { target: match[1]!, pid: Number(match[2]) } : undefined;
}

/**
 * Creates `path` holding `data` only if it does not exist yet, atomically: the file appears with its
 * content or not at all (a temp file is written and fsynced, then hard-linked to `path`; link() fails
 * with EEXIST when someone else holds the name). Resolves true when this call created it, false when
 * `path` already existed. A kill between the write and the link leaves only a temp file.
 */
export async function createFileExclusive(path: string, data: string | Buffer, options: { mode?: number } = {}): Promise<boolean> {
  const temp = tempPathFor(path);
  const handle = await open(temp, 'wx', options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    await link(temp, path);
    return true;
  } catch (error) {
    await handle.close().catch(() => undefined);
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** Atomically replaces `path` with `data`. Creates the parent directory when `createDir` is set. */
export async function writeFileAtomic(path: string, data: string | Buffer, options: { mode?: number; createDir?: boolean } = {}): Promise<void> {
  if (options.createDir) await mkdir(dirname(path), { recursive: true });
  const temp = tempPathFor(path);
  const handle = await open(temp, 'w', options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/**
 * Like `writeFileAtomic`, but the fsync runs after the rename: this resolves once `path` holds the new
 * content (readers and a crash of this process see it whole), and `synced` settles when it is on disk.
 * For a file whose previous version, already on disk, is enough to recover from a power loss before
 * `synced` (the caller decides that); it saves the caller one disk flush of waiting.
 */
export async function writeFileAtomicSyncAfter(path: string, data: string | Buffer, options: { mode?: number } = {}): Promise<{ synced: Promise<void> }> {
  const temp = tempPathFor(path);
  const handle = await open(temp, 'w', options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    await rename(temp, path);
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  const synced = handle.sync().finally(() => handle.close());
  return { synced };
}

/** Synchronous twin of `writeFileAtomic` for shutdown paths and tight loops. */
export function writeFileAtomicSync(path: string, data: string | Buffer, options: { mode?: number } = {}): void {
  const temp = tempPathFor(path);
  const fd = openSync(temp, 'w', options.mode ?? 0o644);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    try { unlinkSync(temp); } catch { /* already gone */ }
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temp, path);
  } catch (error) {
    try { unlinkSync(temp); } catch { /* already gone */ }
    throw error;
  }
}
