// Streamable HTTP upstream: a transparent pass-through built on http-proxy-3. Requests
// and responses go through unchanged (headers included; SSE streamed as it arrives);
// the proxy only watches status codes and Mcp-Session-Id to keep the session registry
// exact:
//   initialize answered 2xx with Mcp-Session-Id  → session created
//   DELETE answered 2xx or 404                   → removed (client_delete)
//   any request of a session answered 404        → removed (upstream_not_found)
//   5xx                                          → kept
// Sessions ended by the proxy (idle, evicted) are DELETEd upstream too, best effort,
// so the upstream does not keep what we dropped.
import http from 'node:http';
import https from 'node:https';
import { createProxyServer } from 'http-proxy-3';
import type { ServerResponse, IncomingMessage, ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import type { Stream } from 'node:stream';
import { UPSTREAM_ERROR, sessionIdProblem } from '../jsonrpc.ts';
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { Session, SessionRegistry } from '../sessions.ts';
import { replyError, type Exchange } from '../http/exchange.ts';
import type { Route } from '../http/pipeline.ts';
import { classifyUpstreamError, UpstreamTimeoutError } from './errors.ts';

export interface TransparentSession {
  /** MCP-Protocol-Version last seen from the client, echoed on our own DELETE. */
  protocolVersion: string | undefined;
}

export interface TransparentDeps {
  target: URL;
  registry: SessionRegistry<TransparentSession>;
  metrics: ProxyMetrics;
  log: Logger;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

export interface TransparentUpstream {
  route: Route;
  /** Best-effort DELETE of a session the proxy itself ended. */
  endUpstreamSession(session: Session<TransparentSession>): void;
  close(): void;
}

interface InFlight {
  exchange: Exchange;
  session: Session<TransparentSession> | undefined;
  timer: NodeJS.Timeout | undefined;
}

const IN_FLIGHT = Symbol('mcpfleet.inFlight');
type TaggedRequest = IncomingMessage & { [IN_FLIGHT]?: InFlight };

const is2xx = (status: number): boolean => status >= 200 && status < 300;

export function createTransparentUpstream(deps: TransparentDeps): TransparentUpstream {
  const { target, registry, metrics, log } = deps;
  const secure = target.protocol === 'https:';
  // One pool of kept-alive upstream sockets; LIFO reuse keeps the warm ones busy and
  // lets the rest go when the upstream's keep-alive timeout closes them. No agent
  // `timeout`: it would arm a socket timer and two listeners on every request.
  const agentOptions = { keepAlive: true, keepAliveMsecs: 30_000, maxFreeSockets: 256, scheduling: 'lifo' as const };
  const agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
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
    res.writeHead(status || 502, endToEndHeaders(proxyRes.rawHeaders));
    const contentType = proxyRes.headers['content-type'];
    if (typeof contentType === 'string' && contentType.startsWith('text/event-stream')) exchange.markStream();
    forwardBody(proxyRes, res);

    if (exchange.rpc?.isInitialize && is2xx(status)) {
      const issued = proxyRes.headers['mcp-session-id'];
      if (typeof issued === 'string' && sessionIdProblem(issued) === undefined) {
        registry.add(issued, { protocolVersion: undefined });
      }
      return;
    }
    const id = exchange.sessionId;
    if (id === undefined) return;
    if (req.method === 'DELETE' && (is2xx(status) || status === 404)) registry.remove(id, 'client_delete');
    else if (status === 404) registry.remove(id, 'upstream_not_found');
  });

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

  const route: Route = {
    methods: ['POST', 'GET', 'DELETE'],
    handle(exchange) {
      const { req, res } = exchange;
      const session = exchange.sessionId !== undefined ? registry.get(exchange.sessionId) : undefined;
      const entry: InFlight = { exchange, session, timer: undefined };
      inflight.set(req, entry);
      if (session) {
        const version = req.headers['mcp-protocol-version'];
        if (typeof version === 'string' && version.length < 32) session.data.protocolVersion = version;
      }
      const release = session ? registry.acquire(session) : undefined;
      exchange.onClose(() => {
        clearTimeout(entry.timer);
        release?.();
      });
      proxy.web(req, res, exchange.body ? { buffer: replay(exchange.body) } : {}, onError);
    },
  };

  // Upstream DELETEs for sessions we dropped are a courtesy, not a duty: a few at a time,
  // and beyond a bounded backlog we let the upstream's own expiry handle the rest, so an
  // eviction storm cannot become a memory or socket storm.
  const deleteBacklog: [id: string, version: string | undefined][] = [];
  let deletesInFlight = 0;
  const MAX_DELETES_IN_FLIGHT = 4;
  const MAX_DELETE_BACKLOG = 1_000;

  function endUpstreamSession(session: Session<TransparentSession>): void {
    if (deleteBacklog.length >= MAX_DELETE_BACKLOG) return;
    deleteBacklog.push([session.id, session.data.protocolVersion]);
    pumpDeletes();
  }

  function pumpDeletes(): void {
    while (deletesInFlight < MAX_DELETES_IN_FLIGHT && deleteBacklog.length > 0) {
      const [id, version] = deleteBacklog.shift() as [string, string | undefined];
      const headers: Record<string, string> = { 'mcp-session-id': id };
      if (version) headers['mcp-protocol-version'] = version;
      deletesInFlight++;
      const request = (secure ? https : http).request(target, { method: 'DELETE', headers, agent, timeout: 10_000 });
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

/** Hop-by-hop headers of the upstream connection; our own connection sets its own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive']);

/** The upstream's headers as a flat [name, value, …] list (order, case and repeats kept), minus hop-by-hop ones. */
function endToEndHeaders(raw: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!HOP_BY_HOP.has(name.toLowerCase())) kept.push(name, raw[i + 1] as string);
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
