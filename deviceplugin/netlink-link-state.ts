// Link state for device health from netlink link events (RTMGRP_LINK) instead of sysfs polling: a
// change is known as soon as the kernel announces it, and nothing is read while nothing changes.
// State is kept per ifindex so renames move it to the new name; the same "operstate up" rule as the
// sysfs source applies. Until the first full link list arrives, and if the monitor ever fails, reads
// fall back to the sysfs source (in the agent's namespace only: sysfs cannot see another one).
import { listLinks, monitorLinks, type LinkInfo, type LinkMonitor, type NativeError } from '../native/index.js';
import { SysfsLinkStateSource, operstateIsUp, type LinkStateSource } from './link-state.js';

export interface NetlinkLinkStateOptions {
  /** Root of the sysfs tree used for the fallback reads (`/sys` on a host). */
  sysfsRoot: string;
  /** Namespace file to watch; absent = the agent's own (what the device plugin uses). */
  netns?: string;
  /** Told when the monitor fails and reads switch to sysfs polling. */
  onFallback?: (err: Error) => void;
}

export class NetlinkLinkStateSource implements LinkStateSource {
  private readonly fallback: SysfsLinkStateSource;
  private readonly listeners = new Set<(netdev: string) => void>();
  private readonly stateByName = new Map<string, boolean>();
  private readonly nameByIndex = new Map<number, string>();
  /** Names changed by an event while the initial list was in flight: the list is older for those. */
  private readonly changedDuringList = new Set<string>();
  private monitor: LinkMonitor | null;
  private primed = false;
  private failed = false;
  private readonly fallbackUnsubscribers: (() => void)[] = [];
  private readonly readyPromise: Promise<void>;
  private readonly onFallback: ((err: Error) => void) | undefined;

  constructor(options: NetlinkLinkStateOptions) {
    this.fallback = new SysfsLinkStateSource({ sysfsRoot: options.sysfsRoot });
    this.onFallback = options.onFallback;
    const where = options.netns === undefined ? {} : { netns: options.netns };
    // Subscribe before listing, so no change between the list and the subscription is lost.
    this.monitor = monitorLinks((event) => this.apply(event.link, event.type === 'del', true), where, (err: NativeError) => this.fail(err));
    this.readyPromise = listLinks(where).then(
      (links) => {
        for (const link of links) {
          if (!this.changedDuringList.has(link.name)) this.apply(link, false, false);
        }
        this.changedDuringList.clear();
        this.primed = true;
      },
      (err: unknown) => this.fail(err as Error),
    );
  }

  /** Resolves once the initial link list is in (or the source fell back to sysfs). */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  read(netdev: string): boolean | null {
    if (this.failed || !this.primed) return this.fallback.read(netdev);
    return this.stateByName.get(netdev) ?? null;
  }

  watch(onChange: (netdev: string) => void): () => void {
    this.listeners.add(onChange);
    if (this.failed) this.fallbackUnsubscribers.push(this.fallback.watch(onChange));
    return () => {
      this.listeners.delete(onChange);
    };
  }

  close(): void {
    this.listeners.clear();
    this.monitor?.close();
    this.monitor = null;
    for (const unsubscribe of this.fallbackUnsubscribers.splice(0)) unsubscribe();
    this.fallback.close();
  }

  private apply(link: LinkInfo, deleted: boolean, fromEvent: boolean): void {
    if (fromEvent && !this.primed) this.changedDuringList.add(link.name);
    const previousName = this.nameByIndex.get(link.index);
    if (previousName !== undefined && previousName !== link.name) {
      // Renamed: the old name no longer exists.
      this.nameByIndex.delete(link.index);
      if (this.stateByName.delete(previousName)) this.notify(previousName);
    }
    const before = this.stateByName.get(link.name);
    if (deleted) {
      this.nameByIndex.delete(link.index);
      this.stateByName.delete(link.name);
      if (before !== undefined) this.notify(link.name);
      return;
    }
    const up = operstateIsUp(link.operState);
    this.nameByIndex.set(link.index, link.name);
    this.stateByName.set(link.name, up);
    if (before !== up) this.notify(link.name);
  }

  private notify(netdev: string): void {
    for (const listener of [...this.listeners]) listener(netdev);
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.monitor?.close();
    this.monitor = null;
    for (const listener of this.listeners) this.fallbackUnsubscribers.push(this.fallback.watch(listener));
    this.onFallback?.(err);
  }
}
