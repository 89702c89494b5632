// Admission control for the MCP listener, in front of the request pipeline (what Envoy's
// connection limits and overload manager do). A proxy that accepts whatever arrives
// runs out of memory under load; this one answers the excess:
//   - past --max-connections, a connection is accepted, its request answered 503 with
//     Retry-After and `Connection: close`, and then closed; past twice that, connections
//     are dropped at accept (server.maxConnections) so a flood of idle sockets costs nothing;
//   - past --max-streams, a GET (which opens a stream on every route) is answered 503;
//   - with the buffer budget nearly spent, new requests are answered 503 (each needs
//     room for at least a small body and its answer).
// Every refusal is counted as requests_rejected_total{reason="overloaded"}.
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ByteBudget, MemoryBudget } from '../budget.ts';
import { INVALID_REQUEST } from '../jsonrpc.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { beginExchange, reject } from './exchange.ts';

/** Marks a connection accepted beyond --max-connections: its request is answered 503. */
const OVER_LIMIT = Symbol('mcpfleet.overLimit');
type MarkedSocket = Socket & { [OVER_LIMIT]?: true };

/** The budget each response may charge its queued writes to (read by SseStream). */
const RESPONSE_BUDGET = Symbol('mcpfleet.responseBudget');
type BudgetedResponse = ServerResponse & { [RESPONSE_BUDGET]?: ResponseBudget };

export interface ResponseBudget {
  pool: ByteBudget;
  /** Largest queue one response may hold (a message and its framing must fit). */
  maxQueuedBytes: number;
  onCut(): void;
}

export function responseBudgetOf(res: ServerResponse): ResponseBudget | undefined {
  return (res as BudgetedResponse)[RESPONSE_BUDGET];
}

/** Room a new request needs in the buffer budget to be worth starting. */
const REQUEST_HEADROOM_BYTES = 64 * 1024;
const RETRY_AFTER_SECONDS = '1';

export interface Admission {
  listener: RequestListener;
  openConnections(): number;
  openStreams(): number;
}

export function createAdmission(server: Server, budget: MemoryBudget, pool: ByteBudget, metrics: ProxyMetrics, inner: RequestListener): Admission {
  let connections = 0;
  let admitted = 0;
  let streams = 0;
  // Hard ceiling: connections past twice the limit are closed at accept, unanswered.
  server.maxConnections = budget.maxConnections * 2;
  server.on('connection', (socket: MarkedSocket) => {
    connections++;
    if (admitted >= budget.maxConnections) {
      socket[OVER_LIMIT] = true;
    } else {
      admitted++;
    }
    socket.once('close', () => {
      connections--;
      if (!socket[OVER_LIMIT]) admitted--;
    });
  });
  const responseBudget: ResponseBudget = { pool, maxQueuedBytes: 2 * budget.maxMessageBytes, onCut: () => metrics.streamCut() };

  const refuse = (req: IncomingMessage, res: ServerResponse, message: string, close: boolean): void => {
    const exchange = beginExchange(req, res, metrics);
    reject(exchange, metrics, 'overloaded', 503, INVALID_REQUEST, `Service Unavailable: ${message}; retry later`, {
      close,
      headers: { 'retry-after': RETRY_AFTER_SECONDS },
    });
    // Nothing of the request is read: drop the connection after the answer.
    if (close) res.once('finish', () => req.socket.destroySoon());
  };

  const listener: RequestListener = (req, res) => {
    if ((req.socket as MarkedSocket)[OVER_LIMIT]) {
      refuse(req, res, `the proxy serves at most ${budget.maxConnections} connections at once`, true);
      return;
    }
    if (pool.available < REQUEST_HEADROOM_BYTES) {
      refuse(req, res, "the proxy's memory budget is spent", true);
      return;
    }
    if (req.method === 'GET') {
      if (streams >= budget.maxStreams) {
        refuse(req, res, `the proxy holds at most ${budget.maxStreams} streams open at once`, false);
        return;
      }
      streams++;
      res.once('close', () => streams--);
    }
    (res as BudgetedResponse)[RESPONSE_BUDGET] = responseBudget;
    inner(req, res);
  };

  return { listener, openConnections: () => connections, openStreams: () => streams };
}
