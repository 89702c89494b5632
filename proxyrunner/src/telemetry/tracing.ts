// OpenTelemetry tracing of MCP requests. Loaded only with --otel-endpoint (app.ts imports it
// lazily), so with tracing off none of the SDK is in the process.
//
// Per JSON-RPC POST (the first request of a batch names it):
//   server span  `{mcp.method.name} {tool|prompt}`  kind SERVER, parent = the client's W3C
//                traceparent (HTTP header, else params._meta.traceparent)
//   client span  same name, kind CLIENT, child of the server span: the upstream call, with what
//                describes it (mcp.method.name, jsonrpc.request.id, where it goes: network.*,
//                server.*; its outcome); the request's other MCP attributes are on the server span only
// Its context goes upstream as a `traceparent` header (transparent streamable-HTTP path:
// exchange.upstreamTrace, set on the proxied request) or in each request's params._meta (the
// message path: stdio, legacy SSE and streamable-HTTP upstreams behind the message frontend;
// the HTTP upstreams also send it as a `traceparent` header). Both spans end when the response
// closes. On the message path the proxy sees the upstream's JSON-RPC answer (exchange.observeResponse):
// an error in it, even inside a 200, sets error.type to its code, rpc.response.status_code, and
// the ERROR status with its message (a CallToolResult with isError: error.type `tool_error`), per
// the MCP semantic conventions; otherwise an HTTP status from 400 on is the error.type. The
// transparent path passes answers through unparsed, so there only the HTTP status counts.
// With legacy-SSE clients the POST is answered 202 and the answer comes later on the GET stream:
// there the spans end at that answer (or after the upstream deadline, if none ever comes, e.g.
// the session ended), so they cover the call and carry its outcome.
//
// Bounds: a span is encoded as it ends and only its bytes wait for the export (spanQueue.ts,
// otlpSpans.ts); spans queued or being exported are bounded in number and bytes by the memory
// budget (budget.ts spanQueueSize x SPAN_COST_BYTES), and beyond it dropped and counted in
// mcpfleet_proxy_trace_spans_dropped_total{reason}, as are spans whose export failed. Export
// runs off the request path and its failures never reach a request. shutdown() flushes within
// a timeout.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, type SpanContext } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { Counter, type Registry } from '../../../common/promClient.ts';
import type { Logger } from '../../../common/log.ts';
import type { Exchange } from '../http/exchange.ts';
import type { UpstreamTransport } from '../config.ts';
import { VERSION } from '../version.ts';
import { SPAN_COST_BYTES } from '../budget.ts';
import type { TelemetryConfig } from './config.ts';
import { proxyResource } from './resource.ts';
import { PooledIdGenerator } from './ids.ts';
import { sharedAttributes, spanBatchEncoder } from './otlpSpans.ts';
import { createSpanTransport } from './otlpTransport.ts';
import { SpanRecorder, type RecordedSpan } from './recorder.ts';
import { SpanQueue, type SpanTransport } from './spanQueue.ts';
import {
  clientSideAttributes,
  errorTypeOf,
  mcpAttributes,
  metaCarrier,
  rpcOutcome,
  sessionIdAttribute,
  SERVER_SPAN_CONSTANTS,
  SessionIdHashes,
  spanName,
  upstreamAttributes,
  upstreamCallAttributes,
  withMetaContext,
  type RpcOutcome,
} from './attributes.ts';

export interface TracingDeps {
  registry: Registry;
  log: Logger;
  /** Spans queued or being exported at most (budget.ts spanQueueSize). */
  maxQueuedSpans: number;
  upstream: { transport: UpstreamTransport; target: URL | undefined; inject: 'header' | 'meta' };
  /** --upstream-response-timeout (0 = none): how long the spans of a request answered 202 wait for its answer. */
  upstreamResponseTimeoutMs: number;
  /** Unit tests put their own transport here; otherwise OTLP per the config. */
  transport?: SpanTransport;
}

export interface Tracing {
  /** Starts the spans of a parsed JSON-RPC POST; they end when its response closes. */
  begin: (exchange: Exchange) => void;
  /** Flushes what is queued, within timeoutMs; never rejects. */
  shutdown(timeoutMs: number): Promise<void>;
}

export const DROP_REASONS = ['queue_full', 'export_failed'] as const;

export async function startTracing(config: TelemetryConfig, deps: TracingDeps): Promise<Tracing> {
  const dropped = new Counter({
    name: 'mcpfleet_proxy_trace_spans_dropped_total',
    help: 'Sampled spans not delivered to the OTLP endpoint: the export queue was full (bounded by the memory budget), or the export failed.',
    labelNames: ['reason'],
    registers: [deps.registry],
  });
  const exported = new Counter({
    name: 'mcpfleet_proxy_trace_spans_exported_total',
    help: 'Spans the OTLP endpoint accepted.',
    registers: [deps.registry],
  });
  for (const reason of DROP_REASONS) dropped.inc({ reason }, 0);

  let lastFailureLog = 0;
  const resource = proxyResource(config);
  const queue = new SpanQueue({
    encoder: spanBatchEncoder(config.protocol === 'http/json' ? 'json' : 'protobuf', { resource, scope: SCOPE }),
    transport: deps.transport ?? (await createSpanTransport(config)),
    maxSpans: deps.maxQueuedSpans,
    maxBytes: deps.maxQueuedSpans * SPAN_COST_BYTES,
    maxBatchSpans: Math.min(512, deps.maxQueuedSpans),
    scheduledDelayMs: 1_000,
    onExported: (count) => exported.inc(count),
    onDropped: (reason, count, err) => {
      dropped.inc({ reason }, count);
      if (reason !== 'export_failed') return;
      const now = Date.now();
      if (now - lastFailureLog > 60_000) {
        lastFailureLog = now;
        deps.log.warn('span export failed (spans dropped and counted; logged at most once a minute)', { err, spans: count });
      }
    },
  });
  const recorder = new SpanRecorder(
    // At rate 1 the ratio sampler samples every trace too, but hashes each trace id to decide.
    new ParentBasedSampler({ root: config.samplingRate >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(config.samplingRate) }),
    new PooledIdGenerator(),
    { attributeCountLimit: 32, attributeValueLengthLimit: 1024 },
    (span) => queue.add(span),
  );
  const propagator = new W3CTraceContextPropagator();
  const { transport, target, inject } = deps.upstream;
  // Past the upstream deadline (which answers the client with an error), plus a margin; 5 min when none.
  const answerWaitMs = (deps.upstreamResponseTimeoutMs > 0 ? deps.upstreamResponseTimeoutMs : 300_000) + 1_000;
  // What every server span, and every client span, of this proxy says alike: encoded once.
  const serverShared = sharedAttributes(SERVER_SPAN_CONSTANTS);
  const clientShared = sharedAttributes(upstreamAttributes(transport, target));
  const sessionHashes = new SessionIdHashes();

  return {
    begin: (exchange) => {
      const rpc = exchange.rpc;
      const first = rpc?.messages.find((m) => m.method !== undefined);
      if (!rpc || !first) return; // responses to server requests: part of another operation
      const { req } = exchange;
      const carrier: Record<string, string | string[] | undefined> | undefined = req.headers.traceparent !== undefined ? req.headers : metaCarrier(first);
      const parent = carrier ? propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter) : ROOT_CONTEXT;
      const name = spanName(first);
      const server = recorder.startServer(name, parent, serverShared);
      const client = recorder.startChild(name, SpanKind.CLIENT, server, clientShared);
      const upstreamCarrier = traceContextOf(client.spanContext());
      const tracedId = first.id;
      const observed = inject === 'meta' && tracedId !== undefined && tracedId !== null;
      if (inject === 'header') exchange.upstreamTrace = upstreamCarrier;
      else for (const message of rpc.messages) if (message.method !== undefined && message.id !== undefined) withMetaContext(message, upstreamCarrier);
      // Not sampled: the context still travels (flagged not sampled), and nothing is recorded.
      if (!server.recording) return;
      const clientSide = clientSideAttributes(req.socket.remoteAddress, req.socket.remotePort, req.httpVersion);
      server
        .setAttributes(mcpAttributes(first, sessionIdAttribute(exchange.sessionId, config.sessionId, sessionHashes), req.headers))
        .setAttributes(clientSide);
      client.setAttributes(upstreamCallAttributes(first));
      let outcome: RpcOutcome | undefined;
      let answered = false;
      let closedStatus: number | undefined;
      let timer: NodeJS.Timeout | undefined;
      let ended = false;
      const finish = (status: number): void => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        end(client, status, outcome);
        end(server, status, outcome);
      };
      if (observed)
        exchange.observeResponse = (response) => {
          if (response.id !== tracedId || answered) return;
          answered = true;
          outcome = rpcOutcome(response);
          if (closedStatus !== undefined) finish(closedStatus);
        };
      exchange.onClose(() => {
        const { res } = exchange;
        const status = res.headersSent ? res.statusCode : 499;
        // A 202 to a request (legacy-SSE clients): its answer travels on the GET stream, later.
        // The spans wait for it, at most the answer bound (the upstream deadline answers first).
        if (observed && status === 202 && !answered) {
          closedStatus = status;
          timer = setTimeout(() => finish(status), answerWaitMs);
          timer.unref();
          return;
        }
        finish(status);
      });
    },
    async shutdown(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      const done = queue.shutdown().then(
        () => 'flushed' as const,
        (err: unknown) => (deps.log.warn('span flush failed at shutdown', { err: err as Error }), 'flushed' as const),
      );
      if ((await Promise.race([done, timeout])) === 'timeout')
        deps.log.warn('span flush did not finish within the shutdown timeout; the rest is dropped', { timeoutMs });
      clearTimeout(timer);
    },
  };
}

const SCOPE = { name: 'mcpfleet-proxyrunner', version: VERSION } as const;

function end(span: RecordedSpan, status: number, outcome: RpcOutcome | undefined): void {
  span.setAttribute('http.response.status_code', status);
  if (outcome) {
    span.setAttribute('error.type', outcome.errorType);
    if (outcome.statusCode !== undefined) span.setAttribute('rpc.response.status_code', outcome.statusCode);
    span.setStatus(outcome.description === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message: outcome.description });
  } else {
    const errorType = errorTypeOf(status);
    if (errorType !== undefined) span.setAttribute('error.type', errorType);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/**
 * The W3C trace context headers that carry a span to the upstream (what the W3C propagator's
 * inject writes for a valid, unsuppressed span, without the context it would build first).
 */
export function traceContextOf(span: SpanContext): Record<string, string> {
  const flags = span.traceFlags & 0xff;
  const headers: Record<string, string> = { traceparent: `00-${span.traceId}-${span.spanId}-${flags < 16 ? '0' : ''}${flags.toString(16)}` };
  const state = span.traceState?.serialize();
  if (state) headers['tracestate'] = state;
  return headers;
}
