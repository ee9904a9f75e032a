// A token bucket: at most `burst` calls at once, refilled at `perSecond`. The agent takes a token before
// each kubelet pod-resources call, staying well under the kubelet's own limit (100 QPS, burst 10), which
// answers RESOURCE_EXHAUSTED to everyone once exceeded.
export class TokenBucket {
  private tokens: number;
  private last = Date.now();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly perSecond: number, private readonly burst: number, private readonly now: () => number = Date.now) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new RangeError(`rate ${perSecond}/s, burst ${burst}: both must be positive`);
    this.tokens = burst;
    this.last = now();
  }

  /** Resolves when a token is available (callers are served in order). */
  take(): Promise<void> {
    const turn = this.queue.then(async () => {
      for (;;) {
        const now = this.now();
        this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
        this.last = now;
        if (this.tokens >= 1) {
          this.tokens -= 1;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.ceil(((1 - this.tokens) / this.perSecond) * 1000)));
      }
    });
    this.queue = turn;
    return turn;
  }
}
