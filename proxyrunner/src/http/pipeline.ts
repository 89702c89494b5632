// The MCP listener's request pipeline, top to bottom:
//   1. instrument  – count in-flight, record status/latency when the response closes
//   2. request line – HTTP/1.0 or later and an origin-form target ("/path?query", visible
//                    ASCII only), else 400: nothing else is ever routed or forwarded
//   3. route       – known path and allowed method, else 404/405
//   3b. authenticate – with authentication on, every non-public route needs a valid bearer
//                    token (auth/authnStage.ts: 401/403/503), before any body is read
//   4. session id  – syntax only (visible ASCII, bounded length), else 400
//   5. body        – POST bodies read within --max-body-bytes (else 413) and parsed as
//                    JSON-RPC (else 400 with a JSON-RPC error)
//                    (the strict MCP rule of jsonrpc.ts: shape, ids, nesting depth)
//   5b. trace      – with --otel-endpoint, the request's spans start (telemetry/tracing.ts);
//                    refusals before this point are not traced (they are counted)
//   6. tools       – tool control (tools/stage.ts), when configured: refuses calls of tools
//                    the client may not see, arranges tools/list rewrites
//   7. access      – authorization and audit (authz/stage.ts), when configured: Cedar sees
//                    the tool names the client sees
//   8. tools       – renamed tools get their upstream names (after Cedar judged the client's)
//   9. upstream    – the route's handler forwards the exchange
// A handler that throws or rejects is a bug, not a class of input: the pipeline answers
// 500 with a JSON-RPC error, logs it and counts mcpfleet_proxy_internal_errors_total,
// so a bug costs one request, never the process.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { INTERNAL_ERROR, INVALID_REQUEST, parseRpcBody, sessionIdProblem } from '../jsonrpc.ts';
import type { ByteBudget } from '../budget.ts';
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { AuthnStep } from '../auth/authnStage.ts';
import type { ToolStage } from '../tools/stage.ts';
import { readBody, type BodyResult } from './body.ts';
import { beginExchange, reject, writeRpcError, type Exchange } from './exchange.ts';

export interface Route {
  methods: readonly string[];
  /** Served without authentication (the RFC 9728 metadata document). */
  public?: boolean;
  /** Answers to this route's requests travel on the session's event stream (legacy SSE /messages), not in the POST's response. */
  answersOnStream?: boolean;
  /** May return a promise: a rejection is answered and counted like a throw. */
  handle(exchange: Exchange): void | Promise<void>;
}

export type Routes = Readonly<Record<string, Route>>;

export interface PipelineDeps {
  routes: Routes;
  maxBodyBytes: number;
  /** Buffer budget the bodies being read are charged to. */
  pool?: ByteBudget;
  /** The access stage; false = it answered the exchange (denied). */
  access?: ((exchange: Exchange) => boolean) | undefined;
  /** Tool control (--tool-config). */
  tools?: ToolStage | undefined;
  metrics: ProxyMetrics;
  log: Logger;
  /** Present when authentication is on. */
  authenticate?: AuthnStep | undefined;
  /** Present when tracing is on: starts the exchange's spans (they end when it closes). */
  trace?: ((exchange: Exchange) => void) | undefined;
}

export function createPipeline(deps: PipelineDeps): RequestListener {
  const { routes, metrics } = deps;
  // Plain callbacks rather than async functions: this runs for every request, and each
  // promise on the hot path is an allocation and a microtask.
  const failed = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    metrics.internalError();
    deps.log.error('request failed', { err: err as Error, path: req.url?.slice(0, 200) });
    try {
      writeRpcError(res, 500, null, INTERNAL_ERROR, 'Internal error: the proxy failed while handling this request (logged and counted)', { close: true });
    } catch {
      res.destroy();
    }
  };
  const guarded = (req: IncomingMessage, res: ServerResponse, step: () => void): void => {
    try {
      step();
    } catch (err) {
      failed(req, res, err);
    }
  };
  const run = (route: Route, exchange: Exchange): void => {
    const pending = route.handle(exchange);
    if (pending !== undefined) pending.catch((err: unknown) => failed(exchange.req, exchange.res, err));
  };

  return (req, res) => guarded(req, res, () => handle(req, res));

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const exchange = beginExchange(req, res, metrics);
    if (req.httpVersionMajor < 1) {
      reject(exchange, metrics, 'http_version', 400, INVALID_REQUEST, 'Bad Request: HTTP/1.0 or later is required', { close: true });
      return;
    }
    const target = req.url ?? '';
    if (!ORIGIN_FORM.test(target)) {
      reject(exchange, metrics, 'request_target', 400, INVALID_REQUEST, 'Bad Request: the request target must be a path ("/mcp"), in visible ASCII', {
        close: true,
      });
      return;
    }
    const route = routes[pathOf(target)];
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
    if (deps.authenticate && !route.public) {
      deps.authenticate(exchange, () => guarded(req, res, () => authenticated(exchange, route)));
      return;
    }
    authenticated(exchange, route);
  }

  function authenticated(exchange: Exchange, route: Route): void {
    const { req, res } = exchange;
    const method = req.method ?? '';
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
      run(route, exchange);
      return;
    }
    readBody(req, deps.maxBodyBytes, (result) => guarded(req, res, () => withBody(exchange, route, result)), deps.pool, res);
  }

  function withBody(exchange: Exchange, route: Route, result: BodyResult): void {
    if (result.kind === 'aborted') {
      exchange.res.destroy();
      return;
    }
    if (result.kind === 'too_large') {
      reject(exchange, metrics, 'body_too_large', 413, INVALID_REQUEST, `Payload Too Large: request bodies are limited to ${deps.maxBodyBytes} bytes`, {
        close: true,
      });
      return;
    }
    if (result.kind === 'over_budget') {
      reject(exchange, metrics, 'overloaded', 503, INVALID_REQUEST, "Service Unavailable: the proxy's memory budget is spent; retry later", {
        close: true,
        headers: { 'retry-after': '1' },
      });
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
    deps.trace?.(exchange);
    if (deps.tools && !deps.tools.admit(exchange, route)) return;
    if (deps.access && !deps.access(exchange)) return;
    deps.tools?.translate(exchange);
    run(route, exchange);
  }
}

/** Origin-form (RFC 9112 §3.2.1): "/" then visible ASCII, no absolute-form, authority-form or "*". */
const ORIGIN_FORM = /^\/[\x21-\x7E]*$/;

function pathOf(url: string): string {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
