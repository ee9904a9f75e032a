// Where device health learns whether a netdev's link is up. The device plugin depends only on
// this interface, so the sysfs poller below and the netlink monitor (deviceplugin/netlink-link-state.ts)
// are interchangeable, and tests can drive a fake.
import { join } from 'node:path';
import { readSmallText } from '../native/index.js';

export interface LinkStateSource {
  /** true = link up, false = readable and not up, null = unknown (no such netdev / unreadable). */
  read(netdev: string): boolean | null;
  /** Calls `onChange(netdev)` whenever a netdev's state may have changed; returns an unsubscribe function. */
  watch(onChange: (netdev: string) => void): () => void;
  close(): void;
}

/** The same rule the reference plugin uses: only the exact operstate `up` counts as up. */
export function operstateIsUp(operstate: string): boolean {
  return operstate.trim() === 'up';
}

const NETDEV_NAME = /^[^/\0]{1,15}$/;

export interface SysfsLinkStateOptions {
  /** Root of the sysfs tree (`/sys` on a host, a temp dir in tests). */
  sysfsRoot: string;
  /** How often watched netdevs are re-read. sysfs has no change notification for operstate, so this polls. */
  pollIntervalMs?: number;
}

/**
 * Reads `<sysfs>/class/net/<netdev>/operstate`. Every netdev that was `read()` once is re-read on a
 * timer while someone watches, and a change is reported — a handful of small reads per tick, so a
 * 250 ms period keeps the "seen within 1 s" promise at negligible cost.
 */
export class SysfsLinkStateSource implements LinkStateSource {
  private readonly sysfsRoot: string;
  private readonly pollIntervalMs: number;
  private readonly lastSeen = new Map<string, boolean | null>();
  private readonly listeners = new Set<(netdev: string) => void>();
  private timer: NodeJS.Timeout | null = null;

  constructor(options: SysfsLinkStateOptions) {
    this.sysfsRoot = options.sysfsRoot;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
  }

  read(netdev: string): boolean | null {
    const state = this.readNow(netdev);
    this.lastSeen.set(netdev, state);
    return state;
  }

  watch(onChange: (netdev: string) => void): () => void {
    this.listeners.add(onChange);
    if (!this.timer) {
      this.timer = setInterval(() => this.poll(), this.pollIntervalMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(onChange);
      if (this.listeners.size === 0) this.stopTimer();
    };
  }

  close(): void {
    this.listeners.clear();
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private readNow(netdev: string): boolean | null {
    if (!NETDEV_NAME.test(netdev) || netdev === '.' || netdev === '..') return null;
    const operstate = readSmallText(join(this.sysfsRoot, 'class', 'net', netdev, 'operstate'));
    return operstate === null ? null : operstateIsUp(operstate);
  }

  private poll(): void {
    for (const [netdev, before] of this.lastSeen) {
      const now = this.readNow(netdev);
      if (now === before) continue;
      this.lastSeen.set(netdev, now);
      for (const listener of [...this.listeners]) listener(netdev);
    }
  }
}
