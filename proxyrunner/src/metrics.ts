// Prometheus instruments of the proxy. Every label is bounded: HTTP methods and status
// codes, known MCP method names (else "other"), fixed reason sets. No session IDs.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CounterChild, type HistogramChild } from '../../common/promClient.ts';
import { CLOSE_REASONS, type CloseReason } from './sessions.ts';

export const REJECT_REASONS = [
  'body_too_large',
  'malformed_json',
  'invalid_request',
  'invalid_session_id',
  'unknown_session',
  'method_not_allowed',
  'not_found',
  'not_acceptable',
  'upstream_unavailable',
  'http_version',
  'request_target',
  'overloaded',
  'forbidden',
  'session_store_unavailable',
  'no_ready_backend',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Why an upstream message was dropped instead of delivered (its requester gets a JSON-RPC error). */
export const DROP_REASONS = ['too_large', 'over_budget'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export const UPSTREAM_ERROR_KINDS = ['connect', 'timeout', 'reset', 'protocol', 'process_exit', 'invalid_session_id'] as const;
export type UpstreamErrorKind = (typeof UPSTREAM_ERROR_KINDS)[number];

/** JSON-RPC messages the proxy refused to relay between a session and the upstream. */
export const MESSAGE_REFUSAL_REASONS = [
  'duplicate_request_id',
  'foreign_response',
  'unattributable_server_request',
  'unanswered_server_request',
  'foreign_task',
  'stateless_server_request',
] as const;
export type MessageRefusalReason = (typeof MESSAGE_REFUSAL_REASONS)[number];

const HTTP_METHODS = new Set(['GET', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PUT', 'PATCH']);

export interface ProxyMetrics {
  readonly registry: Registry;
  sessionCreated(): void;
  sessionClosed(reason: CloseReason): void;
  requestDone(httpMethod: string, status: number, rpcMethod: string, seconds: number): void;
  requestStarted(): void;
  requestEnded(): void;
  streamOpened(): void;
  streamClosed(): void;
  rejected(reason: RejectReason): void;
  upstreamError(kind: UpstreamErrorKind): void;
  messageRefused(reason: MessageRefusalReason): void;
  /** A request sent to a message-based upstream (+1) or answered, timed out or dropped (-1). */
  upstreamPending(delta: number): void;
  upstreamRestarted(): void;
  setUpstreamUp(up: boolean): void;
  /** A bug caught by a last-resort handler (pipeline or process). */
  internalError(): void;
  /** An upstream message too large to hold; `attributed` when its requester was told. */
  messageDropped(reason: DropReason, attributed: boolean): void;
  /** A stream cut because its reader fell too far behind. */
  streamCut(): void;
}

/** The memory budget as the metrics see it (limits, and live use read at scrape time). */
export interface BudgetGauges {
  limits: { connections: number; streams: number; messageBytes: number; bufferedBytes: number };
  openConnections(): number;
  bufferedBytes(): number;
}

export interface MetricsOptions {
  /** Read at scrape time, so the gauge is the registry's size at that instant. */
  activeSessions: () => number;
  memoryLimitBytes: number | undefined;
  info: { version: string; transport: string; proxyMode: string };
  budget?: BudgetGauges;
  defaultMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions): ProxyMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics(registry);

  new Gauge({
    name: 'mcpfleet_proxy_sessions_active',
    help: 'MCP sessions the proxy holds right now (read from the session registry at scrape time).',
    registers: [registry],
    collect() {
      this.set(options.activeSessions());
    },
  });
  const created = new Counter({
    name: 'mcpfleet_proxy_sessions_created_total',
    help: 'MCP sessions created (the upstream answered initialize with a session).',
    registers: [registry],
  });
  const closed = new Counter({
    name: 'mcpfleet_proxy_sessions_closed_total',
    help: 'MCP sessions removed, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of CLOSE_REASONS) closed.inc({ reason }, 0);

  const requests = new Counter({
    name: 'mcpfleet_proxy_requests_total',
    help: 'HTTP requests answered, by HTTP method, status code and JSON-RPC method.',
    labelNames: ['method', 'status', 'rpc_method'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'mcpfleet_proxy_request_duration_seconds',
    help: 'Time from request to the end of its response (streams opened by GET excluded).',
    labelNames: ['method', 'rpc_method'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  // Plain numbers on the hot path, read by the gauges at scrape time: a prom-client
  // inc/dec per request costs more than the request's own bookkeeping.
  let inFlightCount = 0;
  let streamsOpenCount = 0;
  new Gauge({
    name: 'mcpfleet_proxy_requests_in_flight',
    help: 'Requests being handled now.',
    registers: [registry],
    collect() {
      this.set(inFlightCount);
    },
  });
  new Gauge({
    name: 'mcpfleet_proxy_streams_open',
    help: 'Open server-to-client event streams (SSE responses and GET streams).',
    registers: [registry],
    collect() {
      this.set(streamsOpenCount);
    },
  });
  const rejectedCounter = new Counter({
    name: 'mcpfleet_proxy_requests_rejected_total',
    help: 'Requests the proxy refused before reaching the upstream, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of REJECT_REASONS) rejectedCounter.inc({ reason }, 0);
  const upstreamErrors = new Counter({
    name: 'mcpfleet_proxy_upstream_errors_total',
    help: 'Failures talking to the upstream MCP server, by kind.',
    labelNames: ['kind'],
    registers: [registry],
  });
  for (const kind of UPSTREAM_ERROR_KINDS) upstreamErrors.inc({ kind }, 0);
  const internalErrors = new Counter({
    name: 'mcpfleet_proxy_internal_errors_total',
    help: 'Errors caught only by a last-resort handler (a request handler that threw, an unhandled rejection): bugs, each logged.',
    registers: [registry],
  });
  const refusedMessages = new Counter({
    name: 'mcpfleet_proxy_messages_refused_total',
    help: 'JSON-RPC messages not relayed between a session and the upstream, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of MESSAGE_REFUSAL_REASONS) refusedMessages.inc({ reason }, 0);
  let upstreamPendingCount = 0;
  new Gauge({
    name: 'mcpfleet_proxy_upstream_requests_pending',
    help: 'Client requests sent to a message-based upstream (stdio, legacy SSE, streamable HTTP behind SSE) and not yet answered.',
    registers: [registry],
    collect() {
      this.set(upstreamPendingCount);
    },
  });
  const restarts = new Counter({ name: 'mcpfleet_proxy_upstream_restarts_total', help: 'Restarts of the stdio upstream process.', registers: [registry] });
  const up = new Gauge({ name: 'mcpfleet_proxy_upstream_up', help: '1 when the upstream was reachable at the last check.', registers: [registry] });
  const limit = new Gauge({ name: 'mcpfleet_proxy_memory_limit_bytes', help: 'Memory limit the heap was sized for (0 if none).', registers: [registry] });
  limit.set(options.memoryLimitBytes ?? 0);
  const info = new Gauge({
    name: 'mcpfleet_proxy_build_info',
    help: 'Version and mode of this proxyrunner.',
    labelNames: ['version', 'transport', 'proxy_mode'],
    registers: [registry],
  });
  info.set({ version: options.info.version, transport: options.info.transport, proxy_mode: options.info.proxyMode }, 1);

  const budget = options.budget;
  const budgetLimit = new Gauge({
    name: 'mcpfleet_proxy_budget_limit',
    help: 'Limits of the memory budget: connections, streams, message_bytes, buffered_bytes.',
    labelNames: ['resource'],
    registers: [registry],
  });
  if (budget) {
    budgetLimit.set({ resource: 'connections' }, budget.limits.connections);
    budgetLimit.set({ resource: 'streams' }, budget.limits.streams);
    budgetLimit.set({ resource: 'message_bytes' }, budget.limits.messageBytes);
    budgetLimit.set({ resource: 'buffered_bytes' }, budget.limits.bufferedBytes);
  }
  new Gauge({
    name: 'mcpfleet_proxy_connections_open',
    help: 'Client connections open on the MCP listener (including ones being refused).',
    registers: [registry],
    collect() {
      this.set(budget?.openConnections() ?? 0);
    },
  });
  new Gauge({
    name: 'mcpfleet_proxy_buffered_bytes',
    help: 'Bytes held now against the buffer budget (bodies, lines and events being read, writes queued for slow readers).',
    registers: [registry],
    collect() {
      this.set(budget?.bufferedBytes() ?? 0);
    },
  });
  const dropped = new Counter({
    name: 'mcpfleet_proxy_upstream_messages_dropped_total',
    help: 'Upstream messages dropped unread (too large, or over the buffer budget), by reason and whether the requester got an error for it.',
    labelNames: ['reason', 'attributed'],
    registers: [registry],
  });
  for (const reason of DROP_REASONS) for (const attributed of ['true', 'false']) dropped.inc({ reason, attributed }, 0);
  const cut = new Counter({
    name: 'mcpfleet_proxy_streams_cut_total',
    help: 'Event streams the proxy closed because the client read too slowly (its queue hit the budget).',
    registers: [registry],
  });

  // Label children are resolved once per distinct combination (bounded) instead of
  // hashing label objects on every request.
  const requestChildren = new Map<string, { count: CounterChild; time: HistogramChild<string> | undefined }>();
  const childFor = (method: string, status: number, rpcMethod: string) => {
    const key = `${method} ${status} ${rpcMethod}`;
    let child = requestChildren.get(key);
    if (!child) {
      const m = HTTP_METHODS.has(method) ? method : 'other';
      const s = status >= 100 && status <= 599 ? String(status) : 'other';
      child = { count: requests.labels(m, s, rpcMethod), time: method === 'GET' ? undefined : duration.labels(m, rpcMethod) };
      requestChildren.set(key, child);
    }
    return child;
  };

  return {
    registry,
    sessionCreated: () => created.inc(),
    sessionClosed: (reason) => closed.inc({ reason }),
    requestDone(method, status, rpcMethod, seconds) {
      const child = childFor(method, status, rpcMethod);
      child.count.inc();
      child.time?.observe(seconds);
    },
    requestStarted: () => void inFlightCount++,
    requestEnded: () => void inFlightCount--,
    streamOpened: () => void streamsOpenCount++,
    streamClosed: () => void streamsOpenCount--,
    rejected: (reason) => rejectedCounter.inc({ reason }),
    upstreamError: (kind) => upstreamErrors.inc({ kind }),
    messageRefused: (reason) => refusedMessages.inc({ reason }),
    upstreamPending: (delta) => void (upstreamPendingCount += delta),
    upstreamRestarted: () => restarts.inc(),
    setUpstreamUp: (value) => up.set(value ? 1 : 0),
    internalError: () => internalErrors.inc(),
    messageDropped: (reason, attributed) => dropped.inc({ reason, attributed: String(attributed) }),
    streamCut: () => cut.inc(),
  };
}
