// The agent's request scheduling: calls for one container ID run one after another (a DEL never
// overtakes the ADD it undoes); different containers run concurrently up to `maxConcurrent`, the rest
// wait in FIFO order, so a restart burst of hundreds of pods costs bounded memory and processes.

export class QueueFullError extends Error {
  constructor(readonly limit: number) {
    super(`the nicplex agent already holds ${limit} queued CNI requests`);
    this.name = 'QueueFullError';
  }
}

export class RequestQueue {
  private running = 0;
  private waitingForSlot: Array<() => void> = [];
  private readonly tails = new Map<string, Promise<void>>();
  /** Requests accepted but not started yet (waiting for their container's previous call or a slot). */
  queued = 0;

  constructor(readonly maxConcurrent: number, readonly maxQueued = 4096) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError(`maxConcurrent must be a positive integer, got ${maxConcurrent}`);
  }

  get active(): number {
    return this.running;
  }

  /** Runs `task` after every earlier task with the same key, and once a slot is free. */
  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    if (this.queued >= this.maxQueued) throw new QueueFullError(this.maxQueued);
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => { release = resolve; });
    const tail = previous.then(() => done);
    this.tails.set(key, tail);
    this.queued++;
    try {
      await previous;
      await this.acquire();
    } finally {
      this.queued--;
    }
    try {
      return await task();
    } finally {
      this.releaseSlot();
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.maxConcurrent) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waitingForSlot.push(() => { this.running++; resolve(); }));
  }

  private releaseSlot(): void {
    this.running--;
    this.waitingForSlot.shift()?.();
  }
}
