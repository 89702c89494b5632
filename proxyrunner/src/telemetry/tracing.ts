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
// Bounds: ended spans wait in a BatchSpanProcessor queue sized from the memory budget
// (budget.ts spanQueueSize); the processor in front of it counts queued + exporting spans and
// drops beyond the bound, counted in mcpfleet_proxy_trace_spans_dropped_total{reason}, as are
// spans whose export failed. Export runs off the request path and its failures never reach a
// request. shutdown() flushes within a timeout.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type Span as SdkSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../../../common/log.ts';
import type { Exchange } from '../http/exchange.ts';
import type { UpstreamTransport } from '../config.ts';
import { VERSION } from '../version.ts';
import type { TelemetryConfig } from './config.ts';
import {
  clientSideAttributes,
  errorTypeOf,
  mcpAttributes,
  metaCarrier,
  rpcOutcome,
  sessionIdAttribute,
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
  /** Unit tests put their own exporter here; otherwise OTLP per the config. */
  exporter?: SpanExporter;
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
  // Spans accepted by the bounded processor and not yet answered by an export.
  const pending = { count: 0 };
  const exporter = new CountingExporter(deps.exporter ?? (await createExporter(config)), (count, result) => {
    pending.count -= count;
    if (result.code === ExportResultCode.SUCCESS) {
      exported.inc(count);
      return;
    }
    dropped.inc({ reason: 'export_failed' }, count);
    const now = Date.now();
    if (now - lastFailureLog > 60_000) {
      lastFailureLog = now;
      deps.log.warn('span export failed (spans dropped and counted; logged at most once a minute)', { err: result.error, spans: count });
    }
  });
  const batch = new BatchSpanProcessor({
    exporter,
    maxQueueSize: deps.maxQueuedSpans,
    maxExportBatchSize: Math.min(512, deps.maxQueuedSpans),
    scheduledDelayMillis: 1_000,
    exportTimeoutMillis: 10_000,
  });
  const processor = new BoundedProcessor(batch, deps.maxQueuedSpans, pending, () => dropped.inc({ reason: 'queue_full' }));
  const provider = new TracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({
        'service.name': config.serviceName,
        'service.version': VERSION,
        'telemetry.distro.name': 'mcpfleet',
        ...config.resourceAttributes,
      }),
    ),
    // At rate 1 the ratio sampler samples every trace too, but hashes each trace id to decide.
    sampler: new ParentBasedSampler({ root: config.samplingRate >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(config.samplingRate) }),
    spanLimits: { attributeCountLimit: 32, attributeValueLengthLimit: 1024, eventCountLimit: 8, linkCountLimit: 0 },
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('mcpfleet-proxyrunner', VERSION);
  const propagator = new W3CTraceContextPropagator();
  const { transport, target, inject } = deps.upstream;
  // Past the upstream deadline (which answers the client with an error), plus a margin; 5 min when none.
  const answerWaitMs = (deps.upstreamResponseTimeoutMs > 0 ? deps.upstreamResponseTimeoutMs : 300_000) + 1_000;
  const upstreamAttrs = upstreamAttributes(transport, target);
  const sessionHashes = new SessionIdHashes();

  return {
    begin: (exchange) => {
      const rpc = exchange.rpc;
      const first = rpc?.messages.find((m) => m.method !== undefined);
      if (!rpc || !first) return; // responses to server requests: part of another operation
      const { req } = exchange;
      const carrier: Record<string, string | string[] | undefined> = req.headers.traceparent !== undefined ? req.headers : (metaCarrier(first) ?? {});
      const parent = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
      const name = spanName(first);
      const attributes = mcpAttributes(first, sessionIdAttribute(exchange.sessionId, config.sessionId, sessionHashes), req.headers);
      // Attributes go on after the start, not in its options: the SDK validates options'
      // attributes twice (once for the sampler, once against the span limits), setAttributes once.
      const server = tracer.startSpan(name, SERVER_SPAN, parent);
      server.setAttributes(attributes).setAttributes(clientSideAttributes(req.socket.remoteAddress, req.socket.remotePort, req.httpVersion));
      const client = tracer.startSpan(name, CLIENT_SPAN, trace.setSpan(ROOT_CONTEXT, server));
      client.setAttributes(upstreamCallAttributes(first)).setAttributes(upstreamAttrs);
      const upstreamCarrier: Record<string, string> = {};
      propagator.inject(trace.setSpan(ROOT_CONTEXT, client), upstreamCarrier, defaultTextMapSetter);
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
      const tracedId = first.id;
      const observed = inject === 'meta' && tracedId !== undefined && tracedId !== null;
      if (inject === 'header') exchange.upstreamTrace = upstreamCarrier;
      else for (const message of rpc.messages) if (message.method !== undefined && message.id !== undefined) withMetaContext(message, upstreamCarrier);
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
      const done = provider.shutdown().then(
        () => 'flushed' as const,
        (err: unknown) => (deps.log.warn('span flush failed at shutdown', { err: err as Error }), 'flushed' as const),
      );
      if ((await Promise.race([done, timeout])) === 'timeout')
        deps.log.warn('span flush did not finish within the shutdown timeout; the rest is dropped', { timeoutMs });
      clearTimeout(timer);
    },
  };
}

const SERVER_SPAN = { kind: SpanKind.SERVER } as const;
const CLIENT_SPAN = { kind: SpanKind.CLIENT } as const;

function end(span: Span, status: number, outcome: RpcOutcome | undefined): void {
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

async function createExporter(config: TelemetryConfig): Promise<SpanExporter> {
  const ca = config.caFile ? readFileSync(config.caFile, 'utf8') : undefined;
  if (config.protocol === 'grpc') {
    const [{ OTLPTraceExporter }, grpc] = await Promise.all([import('@opentelemetry/exporter-trace-otlp-grpc'), import('@grpc/grpc-js')]);
    const metadata = new grpc.Metadata();
    for (const [name, value] of Object.entries(config.headers)) metadata.set(name, value);
    const credentials =
      config.tracesUrl.protocol === 'https:'
        ? grpc.credentials.createSsl(ca ? Buffer.from([...tls.rootCertificates, ca].join('\n')) : null)
        : grpc.credentials.createInsecure();
    return new OTLPTraceExporter({ url: config.tracesUrl.href, metadata, credentials, timeoutMillis: 10_000 });
  }
  // http/json: the same OTLP/HTTP export with the body encoded by JSON.stringify, not the SDK's
  // JavaScript protobuf writer (the larger part of the tracing CPU: bench/tracing.ts).
  const { OTLPTraceExporter } =
    config.protocol === 'http/json' ? await import('@opentelemetry/exporter-trace-otlp-http') : await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter({
    url: config.tracesUrl.href,
    headers: config.headers,
    timeoutMillis: 10_000,
    httpAgentOptions: { keepAlive: true, ...(ca ? { ca: [...tls.rootCertificates, ca] } : {}) },
  });
}

/** Reports every export's outcome, once, whatever the inner exporter does. */
class CountingExporter implements SpanExporter {
  #inner: SpanExporter;
  #report: (count: number, result: ExportResult) => void;

  constructor(inner: SpanExporter, report: (count: number, result: ExportResult) => void) {
    this.#inner = inner;
    this.#report = report;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    let answered = false;
    const finish = (result: ExportResult): void => {
      if (answered) return;
      answered = true;
      this.#report(spans.length, result);
      done(result);
    };
    try {
      this.#inner.export(spans, finish);
    } catch (err) {
      finish({ code: ExportResultCode.FAILED, error: err as Error });
    }
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * In front of the batch processor: a sampled span is queued only while fewer than `max` spans
 * are queued or being exported; otherwise it is dropped and counted (the batch processor would
 * drop it too, but only after its own queue filled, and silently).
 */
class BoundedProcessor implements SpanProcessor {
  #inner: SpanProcessor;
  #max: number;
  #pending: { count: number };
  #onDrop: () => void;

  constructor(inner: SpanProcessor, max: number, pending: { count: number }, onDrop: () => void) {
    this.#inner = inner;
    this.#max = max;
    this.#pending = pending;
    this.#onDrop = onDrop;
  }

  onStart(span: SdkSpan, context: Context): void {
    this.#inner.onStart(span, context);
  }

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.#pending.count >= this.#max) {
      this.#onDrop();
      return;
    }
    this.#pending.count += 1;
    this.#inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }
}
