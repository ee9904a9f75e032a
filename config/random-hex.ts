// Random hex for names that must not collide (temp files, Kubernetes events, temporary link names), read
// from the kernel's CSPRNG. node:crypto would do the same, but loading it costs ≈ 5 ms, paid by every
// thin-mode CNI call (one process per call) that writes a file atomically.
import { closeSync, openSync, readSync } from 'node:fs';

/** `bytes` random bytes from /dev/urandom, as 2 × `bytes` hex digits. */
export function randomHex(bytes: number): string {
  const buffer = Buffer.alloc(bytes);
  const fd = openSync('/dev/urandom', 'r');
  try {
    // /dev/urandom never blocks and answers reads of up to 32 MiB in full.
    if (readSync(fd, buffer, 0, bytes, null) !== bytes) throw new Error('short read from /dev/urandom');
  } finally {
    closeSync(fd);
  }
  return buffer.toString('hex');
}
