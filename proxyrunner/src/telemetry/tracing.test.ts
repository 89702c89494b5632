// The tracing module with a transport in place of the OTLP endpoint: the export queue's bound,
// with a transport that never answers (a stuck collector): spans beyond the bound are dropped and
// counted, never held. And what the spans say of a JSON-RPC error inside a 200 answer on the
// message path, read back from the OTLP/JSON bodies the module sends.
import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import { SpanStatusCode } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { Exchange } from '../http/exchange.ts';
import type { RpcMessage } from '../jsonrpc.ts';
import { createLogger } from '../../../common/log.ts';
import type { TelemetryConfig } from './config.ts';
import type { SpanTransport } from './spanQueue.ts';
import { startTracing } from './tracing.ts';

const CONFIG: TelemetryConfig = {
  tracesUrl: new URL('http://127.0.0.1:1/v1/traces'),
  // Bodies in OTLP/JSON here, to read them back; otlpSpans.test.ts holds both encodings to the SDK's.
  protocol: 'http/json',
  headers: {},
  headerNames: [],
  caFile: undefined,
  samplingRate: 1,
  serviceName: 't',
  resourceAttributes: {},
  sessionId: 'hashed',
};

/** A span as a test reads it from an OTLP/JSON body. */
interface SentSpan {
  name: string;
  kind: 'server' | 'client';
  attributes: Record<string, string | number | boolean>;
  status: { code: number; message?: string };
}

interface JsonValue {
  stringValue?: string;
  intValue?: number;
  boolValue?: boolean;
  doubleValue?: number;
}

function spansIn(body: Uint8Array): SentSpan[] {
  const request = JSON.parse(Buffer.from(body).toString()) as {
    resourceSpans: { scopeSpans: { spans: { name: string; kind: number; attributes: { key: string; value: JsonValue }[]; status: SentSpan['status'] }[] }[] }[];
  };
  return request.resourceSpans.flatMap((r) =>
    r.scopeSpans.flatMap((s) =>
      s.spans.map((span) => ({
        name: span.name,
        kind: span.kind === 2 ? ('server' as const) : ('client' as const),
        attributes: Object.fromEntries(
          span.attributes.map(({ key, value }) => [key, value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue ?? '']),
        ),
        status: span.status,
      })),
    ),
  );
}

/** A transport that keeps every span it is sent and answers success. */
function collector(): { transport: SpanTransport; sent: SentSpan[] } {
  const sent: SentSpan[] = [];
  return {
    sent,
    transport: { send: (body, _spans, done) => (sent.push(...spansIn(body)), done({ code: ExportResultCode.SUCCESS })), shutdown: async () => {} },
  };
}

function exchange(message: RpcMessage, statusCode = 200): { exchange: Exchange; close: () => void } {
  const closers: (() => void)[] = [];
  const req = { headers: {}, socket: { remoteAddress: '127.0.0.1', remotePort: 5000 }, httpVersion: '1.1' } as unknown as IncomingMessage;
  const res = { headersSent: true, statusCode } as unknown as ServerResponse;
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
    const held: { spans: number; done: (result: ExportResult) => void }[] = [];
    const stuck: SpanTransport = { send: (_body, spans, done) => void held.push({ spans, done }), shutdown: async () => {} };
    const registry = new Registry();
    const tracing = await startTracing(CONFIG, {
      registry,
      log: createLogger('error'),
      maxQueuedSpans: 10,
      upstream: { transport: 'stdio', target: undefined, inject: 'meta' },
      upstreamResponseTimeoutMs: 0,
      transport: stuck,
    });
    for (let i = 0; i < 100; i++) {
      const { exchange: ex, close } = exchange({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo' } });
      tracing.begin(ex);
      // The upstream gets the context in params._meta.
      expect((ex.rpc?.messages[0]?.params?.['_meta'] as { traceparent: string }).traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      close();
    }
    const text = await registry.metrics();
    expect(text).toContain('mcpfleet_proxy_trace_spans_dropped_total{reason="queue_full"} 190');
    const heldSpans = held.reduce((sum, h) => sum + h.spans, 0);
    expect(heldSpans).toBeLessThanOrEqual(10);
    // The collector fails them at last: counted as export failures, and the queue has room again.
    for (const { done } of held) done({ code: ExportResultCode.FAILED, error: new Error('collector down') });
    expect(await registry.metrics()).toContain(`mcpfleet_proxy_trace_spans_dropped_total{reason="export_failed"} ${heldSpans}`);
    await tracing.shutdown(1_000);
  });
});

describe('a JSON-RPC answer on the message path', () => {
  /** Starts the spans of one tools/call, lets the upstream answer `response` in a 200, and returns the finished spans. */
  async function spansFor(response: Omit<RpcMessage, 'jsonrpc' | 'id'>, inject: 'meta' | 'header' = 'meta'): Promise<SentSpan[]> {
    const { transport, sent } = collector();
    const tracing = await startTracing(CONFIG, {
      registry: new Registry(),
      log: createLogger('error'),
      maxQueuedSpans: 10,
      upstream: { transport: 'stdio', target: undefined, inject },
      upstreamResponseTimeoutMs: 0,
      transport,
    });
    const { exchange: ex, close } = exchange({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo' } });
    tracing.begin(ex);
    // Another request's answer (a batch) says nothing of the traced one.
    ex.observeResponse?.({ jsonrpc: '2.0', id: 4, error: { code: -32601, message: 'Method not found' } });
    ex.observeResponse?.({ jsonrpc: '2.0', id: 3, ...response });
    close();
    await tracing.shutdown(1_000);
    return sent;
  }
  const server = (spans: SentSpan[]): SentSpan => spans.find((s) => s.kind === 'server')!;

  it('records its error code as error.type and rpc.response.status_code, with the ERROR status and its message', async () => {
    const spans = await spansFor({ error: { code: -32602, message: 'Unknown tool: echo' } });
    expect(spans).toHaveLength(2);
    for (const span of spans) {
      expect(span.attributes['http.response.status_code']).toBe(200);
      expect(span.attributes['error.type']).toBe('-32602');
      expect(span.attributes['rpc.response.status_code']).toBe('-32602');
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Unknown tool: echo' });
    }
    expect(server(spans)).toBeDefined();
  });

  it('records a tool result with isError as error.type tool_error', async () => {
    const span = server(await spansFor({ result: { isError: true, content: [{ type: 'text', text: 'boom' }] } }));
    expect(span.attributes['error.type']).toBe('tool_error');
    expect(span.attributes['rpc.response.status_code']).toBeUndefined();
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('leaves a success without error.type and with an unset status', async () => {
    const span = server(await spansFor({ result: { content: [] } }));
    expect(span.attributes['error.type']).toBeUndefined();
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('is not observed on the transparent path (answers pass through unparsed)', async () => {
    const { transport, sent: finished } = collector();
    const tracing = await startTracing(CONFIG, {
      registry: new Registry(),
      log: createLogger('error'),
      maxQueuedSpans: 10,
      upstream: { transport: 'streamable-http', target: new URL('http://127.0.0.1:9/mcp'), inject: 'header' },
      upstreamResponseTimeoutMs: 0,
      transport,
    });
    const { exchange: ex, close } = exchange({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo' } });
    tracing.begin(ex);
    expect(ex.observeResponse).toBeUndefined();
    expect(ex.upstreamTrace?.['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    close();
    await tracing.shutdown(1_000);
    expect(finished).toHaveLength(2);
    // The upstream client span describes the call; the request's other MCP attributes stay on its parent.
    const client = finished.find((s) => s.kind === 'client')!;
    expect(client.attributes).toEqual({
      'mcp.method.name': 'tools/call',
      'jsonrpc.request.id': '3',
      'http.response.status_code': 200,
      'network.transport': 'tcp',
      'network.protocol.name': 'http',
      'server.address': '127.0.0.1',
      'server.port': 9,
    });
    expect(server(finished).attributes).toMatchObject({ 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'echo', 'jsonrpc.protocol.version': '2.0' });
  });
});

describe('a request answered 202 (legacy-SSE clients: the answer comes on the GET stream)', () => {
  async function start(upstreamResponseTimeoutMs: number): Promise<{ tracing: Awaited<ReturnType<typeof startTracing>>; finished: SentSpan[] }> {
    const { transport, sent: finished } = collector();
    const tracing = await startTracing(CONFIG, {
      registry: new Registry(),
      log: createLogger('error'),
      maxQueuedSpans: 10,
      upstream: { transport: 'stdio', target: undefined, inject: 'meta' },
      upstreamResponseTimeoutMs,
      transport,
    });
    return { tracing, finished };
  }

  it('ends its spans at the answer, with the error of the answer on them', async () => {
    const { tracing, finished } = await start(0);
    const { exchange: ex, close } = exchange({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo' } }, 202);
    tracing.begin(ex);
    close(); // the 202
    ex.observeResponse?.({ jsonrpc: '2.0', id: 3, error: { code: -32603, message: 'upstream failed' } });
    await tracing.shutdown(1_000);
    expect(finished).toHaveLength(2);
    for (const span of finished) {
      expect(span.attributes['http.response.status_code']).toBe(202);
      expect(span.attributes['error.type']).toBe('-32603');
    }
  });

  it('ends them after the answer bound when no answer comes (the session ended), without an outcome', async () => {
    const { tracing, finished } = await start(1);
    const { exchange: ex, close } = exchange({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo' } }, 202);
    tracing.begin(ex);
    close();
    for (let i = 0; i < 200 && finished.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(finished).toHaveLength(2);
    expect(finished[0]?.attributes['error.type']).toBeUndefined();
    await tracing.shutdown(1_000);
  });
});
