// Every wait on a message-based upstream (stdio, legacy SSE, streamable HTTP behind the
// SSE frontend) is bounded by --upstream-response-timeout. A Link decorator, so each
// upstream kind gets the same rule from one place:
//   - each client request goes upstream under a link-unique numeric id, and one timer is
//     armed for it (re-armed by every progress notification for it: a server that
//     reports progress is still answering);
//   - when the timer fires the client gets a JSON-RPC error naming the timeout, the
//     upstream gets notifications/cancelled (never for initialize, which the spec says
//     must not be cancelled), the entry is freed and upstream_errors_total{kind="timeout"}
//     counts it;
//   - an answer for an id this link no longer waits for (timed out, cancelled, or never
//     sent) is dropped, so a late answer can never reach a newer request that reused the
//     client's id;
//   - a second request reusing an id still in flight is answered with a JSON-RPC error
//     and never sent (a backstop: ClientSession refuses it first).
// Invariant: #pending holds exactly the requests sent and not yet answered, timed out,
// cancelled or closed; the upstream_requests_pending gauge moves with it.
import { INVALID_REQUEST, UPSTREAM_ERROR, type RpcId, type RpcMessage } from '../jsonrpc.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { formatDuration } from '../../../common/quantity.ts';
import { errorResponse, idKey, type Connector, type Link, type UpstreamEndReason } from './link.ts';

export interface DeadlineOptions {
  /** 0: no timeout (ids are still rewritten and late answers dropped). */
  timeoutMs: number;
  metrics: ProxyMetrics;
}

interface Entry {
  clientId: RpcId;
  clientKey: string;
  tokenKey: string | undefined;
  isInitialize: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** The connector's links, each with bounded waits. */
export function withDeadlines<C extends Connector>(connector: C, options: DeadlineOptions): Connector {
  const spread = connector.spread;
  return {
    open: async () => new DeadlineLink(await connector.open(), options),
    readiness: () => connector.readiness(),
    close: () => connector.close(),
    ...(spread && { spread: { next: () => spread.next(), openOn: async (key: string) => new DeadlineLink(await spread.openOn(key), options) } }),
  };
}

export class DeadlineLink implements Link {
  onmessage: (message: RpcMessage) => void = () => {};
  onclose: (reason?: UpstreamEndReason) => void = () => {};
  readonly #inner: Link;
  readonly #options: DeadlineOptions;
  readonly #pending = new Map<number, Entry>();
  readonly #byClientId = new Map<string, number>();
  readonly #byToken = new Map<string, number>();
  #nextId = 1;
  #closed = false;

  constructor(inner: Link, options: DeadlineOptions) {
    this.#inner = inner;
    this.#options = options;
    inner.onmessage = (message) => this.#fromUpstream(message);
    inner.onclose = (reason) => {
      this.#clear();
      if (this.#closed) return;
      this.#closed = true;
      this.onclose(reason);
    };
  }

  /** Requests this link still waits for (for tests and diagnostics). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  send(message: RpcMessage): void {
    if (this.#closed) return;
    const { method, id } = message;
    if (method !== undefined && id !== undefined && id !== null) {
      this.#request(message, method, id);
      return;
    }
    if (method === 'notifications/cancelled') {
      const requestId = message.params?.requestId as RpcId | undefined;
      const upstreamId = requestId === undefined || requestId === null ? undefined : this.#byClientId.get(idKey(requestId));
      if (upstreamId === undefined) return; // nothing of this session's is in flight under that id
      this.#forget(upstreamId);
      this.#inner.send({ ...message, params: { ...message.params, requestId: upstreamId } });
      return;
    }
    this.#inner.send(message);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clear();
    this.#inner.close();
  }

  #request(message: RpcMessage, method: string, clientId: RpcId): void {
    const clientKey = idKey(clientId);
    if (this.#byClientId.has(clientKey)) {
      this.#options.metrics.messageRefused('duplicate_request_id');
      this.onmessage(errorResponse(clientId, INVALID_REQUEST, `Request id ${JSON.stringify(clientId)} is already in flight in this session`, 400));
      return;
    }
    const upstreamId = this.#nextId++;
    const token = (message.params?._meta as Record<string, unknown> | undefined)?.progressToken;
    const tokenKey = typeof token === 'string' || typeof token === 'number' ? idKey(token) : undefined;
    const entry: Entry = { clientId, clientKey, tokenKey, isInitialize: method === 'initialize', timer: undefined };
    if (this.#options.timeoutMs > 0) entry.timer = setTimeout(() => this.#timedOut(upstreamId), this.#options.timeoutMs);
    this.#pending.set(upstreamId, entry);
    this.#byClientId.set(clientKey, upstreamId);
    if (tokenKey !== undefined) this.#byToken.set(tokenKey, upstreamId);
    this.#options.metrics.upstreamPending(1);
    this.#inner.send({ ...message, id: upstreamId });
  }

  #fromUpstream(message: RpcMessage): void {
    const { method, id } = message;
    if (method === undefined && id !== undefined && id !== null) {
      const entry = typeof id === 'number' ? this.#pending.get(id) : undefined;
      if (!entry) return; // late (timed out or cancelled) or never ours: dropped
      this.#forget(id as number);
      this.onmessage({ ...message, id: entry.clientId });
      return;
    }
    if (method === 'notifications/progress') {
      const token = message.params?.progressToken;
      const upstreamId = typeof token === 'string' || typeof token === 'number' ? this.#byToken.get(idKey(token)) : undefined;
      const entry = upstreamId === undefined ? undefined : this.#pending.get(upstreamId);
      entry?.timer?.refresh();
    }
    this.onmessage(message);
  }

  #timedOut(upstreamId: number): void {
    const entry = this.#pending.get(upstreamId);
    if (!entry) return;
    this.#forget(upstreamId);
    this.#options.metrics.upstreamError('timeout');
    const limit = formatDuration(this.#options.timeoutMs);
    if (!entry.isInitialize) {
      this.#inner.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: upstreamId, reason: `no answer within ${limit}` } });
    }
    this.onmessage(errorResponse(entry.clientId, UPSTREAM_ERROR, `Upstream MCP server did not answer within ${limit} (--upstream-response-timeout)`, 504));
  }

  #forget(upstreamId: number): void {
    const entry = this.#pending.get(upstreamId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.#pending.delete(upstreamId);
    this.#byClientId.delete(entry.clientKey);
    if (entry.tokenKey !== undefined && this.#byToken.get(entry.tokenKey) === upstreamId) this.#byToken.delete(entry.tokenKey);
    this.#options.metrics.upstreamPending(-1);
  }

  #clear(): void {
    for (const upstreamId of [...this.#pending.keys()]) this.#forget(upstreamId);
  }
}
