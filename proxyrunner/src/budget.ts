// The proxyrunner's memory budget. Heap flags alone do not keep a proxy alive: V8 aborts
// the process when live objects outgrow the heap, and what a proxy holds alive is set by
// its clients and its upstream (connections, streams, messages being parsed, writes
// queued for slow readers). So everything it holds is admitted against limits derived
// from one number, the memory limit, the way Envoy's overload manager and nginx's
// connection and buffer limits do:
//   - maxConnections: client connections served; beyond it a connection is answered 503;
//   - maxStreams:     long-lived responses (GET/SSE streams) open at once;
//   - maxMessageBytes: the largest message the proxy must hold whole (a request body it
//                     parses, a stdio line, an SSE event, a message re-serialised);
//   - bufferBytes:    all bytes held at once in such buffers (ByteBudget below).
// Pure sizing here; the edges (admission, splitters, streams) enforce it.

const MiB = 2 ** 20;

/** Budget used when there is no memory limit (neither flag nor cgroup): a roomy 1 GiB. */
export const DEFAULT_BUDGET_LIMIT_BYTES = 1024 * MiB;

/**
 * Bytes a started proxyrunner uses before it holds anything: V8, code, the SDK, prom-client,
 * glibc arenas. Measured idle at --memory-limit 128Mi: 60-65 MiB RSS (bench:footprint; 64-72 before
 * the footprint cuts of issue 16), 86-90 MiB under churn: kept at 64 so the limits stay as measured.
 */
export const BASELINE_BYTES = 64 * MiB;

/**
 * Measured cost of one more open client connection (socket, HTTP parser, request and
 * response objects), and of one open GET stream with the session behind it (its timers,
 * the upstream socket of a pass-through or legacy-SSE stream). bench:flood at 128Mi,
 * 682 streams held: 35 KiB each over stdio, 47 KiB over a legacy SSE upstream, 52 KiB
 * passed through to a streamable-HTTP upstream. A connection held costs about 17 KiB,
 * but a flood also leaves what answering the refused ones took resident (the heap and
 * malloc keep freed pages): with 1,024 connections (2,048 at once) RSS stayed at
 * 112-119 MiB after 10,000 and peaked at 128.3 MiB in the next step, so 32 KiB.
 */
export const CONNECTION_COST_BYTES = 32 * 1024;
export const STREAM_COST_BYTES = 48 * 1024;

/**
 * What holding one message of N bytes costs at its peak: the raw bytes, the decoded
 * string, the parsed objects and the re-serialised string exist together for a moment.
 */
export const MESSAGE_COPIES = 4;

export interface MemoryBudget {
  /** The limit the budget was derived from (the default when there is none). */
  limitBytes: number;
  maxConnections: number;
  maxStreams: number;
  maxMessageBytes: number;
  /** Request bodies are parsed, so they are messages: never above maxMessageBytes. */
  maxBodyBytes: number;
  bufferBytes: number;
}

export interface BudgetOverrides {
  maxConnections?: number | undefined;
  maxStreams?: number | undefined;
  maxMessageBytes?: number | undefined;
  maxBodyBytes?: number | undefined;
  bufferBytes?: number | undefined;
}

/** The largest power of two not above n (n ≥ 1). */
function powerOfTwoBelow(n: number): number {
  return 2 ** Math.floor(Math.log2(Math.max(1, n)));
}

/**
 * Limits for a process that must live within `limitBytes`. What is above the baseline is
 * split: half for buffered bytes (bodies, lines, events, queued writes), a quarter for
 * connections, a quarter for streams. One message, held with its copies, may take at
 * most half of the buffer share (so two can be in flight), rounded down to a power of two.
 * At 128Mi: 32 MiB of buffers, 4 MiB messages, 512 connections, 341 streams.
 */
export function deriveBudget(limitBytes: number | undefined, overrides: BudgetOverrides = {}): MemoryBudget {
  const limit = limitBytes ?? DEFAULT_BUDGET_LIMIT_BYTES;
  const spare = Math.max(16 * MiB, limit - BASELINE_BYTES);
  const derivedBuffer = Math.floor(spare / 2);
  const derivedMessage = Math.min(64 * MiB, Math.max(64 * 1024, powerOfTwoBelow(derivedBuffer / 2 / MESSAGE_COPIES)));
  // Derived values make room for explicit ones (an operator who raised --max-body-bytes
  // raised the message size with it); explicit values that contradict each other fail.
  const maxMessageBytes = overrides.maxMessageBytes ?? Math.max(derivedMessage, overrides.maxBodyBytes ?? 0);
  const maxBodyBytes = overrides.maxBodyBytes ?? maxMessageBytes;
  const bufferBytes = overrides.bufferBytes ?? Math.max(derivedBuffer, 2 * maxMessageBytes);
  if (maxBodyBytes > maxMessageBytes) {
    throw new RangeError(
      `--max-body-bytes (${maxBodyBytes}) cannot exceed --max-message-bytes (${maxMessageBytes}): a request body is a message the proxy parses`,
    );
  }
  if (maxMessageBytes > bufferBytes) {
    throw new RangeError(`--max-message-bytes (${maxMessageBytes}) cannot exceed --max-buffered-bytes (${bufferBytes})`);
  }
  return {
    limitBytes: limit,
    maxConnections: overrides.maxConnections ?? Math.max(16, Math.floor(spare / 4 / CONNECTION_COST_BYTES)),
    maxStreams: overrides.maxStreams ?? Math.max(8, Math.floor(spare / 4 / STREAM_COST_BYTES)),
    maxMessageBytes,
    maxBodyBytes,
    bufferBytes,
  };
}

/**
 * The shared pool of buffer bytes. Every holder reserves before it grows and releases
 * when it lets go; a refused reservation is the holder's cue to refuse its work (503, a
 * JSON-RPC error, a cut stream) instead of growing.
 */
export class ByteBudget {
  readonly capacity: number;
  #used = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get used(): number {
    return this.#used;
  }

  get available(): number {
    return this.capacity - this.#used;
  }

  tryReserve(bytes: number): boolean {
    if (bytes <= 0) return true;
    if (this.#used + bytes > this.capacity) return false;
    this.#used += bytes;
    return true;
  }

  release(bytes: number): void {
    if (bytes <= 0) return;
    this.#used = Math.max(0, this.#used - bytes);
  }

  /** A holder's running reservation: grows by reserve(), all of it returned by close(). */
  account(): BudgetAccount {
    return new BudgetAccount(this);
  }
}

export class BudgetAccount {
  readonly #budget: ByteBudget;
  #held = 0;

  constructor(budget: ByteBudget) {
    this.#budget = budget;
  }

  get held(): number {
    return this.#held;
  }

  /** Brings the reservation to `bytes` in total; false (and nothing changed) if the pool cannot. */
  resize(bytes: number): boolean {
    if (bytes > this.#held) {
      if (!this.#budget.tryReserve(bytes - this.#held)) return false;
    } else {
      this.#budget.release(this.#held - bytes);
    }
    this.#held = bytes;
    return true;
  }

  close(): void {
    this.#budget.release(this.#held);
    this.#held = 0;
  }
}

/** A budget no one can exhaust: for code paths (and unit tests) that run without one. */
export const UNLIMITED = new ByteBudget(Number.MAX_SAFE_INTEGER);

/**
 * What one ended span waiting for export may hold, for the byte bound of the export queue
 * (telemetry/spanQueue.ts holds spans encoded: about 400 bytes each for the proxy's spans; 2 KiB
 * leaves room for long tool names, ids and URIs, and the count bound holds the common case).
 */
export const SPAN_COST_BYTES = 2 * 1024;

/**
 * Spans queued for export at most (--otel-endpoint): 1/64 of the memory limit, 128..8192
 * (1,024 at 128Mi), and as many times SPAN_COST_BYTES of encoded bytes (2 MiB at 128Mi).
 * Beyond either, spans are dropped and counted, never held.
 */
export function spanQueueSize(limitBytes: number): number {
  return Math.max(128, Math.min(8192, Math.floor(limitBytes / 64 / SPAN_COST_BYTES)));
}
