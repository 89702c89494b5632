// Streamable HTTP upstream: a transparent pass-through built on http-proxy-3. Requests
// and responses go through unchanged (headers included; SSE streamed as it arrives);
// the proxy only watches status codes and Mcp-Session-Id to keep the session registry
// exact:
//   initialize answered 2xx with Mcp-Session-Id  → session created
//   DELETE answered 2xx or "unknown session"     → removed (client_delete)
//   any other request of a session answered
//   "unknown session"                            → removed (upstream_not_found)
// "Unknown session" is 404, or 400 with a JSON-RPC error saying so (the SDK's and
// server-everything's answer): the exact rule is in unknownSession.ts. Only a 400 of a
// held session has its body (≤ 4 KiB) copied aside while it streams to the client.
//   5xx                                          → kept
// Sessions ended by the proxy (idle, evicted) are DELETEd upstream too, best effort,
// so the upstream does not keep what we dropped.
//
// A well-behaved intermediary (RFC 9110 §7.6.1): hop-by-hop headers (Connection and
// every header it names, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade,
// Transfer-Encoding, Expect) are stripped in both directions; the proxy frames each
// message itself. A POST body is the buffer the pipeline read; GET and DELETE carry
// none upstream. So nothing a client sends can change how the pooled upstream
// connection is framed or kept; Node's agent returns a socket to the pool only after a
// complete keep-alive response, and http-proxy destroys it when the client leaves
// mid-response.
//
// With `--session-storage redis` (deps.fleet) the session table is the fleet's: a
// session ID unknown here is looked up in Redis, initialize is answered only once the
// new session is in Redis, and every close goes through the store, which counts it once
// (sessions/fleet.ts). While Redis is down, initialize and every request with a session
// ID are answered 503 (`session_store_unavailable`).
//
// Session IDs follow one rule both ways (`sessionIdProblem`): an upstream that issues
// an ID the proxy would refuse from a client gets its initialize answered 502 (the
// client never sees that ID) and that upstream session DELETEd.
//
// With `--backend-service` (deps.backends) there are several backend pods: each initialize
// goes to the ready pod with the fewest sessions and the session is pinned there for its
// life (the pin is stored with the session: here, and in Redis in fleet mode, so every
// replica routes it alike); requests without a session go round-robin. A session whose pod
// is no longer ready ends as `upstream_closed` and its requests are answered 404, so the
// client re-initializes (MCP: a 404 for a session ID means start a new session); a session
// ID the proxy does not hold is answered 404 here (no pod to ask). With
// `--session-recovery replay` such a session is re-initialized on a live pod instead and
// the request replayed (backends/recovery.ts; the session's server-side state is lost).
// No ready pod: 503 `no_ready_backend`.
//
// The one exception to pass-through: a response to a list request that authorization
// filters (exchange.rewriteResponse) is parsed, rewritten and re-framed within a bound
// (http/responseRewrite.ts).
import { http, httpClient, loadHttps } from '../../../common/builtins.ts';
import { createProxyServer } from 'http-proxy-3';
import type { ServerResponse, IncomingMessage, ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import type { Stream } from 'node:stream';
import { INVALID_REQUEST, UPSTREAM_ERROR, sessionIdProblem } from '../jsonrpc.ts';
import { hopByHopNames } from '../http/hopByHop.ts';
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { Session, SessionRegistry } from '../sessions.ts';
import { reject, replyError, type Exchange } from '../http/exchange.ts';
import { forwardRewritten } from '../http/responseRewrite.ts';
import type { Route } from '../http/pipeline.ts';
import { classifyUpstreamError, UpstreamTimeoutError } from './errors.ts';
import { UNKNOWN_SESSION_BODY_LIMIT, isUnknownSessionAnswer, needsBody } from './unknownSession.ts';
import type { FleetSessions } from '../sessions/fleet.ts';
import type { CloseReason } from '../sessions.ts';
import type { Backend } from '../backends/endpoints.ts';
import type { BackendPool } from '../backends/pool.ts';
import type { BackendMetrics } from '../backends/backendMetrics.ts';
import { encodePin, pinOf, type Pin } from '../backends/pin.ts';
import { reinitialize } from '../backends/recovery.ts';

export interface TransparentSession {
  /** MCP-Protocol-Version last seen from the client, echoed on our own DELETE. */
  protocolVersion: string | undefined;
  /** Fleet mode: when this replica last refreshed the session in the shared store. */
  refreshedAt: number;
  /** `--backend-service`: the session's pin (backends/pin.ts); '' without backends. */
  pin: string;
  /** Bytes of the kept initialize body charged to the buffer budget (released when the session ends). */
  keptBytes: number;
}

/** `--backend-service`: where sessions and stateless requests go. */
export interface BackendRouting {
  pool: BackendPool;
  recovery: 'none' | 'replay';
  metrics: BackendMetrics;
  /** Largest initialize body kept for a replay recovery. */
  maxKeptBytes: number;
  /** Charges a kept initialize body to the buffer budget; false if it is spent (the session is then not recoverable). */
  reserve(bytes: number): boolean;
  /** How long one recovery step (initialize, notifications/initialized) may take. */
  recoveryTimeoutMs: number;
}

export interface TransparentDeps {
  target: URL;
  registry: SessionRegistry<TransparentSession>;
  metrics: ProxyMetrics;
  log: Logger;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  /** Largest list response (JSON body, or one SSE event) parsed for filtering. */
  maxRewriteBytes: number;
  /** Set with `--session-storage redis`: the fleet's table decides. */
  fleet?: FleetSessions<TransparentSession>;
  /** Set with `--backend-service`. */
  backends?: BackendRouting;
}

export interface TransparentUpstream {
  route: Route;
  /** Best-effort DELETE of a session the proxy itself ended. */
  endUpstreamSession(session: Session<TransparentSession>): void;
  /** Best-effort DELETE by ID (fleet mode: the session may never have been seen here). */
  endUpstreamSessionId(id: string): void;
  /** `--backend-service`: a pod left the ready set; its sessions here end (unless replay recovers them on use). */
  backendGone(key: string): void;
  close(): void;
}

interface InFlight {
  exchange: Exchange;
  session: Session<TransparentSession> | undefined;
  timer: NodeJS.Timeout | undefined;
  /** `--backend-service`: the pod this request went to. */
  backend: Backend | undefined;
}

const IN_FLIGHT = Symbol('mcpfleet.inFlight');
type TaggedRequest = IncomingMessage & { [IN_FLIGHT]?: InFlight };

const is2xx = (status: number): boolean => status >= 200 && status < 300;

export function createTransparentUpstream(deps: TransparentDeps): TransparentUpstream {
  const { target, registry, metrics, log, fleet, backends } = deps;
  const end = (id: string, reason: Extract<CloseReason, 'client_delete' | 'upstream_not_found' | 'upstream_closed'>): void => {
    if (fleet) void fleet.ended(id, reason);
    else registry.remove(id, reason);
  };
  const secure = target.protocol === 'https:';
  // One pool of kept-alive upstream sockets; LIFO reuse keeps the warm ones busy and
  // lets the rest go when the upstream's keep-alive timeout closes them. No agent
  // `timeout`: it would arm a socket timer and two listeners on every request.
  const agentOptions = { keepAlive: true, keepAliveMsecs: 30_000, maxFreeSockets: 256, scheduling: 'lifo' as const };
  const agent = secure ? new (loadHttps().Agent)(agentOptions) : new http.Agent(agentOptions);
  const proxy = createProxyServer({
    // A URL object and `toProxy` spare http-proxy two URL parses per request; the path
    // is always the target's (`ignorePath`).
    target,
    toProxy: true,
    agent,
    ignorePath: true,
    changeOrigin: true,
    xfwd: false,
    selfHandleResponse: true,
    connectTimeout: deps.connectTimeoutMs,
  });
  // The in-flight record rides on the request object itself: a WeakMap would make
  // every scavenge trace ephemerons, which measurably slows a proxy's young GC.
  const inflight = {
    get: (req: IncomingMessage): InFlight | undefined => (req as TaggedRequest)[IN_FLIGHT],
    set: (req: IncomingMessage, entry: InFlight): void => {
      (req as TaggedRequest)[IN_FLIGHT] = entry;
    },
  };

  proxy.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) => {
    const entry = inflight.get(req);
    if (!entry || deps.responseTimeoutMs <= 0) return;
    entry.timer = setTimeout(() => proxyReq.destroy(new UpstreamTimeoutError(deps.responseTimeoutMs)), deps.responseTimeoutMs);
  });

  proxy.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse) => {
    const entry = inflight.get(req);
    if (!entry) return;
    clearTimeout(entry.timer);
    const status = proxyRes.statusCode ?? 0;
    const { exchange } = entry;
    const issued = proxyRes.headers['mcp-session-id'];
    const issuedProblem = issued === undefined ? undefined : typeof issued === 'string' ? sessionIdProblem(issued) : 'Mcp-Session-Id sent more than once';
    if (exchange.rpc?.isInitialize && is2xx(status) && issuedProblem !== undefined) {
      refuseIssuedSession(proxyRes, exchange, issued as string | string[], issuedProblem, entry.backend?.url ?? (backends ? undefined : target));
      return;
    }
    if (fleet && exchange.rpc?.isInitialize && is2xx(status) && typeof issued === 'string') {
      // Answered only once the fleet knows the session: a client must never hold an ID
      // another replica would not recognise.
      proxyRes.pause();
      const pin = newPin(entry);
      fleet.created(issued, pin).then(
        (stored) => {
          if (stored) {
            if (entry.backend) backends?.pool.pin(issued, entry.backend.key);
            relay(proxyRes, req, res, entry, status, issued, issuedProblem);
            proxyRes.resume(); // paused explicitly above: a new 'data' listener does not restart it
          } else {
            proxyRes.destroy();
            deleteUpstream(issued, undefined, entry.backend?.url ?? (backends ? undefined : target));
            reject(
              exchange,
              metrics,
              'session_store_unavailable',
              503,
              UPSTREAM_ERROR,
              'Session store unavailable: the session could not be recorded; retry shortly',
              { headers: { 'retry-after': '1' } },
            );
          }
        },
        (err: unknown) => {
          proxyRes.destroy();
          log.warn('fleet create failed', { err: err as Error });
          replyError(exchange, 503, UPSTREAM_ERROR, 'Session store unavailable');
        },
      );
      return;
    }
    relay(proxyRes, req, res, entry, status, issued, issuedProblem);
  });

  function relay(
    proxyRes: IncomingMessage,
    req: IncomingMessage,
    res: ServerResponse,
    entry: InFlight,
    status: number,
    issued: string | string[] | undefined,
    issuedProblem: string | undefined,
  ): void {
    const { exchange } = entry;
    // An unusable ID on any other response is not passed on either: the client would
    // adopt an ID the proxy then refuses.
    // A recovered session's upstream ID is the proxy's business: the client keeps its own.
    const rewritten = entry.session !== undefined && backends !== undefined && pinOf(entry.session.data)?.upstreamId !== undefined;
    const headers = endToEndHeaders(proxyRes.rawHeaders, issuedProblem !== undefined || rewritten);
    const rewrite = exchange.rewriteResponse && is2xx(status) ? exchange.rewriteResponse : undefined;
    if (!rewrite) {
      try {
        res.writeHead(status || 502, headers);
      } catch (err) {
        proxyRes.destroy();
        metrics.upstreamError('protocol');
        log.warn('upstream response headers could not be relayed', { err: err as Error });
        replyError(exchange, 502, UPSTREAM_ERROR, 'Upstream MCP server sent a response the proxy cannot relay (invalid header)');
        return;
      }
    }
    const contentType = proxyRes.headers['content-type'];
    if (typeof contentType === 'string' && contentType.startsWith('text/event-stream')) exchange.markStream();
    if (rewrite) forwardRewritten(proxyRes, res, status, headers, rewrite, deps.maxRewriteBytes, () => metrics.upstreamError('protocol'));
    else forwardBody(proxyRes, res);

    if (exchange.rpc?.isInitialize && is2xx(status)) {
      if (typeof issued === 'string' && !fleet) {
        const pin = newPin(entry);
        const kept = pin.length > 0 && backends?.recovery === 'replay' ? chargeKept(pin) : { pin, keptBytes: 0 };
        registry.add(issued, { protocolVersion: undefined, refreshedAt: 0, pin: kept.pin, keptBytes: kept.keptBytes });
        if (entry.backend) backends?.pool.pin(issued, entry.backend.key);
      }
      return;
    }
    const id = exchange.sessionId;
    if (id === undefined) return;
    const reason = req.method === 'DELETE' ? 'client_delete' : 'upstream_not_found';
    if (req.method === 'DELETE' && is2xx(status)) end(id, reason);
    else if (needsBody(status) && registry.has(id)) {
      readBounded(proxyRes, UNKNOWN_SESSION_BODY_LIMIT, (body) => {
        if (isUnknownSessionAnswer(status, body)) end(id, reason);
      });
    } else if (isUnknownSessionAnswer(status, undefined) && (!fleet || entry.session)) end(id, reason);
  }

  /** The pin of a session an initialize just created ('' without backends). */
  function newPin(entry: InFlight): string {
    if (!backends || !entry.backend) return '';
    const body = entry.exchange.body;
    const keep = backends.recovery === 'replay' && body !== undefined && body.length <= backends.maxKeptBytes;
    return encodePin({ backend: entry.backend.key, ...(keep && { initialize: body.toString('utf8') }) });
  }

  /** Charges a pin's kept initialize body to the budget, or drops the body (not recoverable) when the budget is spent. */
  function chargeKept(pin: string): { pin: string; keptBytes: number } {
    const decoded = pinOf({ pin });
    if (!backends || decoded?.initialize === undefined) return { pin, keptBytes: 0 };
    if (backends.reserve(pin.length)) return { pin, keptBytes: pin.length };
    return { pin: encodePin({ backend: decoded.backend }), keptBytes: 0 };
  }

  /** initialize succeeded upstream with an ID the proxy would refuse: end it there, tell the client why. */
  function refuseIssuedSession(proxyRes: IncomingMessage, exchange: Exchange, issued: string | string[], problem: string, backendUrl: URL | undefined): void {
    proxyRes.destroy(); // the body is not needed; the socket is not reused
    metrics.upstreamError('invalid_session_id');
    log.warn('upstream issued an unusable session id; session ended', { problem });
    for (const id of Array.isArray(issued) ? issued : [issued]) deleteUpstream(id, undefined, backendUrl);
    replyError(exchange, 502, UPSTREAM_ERROR, `Upstream MCP server issued an unusable Mcp-Session-Id (${problem}); the proxy ended that session`);
  }

  // A safety net: errors are handled per request in `onError`; this only stops an
  // unexpected emit from crashing the process.
  proxy.on('error', (err: Error) => log.warn('proxy error', { err }));

  function onError(err: Error, req: IncomingMessage, res: ServerResponse | Socket): void {
    const entry = inflight.get(req);
    if (entry) clearTimeout(entry.timer);
    const { kind, status, message } = classifyUpstreamError(err);
    metrics.upstreamError(kind);
    log.warn('upstream request failed', { kind, err, method: req.method });
    if (!entry || !('setHeader' in res)) {
      res.destroy();
      return;
    }
    replyError(entry.exchange, status, UPSTREAM_ERROR, message);
  }

  const storeDown = (exchange: Exchange): void =>
    reject(
      exchange,
      metrics,
      'session_store_unavailable',
      503,
      UPSTREAM_ERROR,
      'Session store unavailable: sessions cannot be checked or recorded right now; retry shortly',
      { headers: { 'retry-after': '1' } },
    );

  const route: Route = {
    methods: ['POST', 'GET', 'DELETE'],
    handle(exchange) {
      if (exchange.rpc?.isInitialize && exchange.sessionId !== undefined) {
        // The same rule as the message path: a session starts with initialize, it is not re-initialized.
        reject(exchange, metrics, 'invalid_request', 400, INVALID_REQUEST, 'Bad Request: initialize must be sent without Mcp-Session-Id');
        return;
      }
      if (!fleet) {
        forward(exchange, exchange.sessionId !== undefined ? registry.get(exchange.sessionId) : undefined);
        return;
      }
      if (exchange.sessionId === undefined) {
        if (exchange.rpc?.isInitialize && !fleet.ready) storeDown(exchange);
        else forward(exchange, undefined);
        return;
      }
      return fleet.lookup(exchange.sessionId).then((found) => {
        if (found.kind === 'unavailable') storeDown(exchange);
        else if (!exchange.res.destroyed) forward(exchange, found.kind === 'found' ? found.session : undefined);
      });
    },
  };

  /** Where this request goes with `--backend-service`; answers it itself when nowhere. */
  function forward(exchange: Exchange, session: Session<TransparentSession> | undefined): void {
    if (!backends) {
      send(exchange, session, undefined);
      return;
    }
    const { pool } = backends;
    if (session) {
      const pin = pinOf(session.data);
      const backend = pin ? pool.get(pin.backend) : undefined;
      if (backend) {
        pool.pin(session.id, backend.key); // a session first seen here (fleet mode) is counted on its pod
        send(exchange, session, backend);
      } else void lost(exchange, session, pin);
      return;
    }
    if (exchange.sessionId !== undefined) {
      reject(exchange, metrics, 'unknown_session', 404, INVALID_REQUEST, 'Session not found: initialize a new session');
      return;
    }
    const backend = exchange.rpc?.isInitialize ? pool.leastSessions() : pool.next();
    if (backend) send(exchange, undefined, backend);
    else noBackend(exchange);
  }

  function noBackend(exchange: Exchange): void {
    const why = backends?.pool.synced ? 'no backend pod is ready' : 'the backend pods are not known yet (endpoint discovery has not listed them)';
    reject(exchange, metrics, 'no_ready_backend', 503, UPSTREAM_ERROR, `Service unavailable: ${why}; retry shortly`, { headers: { 'retry-after': '1' } });
  }

  /** Recoveries in progress, so concurrent requests of one session re-initialize it once. */
  const recovering = new Map<string, Promise<Backend | undefined>>();

  /** The session's pod is gone: end it (404, the client re-initializes) or, with replay, move it. */
  async function lost(exchange: Exchange, session: Session<TransparentSession>, pin: Pin | undefined): Promise<void> {
    if (!backends) return;
    if (backends.recovery !== 'replay' || pin?.initialize === undefined) {
      if (backends.recovery === 'replay') backends.metrics.recovery('not_recoverable');
      end(session.id, 'upstream_closed');
      reject(exchange, metrics, 'unknown_session', 404, INVALID_REQUEST, 'Session not found: the backend pod that held it went away; initialize a new session');
      return;
    }
    let moving = recovering.get(session.id);
    if (!moving) {
      moving = recover(session, pin.initialize).finally(() => recovering.delete(session.id));
      recovering.set(session.id, moving);
    }
    const backend = await moving;
    if (exchange.res.destroyed || exchange.res.headersSent) return;
    if (backend) send(exchange, session, backend);
    else if (!backends.pool.readyCount) noBackend(exchange);
    else
      reject(exchange, metrics, 'unknown_session', 404, INVALID_REQUEST, 'Session not found: the backend pod that held it went away; initialize a new session');
  }

  async function recover(session: Session<TransparentSession>, initialize: string): Promise<Backend | undefined> {
    if (!backends) return undefined;
    if (fleet) {
      // Another replica may have moved it already: follow its pin rather than move it twice.
      const latest = await fleet.currentPin(session.id);
      const moved = latest === undefined ? undefined : pinOf({ pin: latest });
      const there = moved ? backends.pool.get(moved.backend) : undefined;
      if (moved && there) {
        backends.pool.pin(session.id, there.key);
        return there;
      }
    }
    const backend = backends.pool.leastSessions();
    if (!backend) {
      backends.metrics.recovery('no_ready_backend'); // kept: a pod may come back
      return undefined;
    }
    const result = await reinitialize(backend.url, initialize, session.data.protocolVersion, backends.recoveryTimeoutMs);
    if (result instanceof Error) {
      backends.metrics.recovery('failed');
      log.warn('session recovery failed; session ended', { backend: backend.key, err: result });
      end(session.id, 'upstream_closed');
      return undefined;
    }
    const pin = encodePin({ backend: backend.key, upstreamId: result.upstreamId, initialize });
    session.data.pin = pin;
    backends.pool.pin(session.id, backend.key);
    if (fleet && !(await fleet.repinned(session.id, pin))) {
      backends.metrics.recovery('failed');
      deleteUpstream(result.upstreamId, session.data.protocolVersion, backend.url);
      return undefined;
    }
    backends.metrics.recovery('recovered');
    log.info('session recovered on another backend pod (its server-side state is lost)', { backend: backend.key });
    return backend;
  }

  function send(exchange: Exchange, session: Session<TransparentSession> | undefined, backend: Backend | undefined): void {
    const { req, res } = exchange;
    const entry: InFlight = { exchange, session, timer: undefined, backend };
    const upstreamId = session && backend ? pinOf(session.data)?.upstreamId : undefined;
    if (upstreamId !== undefined) req.headers['mcp-session-id'] = upstreamId;
    inflight.set(req, entry);
    if (session) {
      const version = req.headers['mcp-protocol-version'];
      if (typeof version === 'string' && version.length < 32) session.data.protocolVersion = version;
    }
    // The client's credentials are for this proxy only: the MCP specification forbids
    // passing a token through (the upstream could replay it). http-proxy copies
    // req.headers into the upstream request.
    if (req.headers.authorization !== undefined) delete req.headers.authorization;
    // A response that will be filtered must arrive readable (uncompressed).
    if (exchange.rewriteResponse) delete req.headers['accept-encoding'];
    // Tracing on: the upstream call's context replaces the client's (same trace, the proxy's span as parent).
    const traceHeaders = exchange.upstreamTrace;
    if (traceHeaders) for (const name in traceHeaders) req.headers[name] = traceHeaders[name];
    const release = session ? registry.acquire(session) : undefined;
    exchange.onClose(() => {
      clearTimeout(entry.timer);
      release?.();
    });
    const body = exchange.body ?? EMPTY;
    stripHopByHop(req, body.length);
    proxy.web(req, res, backend ? { buffer: replay(body), target: backend.url } : { buffer: replay(body) }, onError);
  }

  // Upstream DELETEs for sessions we dropped are a courtesy, not a duty: a few at a time,
  // and beyond a bounded backlog we let the upstream's own expiry handle the rest, so an
  // eviction storm cannot become a memory or socket storm.
  const deleteBacklog: [id: string, version: string | undefined, url: URL][] = [];
  let deletesInFlight = 0;
  const MAX_DELETES_IN_FLIGHT = 4;
  const MAX_DELETE_BACKLOG = 1_000;

  function endUpstreamSession(session: Session<TransparentSession>): void {
    if (!backends) return deleteUpstream(session.id, session.data.protocolVersion, target);
    const pin = pinOf(session.data);
    const backend = pin ? backends.pool.get(pin.backend) : undefined;
    if (pin && backend) deleteUpstream(pin.upstreamId ?? session.id, session.data.protocolVersion, backend.url);
  }

  /** `url` undefined: the pod is not known here (its own expiry ends the session). */
  function deleteUpstream(id: string, version: string | undefined, url: URL | undefined): void {
    if (url === undefined || deleteBacklog.length >= MAX_DELETE_BACKLOG) return;
    deleteBacklog.push([id, version, url]);
    pumpDeletes();
  }

  function pumpDeletes(): void {
    while (deletesInFlight < MAX_DELETES_IN_FLIGHT && deleteBacklog.length > 0) {
      const [id, version, url] = deleteBacklog.shift() as [string, string | undefined, URL];
      const headers: Record<string, string> = { 'mcp-session-id': id };
      if (version) headers['mcp-protocol-version'] = version;
      let request: ClientRequest;
      try {
        request = httpClient(secure).request(url, { method: 'DELETE', headers, agent, timeout: 10_000 });
      } catch (err) {
        log.warn('upstream DELETE not sent', { err: err as Error });
        continue; // an ID that cannot be a header value cannot be deleted either
      }
      deletesInFlight++;
      request.once('close', () => {
        deletesInFlight--;
        pumpDeletes();
      });
      request.on('response', (response) => response.resume());
      request.on('timeout', () => request.destroy());
      request.on('error', () => {});
      request.end();
    }
  }

  return {
    route,
    endUpstreamSession,
    backendGone(key) {
      if (!backends || backends.recovery === 'replay') return;
      for (const id of backends.pool.sessionsOn(key)) end(id, 'upstream_closed');
    },
    // Fleet mode closes by ID; with backends the pod is known only from a local copy.
    endUpstreamSessionId: (id) => {
      const local = registry.get(id);
      if (local) endUpstreamSession(local);
      else deleteUpstream(id, undefined, backends ? undefined : target);
    },
    close() {
      proxy.close();
      agent.destroy();
    },
  };
}

/**
 * http-proxy pipes `options.buffer` into the upstream request. The body is already in
 * memory, so "piping" it is a single end(): no stream machinery per request.
 */
function replay(body: Buffer): Stream {
  return { pipe: <T extends NodeJS.WritableStream>(destination: T): T => (destination.end(body), destination) } as unknown as Stream;
}

const EMPTY = Buffer.alloc(0);

/**
 * The client's request headers as the upstream should see them: hop-by-hop ones
 * removed, and the body framed by us (a Content-Length for exactly the bytes we send).
 * Edits `req.headers` in place, which http-proxy copies from.
 */
function stripHopByHop(req: IncomingMessage, bodyLength: number): void {
  const headers = req.headers;
  for (const name of hopByHopNames(headers.connection)) delete headers[name];
  delete headers['content-length'];
  delete headers.expect; // the body is already here: there is nothing left to expect
  if (bodyLength > 0 || req.method === 'POST') headers['content-length'] = String(bodyLength);
}

/** The upstream's headers as a flat [name, value, …] list (order, case and repeats kept), minus hop-by-hop ones. */
function endToEndHeaders(raw: readonly string[], dropSessionId: boolean): string[] {
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2)
    if ((raw[i] as string).toLowerCase() === 'connection') connection = connection === undefined ? raw[i + 1] : `${connection},${raw[i + 1]}`;
  const drop = hopByHopNames(connection);
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (!drop.has(lower) && !(dropSessionId && lower === 'mcp-session-id')) kept.push(name, raw[i + 1] as string);
  }
  return kept;
}

/**
 * Streams the upstream body to the client as it arrives, pausing the upstream while the
 * client's socket is full. Written out rather than `pipe()`, which wires and unwires
 * six listeners per response: on a proxy that is most of a small answer's cost. If the
 * upstream breaks off mid-body, the client's response is torn down too, so it sees a
 * reset instead of waiting forever.
 */
function forwardBody(proxyRes: IncomingMessage, res: ServerResponse): void {
  const resume = (): void => void proxyRes.resume();
  proxyRes.on('data', (chunk: Buffer) => {
    if (!res.write(chunk)) {
      proxyRes.pause();
      res.once('drain', resume);
    }
  });
  proxyRes.on('end', () => res.end());
  proxyRes.on('error', () => res.destroy());
}

/** Copies up to `limit` bytes of a body that is streaming elsewhere; `undefined` if longer or broken off. */
function readBounded(stream: IncomingMessage, limit: number, done: (body: string | undefined) => void): void {
  let chunks: Buffer[] | undefined = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    if (!chunks) return;
    size += chunk.length;
    if (size > limit) chunks = undefined;
    else chunks.push(chunk);
  });
  stream.on('end', () => done(chunks ? Buffer.concat(chunks).toString('utf8') : undefined));
}
