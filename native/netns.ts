// Network-namespace helpers: validating a namespace path and observing which namespace the agent's
// own threads are in (the proof that the netns rule holds).
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { nativeBinding } from './addon.js';

const NSFS_MAGIC = 0x6e736673;
const PROC_SUPER_MAGIC = 0x9fa0;

/** True when `path` is a namespace file (nsfs; procfs on kernels before 3.19). */
export async function isNetnsPath(path: string): Promise<boolean> {
  if (typeof path !== 'string' || !path.startsWith('/')) return false;
  try {
    const info = await statfs(path);
    return info.type === NSFS_MAGIC || info.type === PROC_SUPER_MAGIC;
  } catch {
    return false;
  }
}

export interface ThreadNetns {
  tid: number;
  /** Thread name from /proc (e.g. 'node', 'libuv-worker'). */
  name: string;
  inode: number;
}

export interface ProcessNetnsInodes {
  /** netns inode of the main (event-loop) thread. */
  main: number;
  /** netns inode seen by each libuv pool thread, measured on that thread. */
  pool: number[];
  /** Every thread of the process right now. */
  threads: ThreadNetns[];
}

function inodeOfLink(link: string): number {
  const match = /\[(\d+)\]/.exec(link);
  return match ? Number(match[1]) : -1;
}

/**
 * The netns inode of the main thread, of every libuv pool thread (each occupied at once by a probe,
 * so all `poolSize` threads answer), and of every thread listed in /proc/self/task.
 */
export async function currentThreadNetnsInodes(poolSize = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4)): Promise<ProcessNetnsInodes> {
  const probe = await nativeBinding().poolThreadNetns(poolSize);
  const main = statSync('/proc/thread-self/ns/net').ino;
  const threads: ThreadNetns[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      threads.push({
        tid: Number(tid),
        name: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(),
        inode: inodeOfLink(readlinkSync(`/proc/self/task/${tid}/ns/net`)),
      });
    } catch {
      // The thread ended between readdir and read; nothing to report for it.
    }
  }
  if (probe.main !== main) throw new Error(`main thread netns inode disagrees: native ${probe.main}, /proc/thread-self ${main}`);
  return { main, pool: probe.pool.map((p) => p.inode), threads };
}
