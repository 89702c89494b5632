// A keyed, de-duplicating work queue with bounded concurrency (client-go's workqueue, the
// parts an operator needs):
//   - a key is queued at most once; adding it again while queued is a no-op;
//   - a key is processed by at most one worker at a time; adding it while it is being
//     processed marks it dirty and it runs once more right after;
//   - a failed key is retried after an exponential per-key delay (reset by a success);
//   - addAfter(key, ms) schedules a key (the earliest schedule wins).
import { exponentialDelay } from './backoff.ts';

export type ProcessResult = void | { requeueAfterMs?: number };

export interface QueueOptions {
  concurrency: number;
  process: (key: string) => Promise<ProcessResult>;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called after every processed key (result: success | error | requeue), with its duration. */
  onDone?: (key: string, result: 'success' | 'error' | 'requeue', seconds: number, err?: unknown) => void;
}

export class WorkQueue {
  private readonly opts: Required<Omit<QueueOptions, 'onDone'>> & Pick<QueueOptions, 'onDone'>;
  private readonly queue: string[] = [];
  private head = 0;
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private active = 0;
  private running = false;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: QueueOptions) {
    this.opts = { baseDelayMs: 500, maxDelayMs: 300_000, ...opts };
  }

  /** Keys waiting to be processed (not counting scheduled or in-flight ones). */
  depth(): number {
    return this.queue.length - this.head;
  }

  inFlight(): number {
    return this.active;
  }

  scheduled(): number {
    return this.timers.size;
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  add(key: string): void {
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  addAfter(key: string, ms: number): void {
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing !== undefined) {
      if (existing.at <= at) return;
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Schedules a retry after this key's next exponential delay. */
  addRateLimited(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = exponentialDelay(n, this.opts.baseDelayMs, this.opts.maxDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  start(): void {
    this.running = true;
    this.pump();
  }

  /** Stops taking keys; resolves when in-flight work is done. Pending keys are dropped. */
  async stop(): Promise<void> {
    this.running = false;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    if (this.active > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves when nothing is queued or in flight (scheduled retries may remain). Call while started. */
  async drained(): Promise<void> {
    while (this.running && (this.depth() > 0 || this.active > 0)) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  private take(): string | undefined {
    if (this.head >= this.queue.length) return undefined;
    const key = this.queue[this.head] as string;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return key;
  }

  private pump(): void {
    while (this.running && this.active < this.opts.concurrency) {
      const key = this.take();
      if (key === undefined) break;
      this.queued.delete(key);
      this.processing.add(key);
      this.active++;
      void this.work(key);
    }
  }

  private async work(key: string): Promise<void> {
    const started = performance.now();
    let result: 'success' | 'error' | 'requeue' = 'success';
    let error: unknown;
    try {
      const r = await this.opts.process(key);
      this.forget(key);
      if (r && r.requeueAfterMs !== undefined) {
        result = 'requeue';
        if (this.running) this.addAfter(key, r.requeueAfterMs);
      }
    } catch (err) {
      result = 'error';
      error = err;
      if (this.running) this.addRateLimited(key);
    } finally {
      this.processing.delete(key);
      this.active--;
      this.opts.onDone?.(key, result, (performance.now() - started) / 1000, error);
      if (this.dirty.delete(key) && this.running) this.add(key);
      this.pump();
      if (this.active === 0) {
        for (const w of this.idleWaiters.splice(0)) w();
      }
    }
  }
}
