// A keyed, de-duplicating work queue with bounded concurrency (client-go's workqueue, the
// parts an operator needs):
//   - a key is queued at most once; adding it again while queued is a no-op;
//   - a key is processed by at most one worker at a time; adding it while it is being
//     processed marks it dirty and it runs once more right after;
//   - a failed key is retried after an exponential per-key delay (reset by a success);
//   - addAfter(key, ms) schedules a key (the earliest schedule wins);
//   - two lanes: 'high' keys are taken before 'normal' ones, and adding a queued key to the
//     high lane moves it there.
// Keys are typed (controller-runtime's reconcile.Request: e.g. {namespace, name}); keyId says
// when two keys are the same one. String keys are their own id.
import { exponentialDelay } from '../../../common/kube/backoff.ts';

/**
 * 'high': follow-ups of MCPServers that already run (a pod or child changed): cheap
 * reconciles, and what users wait to see (Ready). 'normal': new or edited MCPServers,
 * retries and resyncs. Without the high lane, a server whose pods are Ready waits behind
 * every first-time reconcile of a large batch (measured: 600 of 1,000 servers ran but
 * only 68 said Ready).
 */
export type Lane = 'high' | 'normal';

/** A FIFO of key ids; an entry counts only while its token is the key's current one. */
class LaneFifo {
  private items: [id: string, token: number][] = [];
  private head = 0;

  push(id: string, token: number): void {
    this.items.push([id, token]);
  }

  /** The next live entry, or undefined. */
  shift(isCurrent: (id: string, token: number) => boolean): string | undefined {
    while (this.head < this.items.length) {
      const [id, token] = this.items[this.head] as [string, number];
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (isCurrent(id, token)) return id;
    }
    return undefined;
  }
}

export type ProcessResult = void | { requeueAfterMs?: number };

interface QueueBaseOptions<K> {
  concurrency: number;
  process: (key: K) => Promise<ProcessResult>;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called after every processed key (result: success | error | requeue), with its duration. */
  onDone?: (key: K, result: 'success' | 'error' | 'requeue', seconds: number, err?: unknown) => void;
}

/** keyId: the identity of a key (two keys with the same id are one key); required unless keys are strings. */
export type QueueOptions<K> = QueueBaseOptions<K> & ([K] extends [string] ? { keyId?: (key: K) => string } : { keyId: (key: K) => string });

export class WorkQueue<K = string> {
  private readonly opts: Required<Omit<QueueBaseOptions<K>, 'onDone'>> & Pick<QueueBaseOptions<K>, 'onDone'>;
  private readonly keyId: (key: K) => string;
  private readonly lanes: Record<Lane, LaneFifo> = { high: new LaneFifo(), normal: new LaneFifo() };
  /** Queued keys by id: the key, the token of its live lane entry, and that lane. */
  private readonly queued = new Map<string, { key: K; token: number; lane: Lane }>();
  private nextToken = 0;
  /** Ids of the keys being processed. */
  private readonly processing = new Set<string>();
  /** Keys (by id) added while being processed, with the lane to queue them in afterwards. */
  private readonly dirty = new Map<string, Lane>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private active = 0;
  private running = false;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: QueueOptions<K>) {
    const { keyId, ...rest } = opts;
    this.opts = { baseDelayMs: 500, maxDelayMs: 300_000, ...rest };
    this.keyId = keyId ?? ((key: K) => key as unknown as string);
  }

  /** Keys waiting to be processed (not counting scheduled or in-flight ones). */
  depth(): number {
    return this.queued.size;
  }

  inFlight(): number {
    return this.active;
  }

  scheduled(): number {
    return this.timers.size;
  }

  failuresOf(key: K): number {
    return this.failures.get(this.keyId(key)) ?? 0;
  }

  add(key: K, lane: Lane = 'normal'): void {
    const id = this.keyId(key);
    if (this.processing.has(id)) {
      if (this.dirty.get(id) !== 'high') this.dirty.set(id, lane);
      return;
    }
    const queued = this.queued.get(id);
    if (queued !== undefined && (queued.lane === 'high' || lane === 'normal')) return;
    // New, or moving up to the high lane (its normal-lane entry goes stale).
    const token = this.nextToken++;
    this.queued.set(id, { key, token, lane });
    this.lanes[lane].push(id, token);
    this.pump();
  }

  addAfter(key: K, ms: number): void {
    if (ms <= 0) return this.add(key);
    const id = this.keyId(key);
    const at = Date.now() + ms;
    const existing = this.timers.get(id);
    if (existing !== undefined) {
      if (existing.at <= at) return;
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(id, { at, timer });
  }

  /** Schedules a retry after this key's next exponential delay. */
  addRateLimited(key: K): number {
    const id = this.keyId(key);
    const n = (this.failures.get(id) ?? 0) + 1;
    this.failures.set(id, n);
    const delay = exponentialDelay(n, this.opts.baseDelayMs, this.opts.maxDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: K): void {
    this.failures.delete(this.keyId(key));
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

  /** Whether a lane entry is its key's live one (a key moved up leaves a stale entry behind). */
  private readonly isCurrent = (id: string, token: number): boolean => this.queued.get(id)?.token === token;

  /** The next key to process, taken off the queue. */
  private take(): K | undefined {
    const id = this.lanes.high.shift(this.isCurrent) ?? this.lanes.normal.shift(this.isCurrent);
    if (id === undefined) return undefined;
    const entry = this.queued.get(id) as { key: K };
    this.queued.delete(id);
    return entry.key;
  }

  private pump(): void {
    while (this.running && this.active < this.opts.concurrency) {
      const key = this.take();
      if (key === undefined) break;
      this.processing.add(this.keyId(key));
      this.active++;
      void this.work(key);
    }
  }

  private async work(key: K): Promise<void> {
    const id = this.keyId(key);
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
      this.processing.delete(id);
      this.active--;
      this.opts.onDone?.(key, result, (performance.now() - started) / 1000, error);
      const again = this.dirty.get(id);
      this.dirty.delete(id);
      if (again !== undefined && this.running) this.add(key, again);
      this.pump();
      if (this.active === 0) {
        for (const w of this.idleWaiters.splice(0)) w();
      }
    }
  }
}
