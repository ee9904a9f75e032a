// Tiny, exception-free sysfs primitives. Discovery reads thousands of tiny files, and a thrown
// ENOENT costs far more than the read itself, so every helper returns null instead of throwing.
import { closeSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { nativeBinding, type NativeBinding } from './addon.js';

// sysfs attribute files are at most one page; one shared buffer avoids an allocation per read.
const pageBuffer = Buffer.allocUnsafe(4096);

/** Contents of a small text file, trimmed, or null when it cannot be read. */
export function readSmallText(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const length = readSync(fd, pageBuffer, 0, pageBuffer.length, 0);
    return pageBuffer.toString('latin1', 0, length).trim();
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Directory entry names, or null when the directory is missing or unreadable. */
export function listDir(path: string): string[] | null {
  try {
    return readdirSync(path);
  } catch {
    return null;
  }
}

/** Basename of a symlink's target, or null when it is not a readable symlink. */
export function readLinkBase(path: string): string | null {
  try {
    return basename(readlinkSync(path));
  } catch {
    return null;
  }
}

/** Raw symlink target, or null. */
export function readLink(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

/** Integer from a decimal or `0x` hex sysfs file, or null when missing or not a number. */
export function readInteger(path: string): number | null {
  return parseInteger(readSmallText(path));
}

/** Integer from the trimmed text of a decimal or `0x` hex sysfs file, or null when absent or not a number. */
export function parseInteger(text: string | null): number | null {
  if (text === null || text === '') return null;
  const value = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text.slice(2), 16) : /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
  return Number.isSafeInteger(value) ? value : null;
}

/** What readDirSnapshots reads besides the entries; names are entries of the directory, never paths. */
export interface DirSnapshotRequest {
  /** Small files whose trimmed text is wanted. */
  files: readonly string[];
  /** Symlinks whose target is wanted. */
  links: readonly string[];
  /** Every entry starting with this (non-empty) prefix is read as a symlink. */
  linkPrefix?: string;
  /** A subdirectory to list, and the files to read inside each of its entries. */
  subdir?: { name: string; files: readonly string[] };
  /**
   * Only these entries are returned in `entries` (exact names, or names starting with one of the
   * prefixes); the rest are still counted in `entryCount`. Saves a string per entry nobody reads.
   */
  keepEntries?: { names: readonly string[]; prefixes: readonly string[] };
}

/** A directory and the items of it that were asked for (see readDirSnapshots). */
export interface DirSnapshot {
  /** Entry names, sorted as fs.readdirSync sorts them (only the kept ones when the request filters). */
  entries: string[];
  /** How many entries the directory has, kept or not. */
  entryCount: number;
  /** Trimmed text of each requested file, in request order; null when it is not an entry or unreadable. */
  texts: Array<string | null>;
  /** Target of each requested symlink, in request order; null when it is not an entry or not a readable link. */
  links: Array<string | null>;
  /** name, target, name, target, ... of every entry starting with the prefix that is a readable symlink, in entry order. */
  prefixed: string[];
  /**
   * The subdirectory's entries and, for each entry in order, the trimmed text of each requested
   * file (texts[entry * files.length + file]); null when it is not an entry or cannot be listed.
   */
  subdir: { entries: string[]; texts: Array<string | null> } | null;
}

/** The addon's reader, or null when the addon cannot be loaded (then plain fs calls do the same reads). */
let nativeReader: NativeBinding['readSysfsDirs'] | null | undefined;

function nativeDirReader(): NativeBinding['readSysfsDirs'] | null {
  if (nativeReader === undefined) {
    try {
      const binding = nativeBinding();
      nativeReader = typeof binding.readSysfsDirs === 'function' ? binding.readSysfsDirs.bind(binding) : null;
    } catch {
      nativeReader = null;
    }
  }
  return nativeReader;
}

/** The same reads as readDirSnapshots for one directory, one fs call each: the fallback without the addon, and what its tests compare with. */
export function readDirSnapshotWithFs(dir: string, request: DirSnapshotRequest): DirSnapshot | null {
  const entries = listDir(dir);
  if (entries === null) return null;
  const present = new Set(entries);
  const prefix = request.linkPrefix ?? '';
  const prefixed: string[] = [];
  for (const name of prefix === '' ? [] : entries) {
    const target = name.startsWith(prefix) ? readLink(`${dir}/${name}`) : null;
    if (target !== null) prefixed.push(name, target);
  }
  const sub = request.subdir;
  const subEntries = sub !== undefined && present.has(sub.name) ? listDir(`${dir}/${sub.name}`) : null;
  const keep = request.keepEntries;
  return {
    entries: keep === undefined ? entries : entries.filter((name) => keep.names.includes(name) || keep.prefixes.some((start) => name.startsWith(start))),
    entryCount: entries.length,
    texts: request.files.map((name) => (present.has(name) ? readSmallText(`${dir}/${name}`) : null)),
    links: request.links.map((name) => (present.has(name) ? readLink(`${dir}/${name}`) : null)),
    prefixed,
    subdir: subEntries === null || sub === undefined ? null : { entries: subEntries, texts: subEntries.flatMap((name) => sub.files.map((file) => readSmallText(`${dir}/${sub.name}/${name}/${file}`))) },
  };
}

/**
 * Directories' entries plus the small files and symlinks in them that the caller needs, all in one
 * native call: each directory is opened once and its items are read relative to it, instead of
 * one fs call (with its path walk through the bus symlink) per item — discovery reads ~20 items
 * for each of thousands of PCI functions. Without the addon the same reads are made with fs calls.
 */
export function readDirSnapshots(dirs: readonly string[], request: DirSnapshotRequest): Array<DirSnapshot | null> {
  const reader = nativeDirReader();
  if (reader === null) return dirs.map((dir) => readDirSnapshotWithFs(dir, request));
  return reader(dirs, request.files, request.links, request.linkPrefix ?? '', request.subdir?.name ?? '', request.subdir?.files ?? [], request.keepEntries);
}
