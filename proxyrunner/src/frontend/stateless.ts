// Stateless requests (the 2026-07-28 revision: no Mcp-Session-Id, no initialize) served
// through message-based upstreams (stdio, legacy SSE), which only speak sessions. The
// proxy holds ONE upstream session of its own for all stateless traffic (a channel): it
// initializes it itself, then sends each stateless request through it under a
// channel-unique id, and maps the answer back to the POST that carried the request.
// Invariants:
//   - answers never cross: every request goes upstream under an id no other request in
//     flight has (two clients both sending id 1 get their own answers), and progress
//     tokens are rewritten the same way, so progress reaches only the POST that asked;
//   - an answer for an id the channel no longer waits for (the client left, the request
//     timed out) is dropped;
//   - no session state is created: the session registry, its gauge and its counters do not
//     move; the channel itself is counted (stateless_channels_opened_total);
//   - bounded: at most `maxInFlight` stateless requests wait at once (the memory budget's
//     connection limit: each one holds a client connection, already charged to it); the
//     next gets 503 + Retry-After (requests_rejected_total{reason="overloaded"}). Every
//     wait is bounded: opening and initializing the channel by `initTimeoutMs`, each
//     request by --upstream-response-timeout (the connector's DeadlineLink);
//   - the server cannot reach a stateless client: a server-to-client request on the
//     channel is answered with a JSON-RPC error (messages_refused_total
//     {reason="stateless_server_request"}), notifications other than a request's own
//     progress are dropped (there is no stream to carry them);
//   - the channel dies with its upstream session (stdio process exit, SSE stream closed):
//     the requests waiting on it get a JSON-RPC error (502) and the next stateless request
//     opens a new channel.
// `server/discover` is answered by the proxy from the channel's initialize result.
// With --stdio-isolation session (perRequest) each stateless POST gets a channel, hence
// a process, of its own, closed once the POST is answered: isolation holds for it too.
// With several processes (stdio attached to several pods: Connector.spread) stateless POSTs
// go round-robin over them, through one channel per process (at most one per attached pod;
// a pod's channel ends with its attach).
import { Gauge, Counter } from '../../../common/promClient.ts';
import { INVALID_REQUEST, UPSTREAM_ERROR, type RpcId, type RpcMessage } from '../jsonrpc.ts';
import { reject, responseHook, type Exchange } from '../http/exchange.ts';
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { errorResponse, idKey, type Connector, type Link } from '../upstream/link.ts';
import { PostCall } from './clientSession.ts';

/** The protocol revision whose stateless requests this serves. */
export const STATELESS_REVISION = '2026-07-28';
/** What the proxy asks the upstream for when it initializes the channel (the newest session revision). */
export const CHANNEL_PROTOCOL_VERSION = '2025-11-25';

export interface StatelessOptions {
  connector: Connector;
  metrics: ProxyMetrics;
  log: Logger;
  /** Stateless requests waiting for an answer at once, across channels. */
  maxInFlight: number;
  /** Opening the upstream session and its initialize answer, together. */
  initTimeoutMs: number;
  /** One channel per POST (--stdio-isolation session) instead of one shared channel. */
  perRequest: boolean;
}

interface Waiter {
  call: PostCall;
  key: string;
  originalId: RpcId;
  /** The client's progress token, and the one the channel sent instead. */
  token: { original: string | number; channel: string } | undefined;
  rewrite: ((message: RpcMessage) => RpcMessage) | undefined;
}

/** One initialized upstream session carrying stateless requests. */
export class StatelessChannel {
  onclose: () => void = () => {};
  readonly #link: Link;
  readonly #metrics: ProxyMetrics;
  readonly #waiting = new Map<number, Waiter>();
  readonly #byToken = new Map<string, Waiter>();
  #initialize: ((message: RpcMessage) => void) | undefined;
  #initializeResult: Record<string, unknown> = {};
  #nextId = 1;
  #closed = false;

  private constructor(link: Link, metrics: ProxyMetrics) {
    this.#link = link;
    this.#metrics = metrics;
    link.onmessage = (message) => this.#fromUpstream(message);
    link.onclose = () => this.#ended('the upstream ended the session carrying stateless requests');
  }

  /** Opens an upstream session and initializes it; rejects (and closes it) past `timeoutMs`. */
  static async open(connector: Connector | (() => Promise<Link>), metrics: ProxyMetrics, timeoutMs: number): Promise<StatelessChannel> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, rejectTimeout) => {
      timer = setTimeout(() => rejectTimeout(new Error(`no initialized upstream session within ${timeoutMs} ms`)), timeoutMs);
    });
    const opening = typeof connector === 'function' ? connector() : connector.open();
    try {
      const link = await Promise.race([opening, expired]);
      const channel = new StatelessChannel(link, metrics);
      try {
        await Promise.race([channel.#handshake(), expired]);
      } catch (err) {
        channel.close();
        throw err;
      }
      return channel;
    } catch (err) {
      // An open that completes after the timeout must not leak its upstream session.
      opening.then((link) => link.close()).catch(() => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The upstream's initialize result (capabilities, serverInfo, instructions, protocolVersion). */
  get initializeResult(): Record<string, unknown> {
    return this.#initializeResult;
  }

  get inFlight(): number {
    return this.#waiting.size;
  }

  async #handshake(): Promise<void> {
    const answer = await new Promise<RpcMessage>((resolve) => {
      this.#initialize = resolve;
      this.#link.send({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: CHANNEL_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'mcpfleet-proxy-stateless', version: '1' } },
      });
    });
    if (answer.result === undefined || typeof answer.result !== 'object' || answer.result === null) {
      throw new Error(`upstream refused initialize: ${JSON.stringify(answer.error ?? null).slice(0, 200)}`);
    }
    this.#initializeResult = answer.result as Record<string, unknown>;
    this.#link.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }

  /** Sends a POST's requests upstream; their answers settle `call`. */
  send(requests: readonly RpcMessage[], call: PostCall, rewrite: ((message: RpcMessage) => RpcMessage) | undefined): void {
    for (const request of requests) {
      const originalId = request.id as RpcId;
      const key = idKey(originalId);
      if (this.#closed) {
        call.respond(key, errorResponse(originalId, UPSTREAM_ERROR, 'the upstream session carrying stateless requests ended'));
        continue;
      }
      const channelId = this.#nextId++;
      let params = request.params;
      const meta = params?._meta as Record<string, unknown> | undefined;
      const original = meta?.progressToken;
      let token: Waiter['token'];
      if (typeof original === 'string' || typeof original === 'number') {
        token = { original, channel: `mcpfleet-stateless-${channelId}` };
        params = { ...params, _meta: { ...meta, progressToken: token.channel } };
      }
      const waiter: Waiter = { call, key, originalId, token, rewrite };
      this.#waiting.set(channelId, waiter);
      if (token) this.#byToken.set(token.channel, waiter);
      this.#link.send({ ...request, id: channelId, ...(params ? { params } : {}) });
    }
  }

  /** The POST's client left: its requests are cancelled upstream, their answers dropped. */
  abandon(call: PostCall): void {
    for (const [channelId, waiter] of this.#waiting) {
      if (waiter.call !== call) continue;
      this.#forget(channelId, waiter);
      if (!this.#closed) {
        this.#link.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: channelId, reason: 'client disconnected' } });
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#link.close();
    this.#ended('the proxy closed the upstream session carrying stateless requests');
  }

  #fromUpstream(message: RpcMessage): void {
    const { id, method } = message;
    if (method === undefined) {
      if (id === 0 && this.#initialize) {
        const settle = this.#initialize;
        this.#initialize = undefined;
        settle(message);
        return;
      }
      const waiter = typeof id === 'number' ? this.#waiting.get(id) : undefined;
      if (!waiter) return; // late, cancelled or never ours
      this.#forget(id as number, waiter);
      const answer = { ...message, id: waiter.originalId };
      waiter.call.respond(waiter.key, waiter.rewrite ? waiter.rewrite(answer) : answer);
      return;
    }
    if (id !== undefined && id !== null) {
      // A server-to-client request: no stateless client can answer it.
      this.#metrics.messageRefused('stateless_server_request');
      this.#link.send({
        jsonrpc: '2.0',
        id,
        error: { code: INVALID_REQUEST, message: 'mcpfleet proxy: a stateless client cannot answer server requests' },
      });
      return;
    }
    if (method === 'notifications/progress') {
      const token = message.params?.progressToken;
      const waiter = typeof token === 'string' ? this.#byToken.get(token) : undefined;
      if (waiter?.token && !waiter.call.done) waiter.call.related({ ...message, params: { ...message.params, progressToken: waiter.token.original } });
    }
    // Any other notification has no stream to go to (stateless clients open none).
  }

  #forget(channelId: number, waiter: Waiter): void {
    this.#waiting.delete(channelId);
    if (waiter.token) this.#byToken.delete(waiter.token.channel);
  }

  #ended(why: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#initialize) this.#initialize({ jsonrpc: '2.0', id: 0, error: { code: UPSTREAM_ERROR, message: why } });
    this.#initialize = undefined;
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    this.#byToken.clear();
    for (const waiter of waiting) waiter.call.respond(waiter.key, errorResponse(waiter.originalId, UPSTREAM_ERROR, why));
    this.onclose();
  }
}

/** The stateless side of the streamable-HTTP frontend for message-based upstreams. */
export class StatelessGateway {
  readonly #options: StatelessOptions;
  #shared: Promise<StatelessChannel> | undefined;
  /** Connector.spread (stdio attached to several pods): one channel per process, by its key. */
  readonly #perProcess = new Map<string, Promise<StatelessChannel>>();
  #inFlight = 0;
  readonly #opened: Counter;

  constructor(options: StatelessOptions) {
    this.#options = options;
    const registry = options.metrics.registry;
    this.#opened = new Counter({
      name: 'mcpfleet_proxy_stateless_channels_opened_total',
      help: 'Upstream sessions the proxy opened and initialized itself to carry stateless (2026-07-28) requests to a stdio or legacy-SSE upstream.',
      registers: [registry],
    });
    const inFlight = (): number => this.#inFlight;
    new Gauge({
      name: 'mcpfleet_proxy_stateless_requests_in_flight',
      help: 'Stateless (2026-07-28) requests sent through a proxy-held upstream session and not yet answered.',
      registers: [registry],
      collect() {
        this.set(inFlight());
      },
    });
  }

  /** Requests waiting now (for tests). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** A POST without Mcp-Session-Id that is not initialize. */
  async handle(exchange: Exchange): Promise<void> {
    const { metrics } = this.#options;
    const rpc = exchange.rpc;
    if (!rpc) return;
    const requests = rpc.messages.filter((m) => m.method !== undefined && m.id !== undefined && m.id !== null);
    if (requests.length === 0) {
      // Notifications and responses have nowhere to go without a session: accepted, dropped.
      exchange.res.writeHead(202).end();
      return;
    }
    // Distinct within the body: the parser refuses a batch whose requests share an id.
    const keys = requests.map((request) => idKey(request.id as RpcId));
    if (this.#inFlight + requests.length > this.#options.maxInFlight) {
      reject(exchange, metrics, 'overloaded', 503, UPSTREAM_ERROR, `Too many stateless requests in flight (${this.#options.maxInFlight}); retry shortly`, {
        headers: { 'retry-after': '1' },
      });
      return;
    }
    this.#inFlight += requests.length;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#inFlight -= requests.length;
    };
    exchange.onClose(release);
    let channel: StatelessChannel;
    try {
      channel = await this.#channel();
    } catch (err) {
      release();
      metrics.upstreamError('connect');
      this.#options.log.warn('no upstream session for stateless requests', { err: err as Error });
      reject(exchange, metrics, 'upstream_unavailable', 503, UPSTREAM_ERROR, `Upstream MCP server unavailable: ${(err as Error).message}`, {
        headers: { 'retry-after': '1' },
      });
      return;
    }
    const perRequest = this.#options.perRequest;
    if (exchange.res.destroyed) {
      if (perRequest) channel.close();
      return;
    }
    const call = new PostCall(exchange.res, keys);
    exchange.onClose(() => {
      channel.abandon(call);
      if (perRequest) channel.close();
    });
    const upstream: RpcMessage[] = [];
    for (const request of requests) {
      if (request.method === 'server/discover') call.respond(idKey(request.id as RpcId), discoverAnswer(request.id as RpcId, channel.initializeResult));
      else upstream.push(request);
    }
    if (upstream.length > 0) channel.send(upstream, call, responseHook(exchange));
  }

  async close(): Promise<void> {
    const channels = [this.#shared, ...this.#perProcess.values()];
    this.#shared = undefined;
    this.#perProcess.clear();
    for (const channel of channels) if (channel) (await channel.catch(() => undefined))?.close();
  }

  #channel(): Promise<StatelessChannel> {
    const { connector, metrics, initTimeoutMs, perRequest } = this.#options;
    const open = (): Promise<StatelessChannel> =>
      StatelessChannel.open(connector, metrics, initTimeoutMs).then((channel) => {
        this.#opened.inc();
        return channel;
      });
    if (perRequest) return open();
    // Several processes: round-robin over them, one channel each (bounded by the pods attached).
    const key = connector.spread?.next();
    if (key !== undefined && connector.spread) {
      const spread = connector.spread;
      const existing = this.#perProcess.get(key);
      if (existing) return existing;
      const opening = StatelessChannel.open(() => spread.openOn(key), metrics, initTimeoutMs).then(
        (channel) => {
          this.#opened.inc();
          channel.onclose = () => {
            if (this.#perProcess.get(key) === opening) this.#perProcess.delete(key);
          };
          return channel;
        },
        (err: unknown) => {
          if (this.#perProcess.get(key) === opening) this.#perProcess.delete(key);
          throw err;
        },
      );
      this.#perProcess.set(key, opening);
      return opening;
    }
    if (this.#shared) return this.#shared;
    const opening = open().then(
      (channel) => {
        channel.onclose = () => {
          if (this.#shared === opening) this.#shared = undefined;
        };
        return channel;
      },
      (err: unknown) => {
        if (this.#shared === opening) this.#shared = undefined;
        throw err;
      },
    );
    this.#shared = opening;
    return opening;
  }
}

/** server/discover (2026-07-28) from what the upstream said in its initialize answer. */
export function discoverAnswer(id: RpcId, init: Record<string, unknown>): RpcMessage {
  const negotiated = typeof init['protocolVersion'] === 'string' ? init['protocolVersion'] : undefined;
  const result: Record<string, unknown> = {
    resultType: 'complete',
    supportedVersions: negotiated && negotiated !== STATELESS_REVISION ? [STATELESS_REVISION, negotiated] : [STATELESS_REVISION],
    capabilities: init['capabilities'] ?? {},
  };
  if (init['serverInfo'] !== undefined) result['_meta'] = { 'io.modelcontextprotocol/serverInfo': init['serverInfo'] };
  if (typeof init['instructions'] === 'string') result['instructions'] = init['instructions'];
  return { jsonrpc: '2.0', id, result };
}
