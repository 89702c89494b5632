// Where the proxy's sampled spans go as they end (recorder.ts): each is encoded at once
// (otlpSpans.ts) and only its bytes wait for the export; a batch goes out when it holds
// maxBatchSpans spans or scheduledDelayMs after its first span, whichever comes first.
//
// Bounds: spans queued or being exported are at most maxSpans, and their encoded bytes at most
// maxBytes (both from the memory budget, budget.ts); beyond either, a span is dropped and
// counted (queue_full), never held. An export that fails, or that the transport does not
// answer, is counted (export_failed); the transport's own timeout bounds how long an export
// holds its bytes. Exports run off the request path and their failures never reach a request.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { EncodableSpan, SpanBatchEncoder } from './otlpSpans.ts';

/** Sends one encoded export request; answers exactly once (the transport's timeout included). */
export interface SpanTransport {
  send(body: Uint8Array, spans: number, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

export interface SpanQueueOptions {
  encoder: SpanBatchEncoder;
  transport: SpanTransport;
  maxSpans: number;
  maxBytes: number;
  maxBatchSpans: number;
  scheduledDelayMs: number;
  onDropped: (reason: 'queue_full' | 'export_failed', spans: number, error?: Error) => void;
  onExported: (spans: number) => void;
}

export class SpanQueue {
  #o: SpanQueueOptions;
  /** Spans and bytes encoded and not yet answered by an export. */
  #pendingSpans = 0;
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(options: SpanQueueOptions) {
    this.#o = options;
  }

  /** Spans encoded and not yet answered by an export (queued or being exported). */
  get pendingSpans(): number {
    return this.#pendingSpans;
  }

  /** Encodes an ended, sampled span into the current batch, or drops it (counted) when the queue is full. */
  add(span: EncodableSpan): void {
    if (this.#closed) return;
    const { encoder } = this.#o;
    if (this.#pendingSpans >= this.#o.maxSpans || this.#pendingBytes >= this.#o.maxBytes) {
      this.#o.onDropped('queue_full', 1);
      return;
    }
    this.#pendingBytes += encoder.add(span);
    this.#pendingSpans += 1;
    if (encoder.count >= this.#o.maxBatchSpans) this.#flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flush(), this.#o.scheduledDelayMs);
      this.#timer.unref();
    }
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const { encoder, transport } = this.#o;
    const spans = encoder.count;
    if (spans === 0) return;
    const bytes = encoder.byteLength;
    const body = encoder.take();
    let answered = false;
    let settle: () => void = () => {};
    const exported = new Promise<void>((resolve) => (settle = resolve));
    this.#inFlight.add(exported);
    const done = (result: ExportResult): void => {
      if (answered) return;
      answered = true;
      this.#pendingSpans -= spans;
      this.#pendingBytes -= bytes;
      this.#inFlight.delete(exported);
      if (result.code === ExportResultCode.SUCCESS) this.#o.onExported(spans);
      else this.#o.onDropped('export_failed', spans, result.error);
      settle();
    };
    try {
      transport.send(body, spans, done);
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err as Error });
    }
  }

  /** Sends what is queued and waits for every export under way. */
  async forceFlush(): Promise<void> {
    this.#flush();
    await Promise.all(this.#inFlight);
  }

  async shutdown(): Promise<void> {
    if (this.#closed) return;
    await this.forceFlush();
    this.#closed = true;
    await this.#o.transport.shutdown();
  }
}
