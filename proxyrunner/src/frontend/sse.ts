// The legacy HTTP+SSE transport (2024-11-05) served to clients: GET /sse opens the
// session's stream and names the POST endpoint; POST /messages?sessionId=… carries
// client messages (answered 202; replies travel on the stream). The session is
// registered once the upstream answers initialize, and ends when the stream closes.
import { randomUUID } from 'node:crypto';
import { INVALID_REQUEST, SESSION_NOT_FOUND, sessionIdProblem } from '../jsonrpc.ts';
import { reject, responseHook, type Exchange } from '../http/exchange.ts';
import type { Routes } from '../http/pipeline.ts';
import { ClientSession } from './clientSession.ts';
import { SseStream } from './sseStream.ts';
import { openLink, type FrontendDeps } from './deps.ts';

/** How long an SSE client may take between opening its stream and initializing. */
const INITIALIZE_WITHIN_MS = 60_000;

export function sseRoutes(deps: FrontendDeps): Routes {
  const { registry, metrics } = deps;
  const pending = new Map<string, ClientSession>();

  async function open(exchange: Exchange): Promise<void> {
    if (pending.size >= deps.maxPending) {
      reject(exchange, metrics, 'upstream_unavailable', 503, INVALID_REQUEST, 'Too many sessions initializing; retry shortly', {
        headers: { 'retry-after': '1' },
      });
      return;
    }
    const link = await openLink(exchange, deps);
    if (!link) return;
    const { res } = exchange;
    if (res.destroyed) {
      link.close();
      return;
    }
    const id = randomUUID();
    const session = new ClientSession(
      link,
      (reason) => {
        pending.delete(id);
        if (!registry.remove(id, reason)) session.end('upstream closed');
      },
      metrics,
    );
    const stream = new SseStream(res);
    session.standalone = stream;
    exchange.markStream();
    pending.set(id, session);
    const deadline = setTimeout(() => {
      if (pending.delete(id)) session.end('not initialized in time');
    }, INITIALIZE_WITHIN_MS);
    deadline.unref();
    let release: (() => void) | undefined;
    session.onInitializeResult = (ok) => {
      if (!ok || !pending.delete(id)) return;
      clearTimeout(deadline);
      release = registry.acquire(registry.add(id, session));
    };
    exchange.onClose(() => {
      clearTimeout(deadline);
      release?.();
      if (pending.delete(id)) session.end('client disconnected');
      else registry.remove(id, 'client_delete');
    });
    stream.event('endpoint', `/messages?sessionId=${encodeURIComponent(id)}`);
  }

  function post(exchange: Exchange): void {
    const id = new URL(exchange.req.url ?? '/', 'http://x').searchParams.get('sessionId') ?? '';
    const problem = id ? sessionIdProblem(id) : 'sessionId query parameter is required';
    if (problem) {
      reject(exchange, metrics, 'invalid_session_id', 400, INVALID_REQUEST, `Bad Request: ${problem}`);
      return;
    }
    const registered = registry.get(id);
    const session = registered?.data ?? pending.get(id);
    if (!session || !exchange.rpc) {
      reject(exchange, metrics, 'unknown_session', 404, SESSION_NOT_FOUND, 'Session not found: open a new stream at /sse');
      return;
    }
    if (registered) registry.touch(registered);
    // Tool calls the tool stage refused: their errors go where this transport's answers go.
    if (exchange.localAnswers)
      for (const answer of exchange.localAnswers) {
        exchange.observeResponse?.(answer);
        session.standalone?.send(answer);
      }
    session.forward(exchange.rpc.messages, undefined, responseHook(exchange));
    exchange.res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
  }

  return {
    '/sse': { methods: ['GET'], handle: open },
    '/messages': { methods: ['POST'], answersOnStream: true, handle: post },
  };
}
