// The span queue's bounds and batching, with real encoders and spans from the recorder: spans
// and bytes past the bound are dropped and counted, never held; a full batch goes at once, a
// partial one after the delay; failed, thrown and late exports are counted once; shutdown waits
// for exports under way and takes nothing after it.
import { describe, expect, it } from '@jest/globals';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { AlwaysOnSampler } from '@opentelemetry/sdk-trace';
import { PooledIdGenerator } from './ids.ts';
import { spanBatchEncoder } from './otlpSpans.ts';
import { SpanRecorder, type RecordedSpan } from './recorder.ts';
import { SpanQueue, type SpanQueueOptions, type SpanTransport } from './spanQueue.ts';

const SOURCE = { resource: { attributes: { 'service.name': 't' } }, scope: { name: 's' } };
const recorder = new SpanRecorder(new AlwaysOnSampler(), new PooledIdGenerator(), { attributeCountLimit: 32, attributeValueLengthLimit: 1024 }, () => {});

function span(text = 'x'): RecordedSpan {
  const s = recorder.startServer('tools/call t', ROOT_CONTEXT);
  s.setAttribute('text', text);
  s.end();
  return s;
}

interface Sent {
  body: Uint8Array;
  spans: number;
  done: (result: ExportResult) => void;
}

function queue(options: Partial<SpanQueueOptions> = {}): { queue: SpanQueue; sent: Sent[]; drops: Record<string, number>; exported: () => number } {
  const sent: Sent[] = [];
  const drops: Record<string, number> = { queue_full: 0, export_failed: 0 };
  let exported = 0;
  const transport: SpanTransport = { send: (body, spans, done) => void sent.push({ body, spans, done }), shutdown: async () => {} };
  const q = new SpanQueue({
    encoder: spanBatchEncoder('protobuf', SOURCE),
    transport,
    maxSpans: 100,
    maxBytes: 1 << 20,
    maxBatchSpans: 10,
    scheduledDelayMs: 60_000,
    onDropped: (reason, count) => (drops[reason] = (drops[reason] ?? 0) + count),
    onExported: (count) => (exported += count),
    ...options,
  });
  return { queue: q, sent, drops, exported: () => exported };
}

describe('span queue', () => {
  it('sends a batch as soon as it is full, and counts what the endpoint accepted', () => {
    const { queue: q, sent, exported } = queue();
    for (let i = 0; i < 25; i++) q.add(span());
    expect(sent.map((s) => s.spans)).toEqual([10, 10]);
    expect(q.pendingSpans).toBe(25);
    for (const s of sent) s.done({ code: ExportResultCode.SUCCESS });
    expect(exported()).toBe(20);
    expect(q.pendingSpans).toBe(5);
  });

  it('sends a partial batch after the delay', async () => {
    const { queue: q, sent } = queue({ scheduledDelayMs: 20 });
    q.add(span());
    expect(sent).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(sent.map((s) => s.spans)).toEqual([1]);
  });

  it('holds at most maxSpans while the endpoint does not answer, and counts the rest', () => {
    const { queue: q, sent, drops } = queue({ maxSpans: 30 });
    for (let i = 0; i < 100; i++) q.add(span());
    expect(q.pendingSpans).toBe(30);
    expect(drops['queue_full']).toBe(70);
    // The endpoint fails them: counted, and the room is back.
    for (const s of sent) s.done({ code: ExportResultCode.FAILED, error: new Error('down') });
    expect(drops['export_failed']).toBe(30);
    expect(q.pendingSpans).toBe(0);
    q.add(span());
    expect(q.pendingSpans).toBe(1);
  });

  it('holds at most maxBytes of encoded spans, whatever their number', () => {
    const { queue: q, drops } = queue({ maxBytes: 4096, maxSpans: 1000, maxBatchSpans: 1000 });
    const big = 'y'.repeat(1000);
    for (let i = 0; i < 50; i++) q.add(span(big));
    // Each span is over 1,000 bytes: at most 4 fit under 4 KiB (the last may cross it).
    expect(q.pendingSpans).toBeLessThanOrEqual(5);
    expect(drops['queue_full']).toBe(50 - q.pendingSpans);
  });

  it('counts an export once, whether the transport throws, answers twice, or answers late', () => {
    const thrown = queue({
      transport: {
        send: () => {
          throw new Error('socket');
        },
        shutdown: async () => {},
      },
    });
    for (let i = 0; i < 10; i++) thrown.queue.add(span());
    expect(thrown.drops['export_failed']).toBe(10);
    expect(thrown.queue.pendingSpans).toBe(0);
    const twice = queue();
    for (let i = 0; i < 10; i++) twice.queue.add(span());
    twice.sent[0]!.done({ code: ExportResultCode.SUCCESS });
    twice.sent[0]!.done({ code: ExportResultCode.FAILED, error: new Error('late') });
    expect(twice.exported()).toBe(10);
    expect(twice.drops['export_failed']).toBe(0);
    expect(twice.queue.pendingSpans).toBe(0);
  });

  it('sends what it holds at shutdown, waits for the exports under way, and takes nothing after', async () => {
    const { queue: q, sent } = queue();
    for (let i = 0; i < 3; i++) q.add(span());
    let closed = false;
    const shutdown = q.shutdown().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(sent.map((s) => s.spans)).toEqual([3]);
    expect(closed).toBe(false);
    sent[0]!.done({ code: ExportResultCode.SUCCESS });
    await shutdown;
    q.add(span());
    expect(q.pendingSpans).toBe(0);
  });
});
