// Collects dead stream buffers before they pile up. Bytes a proxy streams through
// (socket and pipe reads) live outside the V8 heap, in ArrayBuffers whose small heap
// handles V8 collects lazily: it forces a collection only after tens of MiB of such
// external memory, so a fast pass-through (or a huge upstream message being discarded)
// leaves that much dead memory resident, enough to cross a 128Mi limit (bench:flood
// peaked at 134 MiB passing a 64 MiB result through before this). Like Envoy's overload
// manager shrink_heap action, this samples ArrayBuffer memory and runs a full collection
// when it has grown by a threshold over what survived the last collection (so buffers
// that are live, and bounded by the budget in budget.ts, never cause a collection loop),
// at most every `minIntervalMs`.
// The collection needs V8's --expose-gc, which main.ts adds to the heap flags.
export interface BufferCollectorOptions {
  /** Collect when ArrayBuffer memory exceeds what survived the last collection by this. */
  thresholdBytes: number;
  arrayBuffers?: () => number;
  gc?: (() => void) | undefined;
  minIntervalMs?: number;
  sampleEveryMs?: number;
}

export interface BufferCollector {
  /** Collections run so far. */
  readonly collections: number;
  /** One sample (the timer calls it; tests call it directly). */
  check(now?: number): void;
  stop(): void;
}

export function startBufferCollector(options: BufferCollectorOptions): BufferCollector {
  const arrayBuffers = options.arrayBuffers ?? (() => process.memoryUsage().arrayBuffers);
  const gc = options.gc ?? (globalThis as { gc?: () => void }).gc;
  const minInterval = options.minIntervalMs ?? 250;
  let last = -Infinity;
  let collections = 0;
  let survivors = 0;
  const collector = {
    get collections() {
      return collections;
    },
    check(now = Date.now()) {
      if (!gc || now - last < minInterval || arrayBuffers() <= survivors + options.thresholdBytes) return;
      last = now;
      collections++;
      gc();
      survivors = arrayBuffers();
    },
    stop() {
      clearInterval(timer);
    },
  };
  const timer = setInterval(() => collector.check(), options.sampleEveryMs ?? 100);
  timer.unref();
  return collector;
}
