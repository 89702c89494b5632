// The export queue's bound, with the real SDK and an exporter that never answers (a stuck
// collector): spans beyond the bound are dropped and counted, never held.
import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { Exchange } from '../http/exchange.ts';
import type { RpcMessage } from '../jsonrpc.ts';
import { createLogger } from '../../../common/log.ts';
import { startTracing } from './tracing.ts';

function exchange(message: RpcMessage): { exchange: Exchange; close: () => void } {
  const closers: (() => void)[] = [];
  const req = { headers: {}, socket: { remoteAddress: '127.0.0.1', remotePort: 5000 }, httpVersion: '1.1' } as unknown as IncomingMessage;
  const res = { headersSent: true, statusCode: 200 } as unknown as ServerResponse;
  const ex = {
    req,
    res,
    sessionId: 's',
    rpc: { messages: [message], label: 'tools/call', isInitialize: false, errorId: null },
    upstreamTrace: undefined,
    onClose: (fn: () => void) => closers.push(fn),
  } as unknown as Exchange;
  return { exchange: ex, close: () => closers.forEach((fn) => fn()) };
}

describe('tracing export queue', () => {
  it('holds at most maxQueuedSpans for a stuck exporter and counts every drop', async () => {
    const held: { spans: ReadableSpan[]; done: (result: ExportResult) => void }[] = [];
    const stuck: SpanExporter = {
      export: (spans: ReadableSpan[], done: (result: ExportResult) => void) => void held.push({ spans, done }),
      shutdown: async () => {},
    };
    const registry = new Registry();
    const tracing = await startTracing(
      {
        tracesUrl: new URL('http://127.0.0.1:1/v1/traces'),
        protocol: 'http/protobuf',
        headers: {},
        headerNames: [],
        caFile: undefined,
        samplingRate: 1,
        serviceName: 't',
        resourceAttributes: {},
        sessionId: 'hashed',
      },
      { registry, log: createLogger('error'), maxQueuedSpans: 10, upstream: { transport: 'stdio', target: undefined, inject: 'meta' }, exporter: stuck },
    );
    for (let i = 0; i < 100; i++) {
      const { exchange: ex, close } = exchange({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo' } });
      tracing.begin(ex);
      // The upstream gets the context in params._meta.
      expect((ex.rpc?.messages[0]?.params?.['_meta'] as { traceparent: string }).traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      close();
    }
    const text = await registry.metrics();
    expect(text).toContain('mcpfleet_proxy_trace_spans_dropped_total{reason="queue_full"} 190');
    expect(held.flatMap((h) => h.spans).length).toBeLessThanOrEqual(10);
    // The collector fails them at last: counted as export failures, and the queue has room again.
    for (const { done } of held) done({ code: ExportResultCode.FAILED, error: new Error('collector down') });
    expect(await registry.metrics()).toContain(`mcpfleet_proxy_trace_spans_dropped_total{reason="export_failed"} ${held.flatMap((h) => h.spans).length}`);
    await tracing.shutdown(1_000);
  });
});
