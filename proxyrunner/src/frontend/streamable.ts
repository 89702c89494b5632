// Streamable HTTP served to clients (POST/GET/DELETE on /mcp) for message-based
// upstreams. We answer initialize only once the upstream has, and only then mint the
// Mcp-Session-Id and register the session: a session exists when the upstream said yes.
// A POST without Mcp-Session-Id that is not initialize is a stateless (2026-07-28) request:
// stateless.ts serves it through an upstream session of the proxy's own.
//
// Why not the SDK's StreamableHTTPServerTransport: it assigns the session before the
// upstream answers and converts every request to Web streams and back; the proxy needs
// neither, and this file is the whole of what it does instead.
import { randomUUID } from 'node:crypto';
import { INVALID_REQUEST, SESSION_NOT_FOUND } from '../jsonrpc.ts';
import { reject, responseHook, type Exchange } from '../http/exchange.ts';
import type { Route } from '../http/pipeline.ts';
import type { Session } from '../sessions.ts';
import { idKey } from '../upstream/link.ts';
import { ClientSession, PostCall } from './clientSession.ts';
import { SseStream } from './sseStream.ts';
import { openLink, type FrontendDeps } from './deps.ts';

export function streamableRoute(deps: FrontendDeps): Route {
  const { registry, metrics } = deps;
  let initializing = 0;

  const lookup = (exchange: Exchange): Session<ClientSession> | undefined => {
    if (exchange.sessionId === undefined) {
      reject(exchange, metrics, 'invalid_request', 400, INVALID_REQUEST, 'Bad Request: Mcp-Session-Id header is required');
      return undefined;
    }
    const session = registry.get(exchange.sessionId);
    if (!session) {
      reject(exchange, metrics, 'unknown_session', 404, SESSION_NOT_FOUND, 'Session not found: initialize a new session');
      return undefined;
    }
    exchange.onClose(registry.acquire(session));
    return session;
  };

  async function initialize(exchange: Exchange): Promise<void> {
    const { res } = exchange;
    const rpc = exchange.rpc;
    const message = rpc?.messages[0];
    if (exchange.sessionId !== undefined || !message || rpc.messages.length !== 1 || message.id === undefined || message.id === null) {
      reject(exchange, metrics, 'invalid_request', 400, INVALID_REQUEST, 'Bad Request: initialize must be sent alone and without Mcp-Session-Id');
      return;
    }
    if (initializing >= deps.maxPending) {
      reject(exchange, metrics, 'upstream_unavailable', 503, INVALID_REQUEST, 'Too many sessions initializing; retry shortly', {
        headers: { 'retry-after': '1' },
      });
      return;
    }
    initializing++;
    exchange.onClose(() => initializing--);
    const link = await openLink(exchange, deps);
    if (!link) return;
    const id = randomUUID();
    const session = new ClientSession(
      link,
      (reason) => {
        if (!registry.remove(id, reason)) session.end('upstream closed');
      },
      metrics,
    );
    const call = new PostCall(res, [idKey(message.id)], (response): Record<string, string> => {
      if (response.result === undefined) return {};
      registry.add(id, session);
      return { 'mcp-session-id': id };
    });
    exchange.onClose(() => {
      if (!registry.has(id)) session.end('initialize not completed');
    });
    session.forward([message], call, responseHook(exchange));
  }

  return {
    methods: ['POST', 'GET', 'DELETE'],
    handle(exchange) {
      const { req, res } = exchange;
      switch (req.method) {
        case 'POST': {
          const rpc = exchange.rpc;
          if (!rpc) return;
          if (rpc.isInitialize) return initialize(exchange);
          if (exchange.sessionId === undefined && deps.stateless) return deps.stateless.handle(exchange);
          const session = lookup(exchange);
          if (!session) return;
          const requests = rpc.messages.filter((m) => m.method !== undefined && m.id !== undefined && m.id !== null);
          if (requests.length === 0) {
            session.data.forward(rpc.messages, undefined);
            res.writeHead(202).end();
            return;
          }
          const call = new PostCall(
            res,
            requests.map((m) => idKey(m.id as string | number)),
          );
          exchange.onClose(() => session.data.abandon(call));
          session.data.forward(rpc.messages, call, responseHook(exchange));
          return;
        }
        case 'GET': {
          const accept = req.headers.accept ?? '';
          if (!accept.includes('text/event-stream')) {
            reject(exchange, metrics, 'not_acceptable', 406, INVALID_REQUEST, 'Not Acceptable: GET needs Accept: text/event-stream');
            return;
          }
          const session = lookup(exchange);
          if (!session) return;
          if (session.data.standalone?.open) {
            reject(exchange, metrics, 'invalid_request', 409, INVALID_REQUEST, 'Conflict: this session already has a GET stream');
            return;
          }
          const stream = new SseStream(res);
          session.data.standalone = stream;
          exchange.markStream();
          exchange.onClose(() => {
            if (session.data.standalone === stream) session.data.standalone = undefined;
          });
          return;
        }
        case 'DELETE': {
          const session = lookup(exchange);
          if (!session) return;
          registry.remove(session.id, 'client_delete');
          res.writeHead(200).end();
          return;
        }
      }
    },
  };
}
