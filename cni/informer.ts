// A list + watch cache of one Kubernetes collection (the agent's pods on this node and all NADs), so
// a CNI request reads the pod and its NADs from memory instead of asking the API server. On a watch
// that ends it re-watches from the last resourceVersion; on "410 Gone" or an error it lists again
// after a pause. `synced` turns true after the first complete list.
import type { KubeClient } from './kube-client.js';
import type { Logger } from './log.js';

type Json = Record<string, unknown>;

const RETRY_MS = 1000;
const WATCH_TIMEOUT_S = 300;

export class Informer<T> {
  private readonly items = new Map<string, T>();
  private resourceVersion = '';
  private readonly abort = new AbortController();
  private readonly waiters = new Map<string, Set<() => void>>();
  private syncWaiters: Array<() => void> = [];
  synced = false;

  constructor(
    private readonly client: KubeClient,
    readonly name: string,
    /** Collection path, e.g. /api/v1/pods. */
    private readonly path: string,
    private readonly fieldSelector: string | undefined,
    private readonly transform: (object: Json) => T,
    private readonly log: Logger,
  ) {}

  static keyOf(object: Json): string {
    const metadata = (object['metadata'] ?? {}) as Json;
    return `${String(metadata['namespace'] ?? '')}/${String(metadata['name'] ?? '')}`;
  }

  get size(): number {
    return this.items.size;
  }

  get(namespace: string, name: string): T | undefined {
    return this.items.get(`${namespace}/${name}`);
  }

  /** Resolves when the key is cached, or after `timeoutMs` (true when it arrived). */
  waitFor(namespace: string, name: string, timeoutMs: number): Promise<boolean> {
    const key = `${namespace}/${name}`;
    if (this.items.has(key)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const set = this.waiters.get(key) ?? new Set();
      this.waiters.set(key, set);
      const done = (arrived: boolean) => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0) this.waiters.delete(key);
        resolve(arrived);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      set.add(wake);
    });
  }

  waitSynced(timeoutMs: number): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.syncWaiters.push(() => { clearTimeout(timer); resolve(true); });
    });
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.abort.abort();
  }

  private query(extra: Record<string, string>): string {
    const params = new URLSearchParams({ ...(this.fieldSelector ? { fieldSelector: this.fieldSelector } : {}), ...extra });
    return `${this.path}?${params.toString()}`;
  }

  private put(object: Json): void {
    const key = Informer.keyOf(object);
    this.items.set(key, this.transform(object));
    for (const wake of [...(this.waiters.get(key) ?? [])]) wake();
  }

  private async list(): Promise<void> {
    const list = await this.client.request('GET', this.query({})) as { metadata?: { resourceVersion?: string }; items?: Json[] };
    this.items.clear();
    for (const item of list.items ?? []) this.put(item);
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    if (!this.synced) {
      this.synced = true;
      for (const wake of this.syncWaiters.splice(0)) wake();
      this.log.verbose(`informer ${this.name}: synced, ${this.items.size} objects`);
    }
  }

  private async run(): Promise<void> {
    let needList = true;
    while (!this.abort.signal.aborted) {
      try {
        if (needList) await this.list();
        needList = false;
        let gone = false;
        await this.client.watch(this.query({ watch: '1', allowWatchBookmarks: 'true', timeoutSeconds: String(WATCH_TIMEOUT_S), ...(this.resourceVersion ? { resourceVersion: this.resourceVersion } : {}) }), (event) => {
          const version = ((event.object['metadata'] ?? {}) as Json)['resourceVersion'];
          if (event.type === 'ERROR') {
            gone = (event.object['code'] as number | undefined) === 410;
            return;
          }
          if (typeof version === 'string') this.resourceVersion = version;
          if (event.type === 'ADDED' || event.type === 'MODIFIED') this.put(event.object);
          else if (event.type === 'DELETED') this.items.delete(Informer.keyOf(event.object));
        }, this.abort.signal);
        if (gone) needList = true;
      } catch (error) {
        if (this.abort.signal.aborted) return;
        this.log.warn(`informer ${this.name}: ${(error as Error).message}; listing again in ${RETRY_MS} ms`);
        needList = true;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }
}
