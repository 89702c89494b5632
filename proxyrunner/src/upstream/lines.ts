// Newline-delimited JSON-RPC framing for stdio (MCP stdio transport), bounded. A line is
// held only while it fits both --max-message-bytes and the shared buffer budget; past
// either it is discarded as it streams in (never buffered whole), keeping only a window
// of its first and last bytes so the caller can tell whose answer it was (oversized.ts).
// The line after it is framed normally: one oversized message costs one message.
import { UNLIMITED, type BudgetAccount, type ByteBudget } from '../budget.ts';
import type { DropReason } from '../metrics.ts';
import { keepHead, keepTail } from './oversized.ts';

export interface FrameLimits {
  maxBytes: number;
  pool: ByteBudget;
}

/** A frame that was discarded: its size so far, why, and its two ends. */
export interface Discarded {
  bytes: number;
  reason: DropReason;
  head: Buffer;
  tail: Buffer;
}

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * Collects the bytes of one frame at a time within the limits, or switches to discarding
 * it (keeping head and tail windows). Shared by the stdio line and SSE event splitters.
 */
export class FrameCollector {
  readonly #limits: FrameLimits;
  readonly #account: BudgetAccount;
  #parts: Buffer[] = [];
  #size = 0;
  #discarding: Discarded | undefined;

  constructor(limits: FrameLimits) {
    this.#limits = limits;
    this.#account = limits.pool.account();
  }

  get size(): number {
    return this.#discarding ? this.#discarding.bytes : this.#size;
  }

  /** Adds bytes of the current frame; `owned` means the caller will not reuse the buffer. */
  add(piece: Buffer, owned: boolean): void {
    if (piece.length === 0) return;
    const discarding = this.#discarding;
    if (discarding) {
      discarding.bytes += piece.length;
      discarding.tail = keepTail(discarding.tail, piece);
      return;
    }
    const size = this.#size + piece.length;
    const reason: DropReason | undefined = size > this.#limits.maxBytes ? 'too_large' : this.#account.resize(size) ? undefined : 'over_budget';
    if (reason) {
      let tail = EMPTY;
      for (const part of this.#parts) tail = keepTail(tail, part);
      this.#discarding = { bytes: size, reason, head: keepHead(this.#parts, piece), tail: keepTail(tail, piece) };
      this.#parts = [];
      this.#size = 0;
      this.#account.resize(0);
      return;
    }
    this.#parts.push(owned ? piece : Buffer.from(piece));
    this.#size = size;
  }

  /**
   * Ends the current frame: the whole frame (its bytes stay charged until `release()`),
   * or what was discarded of it.
   */
  finish(): { kind: 'frame'; frame: Buffer } | { kind: 'discarded'; discarded: Discarded } {
    const discarded = this.#discarding;
    if (discarded) {
      this.#discarding = undefined;
      return { kind: 'discarded', discarded };
    }
    const parts = this.#parts;
    const frame = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, this.#size);
    this.#parts = [];
    this.#size = 0;
    return { kind: 'frame', frame };
  }

  /** Returns the finished frame's bytes to the budget (after it was handled). */
  release(): void {
    if (this.#size === 0) this.#account.resize(0);
  }

  close(): void {
    this.#parts = [];
    this.#size = 0;
    this.#discarding = undefined;
    this.#account.close();
  }
}

export class LineSplitter {
  readonly #frames: FrameCollector;
  readonly #onLine: (line: string) => void;
  readonly #onDiscarded: (discarded: Discarded) => void;

  constructor(limits: FrameLimits | number, onLine: (line: string) => void, onDiscarded: (discarded: Discarded) => void) {
    this.#frames = new FrameCollector(typeof limits === 'number' ? { maxBytes: limits, pool: UNLIMITED } : limits);
    this.#onLine = onLine;
    this.#onDiscarded = onDiscarded;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.#frames.add(chunk.subarray(start, nl), true);
      start = nl + 1;
      const done = this.#frames.finish();
      if (done.kind === 'discarded') {
        this.#onDiscarded(done.discarded);
        continue;
      }
      try {
        const text = done.frame.toString('utf8').replace(/\r$/, '');
        if (text.trim().length > 0) this.#onLine(text);
      } finally {
        this.#frames.release();
      }
    }
    // The unfinished rest is copied, so a small tail does not pin the whole chunk.
    if (start < chunk.length) this.#frames.add(chunk.subarray(start), false);
  }

  close(): void {
    this.#frames.close();
  }
}
