// The MCP listener's request pipeline, top to bottom:
//   1. instrument  – count in-flight, record status/latency when the response closes
//   2. route       – known path and allowed method, else 404/405
//   3. session id  – syntax only (visible ASCII, bounded length), else 400
//   4. body        – POST bodies read within --max-body-bytes (else 413) and parsed as
//                    JSON-RPC (else 400 with a JSON-RPC error)
//   5. upstream    – the route's handler forwards the exchange
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { INVALID_REQUEST, parseRpcBody, sessionIdProblem } from '../jsonrpc.ts';
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { readBody, type BodyResult } from './body.ts';
import { beginExchange, reject, type Exchange } from './exchange.ts';

export interface Route {
  methods: readonly string[];
  handle(exchange: Exchange): void;
}

export type Routes = Readonly<Record<string, Route>>;

export interface PipelineDeps {
  routes: Routes;
  maxBodyBytes: number;
  metrics: ProxyMetrics;
  log: Logger;
}

export function createPipeline(deps: PipelineDeps): RequestListener {
  const { routes, metrics } = deps;
  // Plain callbacks rather than async functions: this runs for every request, and each
  // promise on the hot path is an allocation and a microtask.
  const guarded = (req: IncomingMessage, res: ServerResponse, step: () => void): void => {
    try {
      step();
    } catch (err) {
      deps.log.error('request failed', { err: err as Error, path: req.url });
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    }
  };

  return (req, res) => guarded(req, res, () => handle(req, res));

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const exchange = beginExchange(req, res, metrics);
    const route = routes[pathOf(req.url)];
    if (!route) {
      reject(exchange, metrics, 'not_found', 404, INVALID_REQUEST, `Not found: this proxy serves ${Object.keys(routes).join(', ')}`);
      return;
    }
    const method = req.method ?? '';
    if (!route.methods.includes(method)) {
      reject(exchange, metrics, 'method_not_allowed', 405, INVALID_REQUEST, `Method ${method} not allowed here (allowed: ${route.methods.join(', ')})`, {
        headers: { allow: route.methods.join(', ') },
      });
      return;
    }
    const sessionHeader = req.headers['mcp-session-id'];
    if (sessionHeader !== undefined) {
      const problem = Array.isArray(sessionHeader) ? 'Mcp-Session-Id must be sent once' : sessionIdProblem(sessionHeader);
      if (problem) {
        reject(exchange, metrics, 'invalid_session_id', 400, INVALID_REQUEST, `Bad Request: ${problem}`);
        return;
      }
      exchange.sessionId = sessionHeader as string;
    }
    if (method !== 'POST') {
      route.handle(exchange);
      return;
    }
    readBody(req, deps.maxBodyBytes, (result) => guarded(req, res, () => withBody(exchange, route, result)));
  }

  function withBody(exchange: Exchange, route: Route, result: BodyResult): void {
    if (result.kind === 'aborted') {
      exchange.res.destroy();
      return;
    }
    if (result.kind === 'too_large') {
      reject(exchange, metrics, 'body_too_large', 413, INVALID_REQUEST, `Payload Too Large: request bodies are limited to ${deps.maxBodyBytes} bytes`, { close: true });
      return;
    }
    const parsed = parseRpcBody(result.body);
    if (!parsed.ok) {
      reject(exchange, metrics, parsed.code === INVALID_REQUEST ? 'invalid_request' : 'malformed_json', 400, parsed.code, parsed.message);
      return;
    }
    exchange.body = result.body;
    exchange.rpc = parsed.body;
    exchange.rpcLabel = parsed.body.label;
    route.handle(exchange);
  }
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
