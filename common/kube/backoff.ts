// Exponential backoff with full jitter on the upper half, and an abortable sleep.

export class Backoff {
  private readonly baseMs: number;
  private readonly maxMs: number;
  private attempt = 0;
  private readonly random: () => number;

  constructor(baseMs: number, maxMs: number, random: () => number = Math.random) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.random = random;
  }

  /** The next delay: base * 2^attempt capped at max, then jittered into [delay/2, delay]. */
  next(): number {
    const delay = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(delay / 2 + (this.random() * delay) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Exponential delay for the n-th consecutive failure (n >= 1), no jitter. */
export function exponentialDelay(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
