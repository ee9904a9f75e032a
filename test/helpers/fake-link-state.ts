// A LinkStateSource the test drives by hand: set(netdev, up) notifies watchers at once.
import type { LinkStateSource } from '../../deviceplugin/link-state.js';

export class FakeLinkStateSource implements LinkStateSource {
  private readonly states = new Map<string, boolean | null>();
  private readonly listeners = new Set<(netdev: string) => void>();
  readonly reads = new Set<string>();

  constructor(initial: Record<string, boolean | null> = {}) {
    for (const [netdev, up] of Object.entries(initial)) this.states.set(netdev, up);
  }

  read(netdev: string): boolean | null {
    this.reads.add(netdev);
    return this.states.get(netdev) ?? null;
  }

  set(netdev: string, up: boolean | null): void {
    this.states.set(netdev, up);
    for (const listener of [...this.listeners]) listener(netdev);
  }

  watch(onChange: (netdev: string) => void): () => void {
    this.listeners.add(onChange);
    return () => void this.listeners.delete(onChange);
  }

  close(): void {
    this.listeners.clear();
  }
}
