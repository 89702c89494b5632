// One HTTP request/response as it passes through the pipeline: what we learned about
// it, and the instrumentation that records it exactly once when the response closes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { RpcBody, RpcId, RpcMessage } from '../jsonrpc.ts';
import { rpcErrorBody } from '../jsonrpc.ts';
import type { ProxyMetrics, RejectReason } from '../metrics.ts';
import type { Principal } from '../auth/principal.ts';

export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Mcp-Session-Id sent by the client, already checked for syntax. */
  sessionId: string | undefined;
  body: Buffer | undefined;
  rpc: RpcBody | undefined;
  /** Metric label for the JSON-RPC method ("none" when there is no body). */
  rpcLabel: string;
  /** Who sent it, set by the authentication stage (auth/); undefined when authentication is off. */
  principal: Principal | undefined;
  /** Set by the access stage: applied to each response to this exchange's requests (list filtering). */
  rewriteResponse: ((message: RpcMessage) => RpcMessage) | undefined;
  /** Set by tracing (telemetry/) on the message path: sees each response to this exchange's requests, after any rewrite. */
  observeResponse: ((message: RpcMessage) => void) | undefined;
  /** Set by tracing (telemetry/) on the transparent path: the W3C trace context headers to send upstream. */
  upstreamTrace: Readonly<Record<string, string>> | undefined;
  /** Set by the tool stage on routes whose answers travel on the session's stream (legacy SSE): answers the proxy gives itself. */
  localAnswers: RpcMessage[] | undefined;
  /** Marks the response as an event stream (counted in streams_open until it closes). */
  markStream(): void;
  /** Runs when the response closes, finished or not. */
  onClose(fn: () => void): void;
}

/**
 * What the message path applies to each response to the exchange's requests: the rewrite
 * (list filtering), then the observer (tracing); undefined when neither is set.
 */
export function responseHook(exchange: Exchange): ((message: RpcMessage) => RpcMessage) | undefined {
  const { rewriteResponse: rewrite, observeResponse: observe } = exchange;
  if (!observe) return rewrite;
  return (message) => {
    const answered = rewrite ? rewrite(message) : message;
    observe(answered);
    return answered;
  };
}

export function beginExchange(req: IncomingMessage, res: ServerResponse, metrics: ProxyMetrics): Exchange {
  const started = performance.now();
  let streaming = false;
  let closers: (() => void)[] | undefined;
  metrics.requestStarted();
  const exchange: Exchange = {
    req,
    res,
    sessionId: undefined,
    body: undefined,
    rpc: undefined,
    rpcLabel: 'none',
    principal: undefined,
    rewriteResponse: undefined,
    observeResponse: undefined,
    upstreamTrace: undefined,
    localAnswers: undefined,
    markStream() {
      if (streaming) return;
      streaming = true;
      metrics.streamOpened();
    },
    onClose(fn) {
      (closers ??= []).push(fn);
    },
  };
  res.once('close', () => {
    metrics.requestEnded();
    if (streaming) metrics.streamClosed();
    // No status was ever sent: the client left first (499, nginx's "client closed request").
    const status = res.headersSent ? res.statusCode : 499;
    const method = req.method ?? 'other';
    metrics.requestDone(method, status, exchange.rpcLabel, (performance.now() - started) / 1000);
    if (closers) for (const fn of closers) fn();
  });
  return exchange;
}

/** Answers with a JSON-RPC error body; `close` asks the client to drop the connection. */
export function replyError(
  exchange: Exchange,
  status: number,
  code: number,
  message: string,
  options: { id?: RpcId | null; close?: boolean; headers?: Record<string, string> } = {},
): void {
  writeRpcError(exchange.res, status, options.id ?? exchange.rpc?.errorId ?? null, code, message, options);
}

/** The JSON-RPC error answer itself, for callers that have no exchange (last-resort handlers). */
export function writeRpcError(
  res: ServerResponse,
  status: number,
  id: RpcId | null,
  code: number,
  message: string,
  options: { close?: boolean; headers?: Record<string, string> } = {},
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = rpcErrorBody(id, code, message);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(body));
  if (options.close) res.setHeader('connection', 'close');
  for (const [name, value] of Object.entries(options.headers ?? {})) res.setHeader(name, value);
  res.end(body);
}

export function reject(
  exchange: Exchange,
  metrics: ProxyMetrics,
  reason: RejectReason,
  status: number,
  code: number,
  message: string,
  options: { close?: boolean; headers?: Record<string, string> } = {},
): void {
  metrics.rejected(reason);
  replyError(exchange, status, code, message, options);
}
