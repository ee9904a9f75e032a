// Tiny, exception-free sysfs primitives. Discovery reads thousands of tiny files, and a thrown
// ENOENT costs far more than the read itself, so every helper returns null instead of throwing.
import { closeSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { basename } from 'node:path';

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
  const text = readSmallText(path);
  if (text === null || text === '') return null;
  const value = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text.slice(2), 16) : /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
  return Number.isSafeInteger(value) ? value : null;
}
