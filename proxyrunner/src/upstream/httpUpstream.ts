// A streamable-HTTP upstream behind the SSE frontend (legacy clients, modern server):
// each session is one SDK StreamableHTTPClientTransport, which speaks the client side
// of the protocol (session header, JSON or SSE answers, the GET stream). Its fetch is
// bounded (boundedFetch.ts): no answer or event larger than the budget is held whole.
// Underneath, the fetch is watched for every answer to a request that carried the
// session's ID: an "unknown session" answer (404, or 400 with the SDK's / server-everything's
// JSON-RPC error; the rule is in unknownSession.ts) ends the link as `upstream_not_found`,
// after the failed request got its JSON-RPC error. A request's trace context (params._meta, put
// there by tracing) goes as a W3C traceparent header too (traceHeader.ts).
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Readiness } from '../../../common/diagnostics.ts';
import { UPSTREAM_ERROR } from '../jsonrpc.ts';
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { boundedFetch } from './boundedFetch.ts';
import type { FrameLimits } from './lines.ts';
import { errorResponse, relayable, type Connector, type Link } from './link.ts';
import { startTcpProbe, type TcpProbe } from './probe.ts';
import { PendingTraceHeaders } from './traceHeader.ts';
import { UNKNOWN_SESSION_BODY_LIMIT, isUnknownSessionAnswer, needsBody } from './unknownSession.ts';

export class HttpUpstreamConnector implements Connector {
  readonly #target: URL;
  readonly #metrics: ProxyMetrics;
  readonly #log: Logger;
  readonly #probe: TcpProbe;
  readonly #limits: FrameLimits | undefined;

  constructor(target: URL, metrics: ProxyMetrics, log: Logger, limits?: FrameLimits) {
    this.#target = target;
    this.#limits = limits;
    this.#metrics = metrics;
    this.#log = log;
    this.#probe = startTcpProbe(target, 5_000, 2_000, (up) => metrics.setUpstreamUp(up));
  }

  readiness(): Readiness {
    return this.#probe.state;
  }

  async close(): Promise<void> {
    this.#probe.stop();
  }

  async open(): Promise<Link> {
    const limits = this.#limits;
    let sessionUnknown = false;
    const traceHeaders = new PendingTraceHeaders();
    const tracedFetch = traceHeaders.wrap((url, init) => fetch(url, init));
    const watchingFetch = async (url: string | URL, init?: RequestInit): Promise<Response> => {
      const response = await tracedFetch(url, init);
      if (new Headers(init?.headers).has('mcp-session-id') && (response.status === 404 || needsBody(response.status))) {
        const length = Number(response.headers.get('content-length') ?? 0);
        const body =
          needsBody(response.status) && length <= UNKNOWN_SESSION_BODY_LIMIT
            ? await response
                .clone()
                .text()
                .catch(() => undefined)
            : undefined;
        if (isUnknownSessionAnswer(response.status, body)) sessionUnknown = true;
      }
      return response;
    };
    const transport = new StreamableHTTPClientTransport(this.#target, {
      fetch: limits
        ? boundedFetch(
            {
              limits,
              metrics: this.#metrics,
              onServerRequestDropped: (id, message) => void transport.send({ jsonrpc: '2.0', id, error: { code: UPSTREAM_ERROR, message } }).catch(() => {}),
              onDropped: (details) => this.#log.warn('streamable-HTTP upstream sent a message too large to hold; discarded', details),
            },
            watchingFetch,
          )
        : watchingFetch,
    });
    let closed = false;
    const endUnknown = (): void => {
      if (!sessionUnknown || closed) return;
      closed = true;
      link.onclose('upstream_not_found');
    };
    const link: Link = {
      onmessage: () => {},
      onclose: () => {},
      send: (message) => {
        const traceparent = traceHeaders.add(message);
        transport
          .send(message as JSONRPCMessage)
          .finally(() => traceHeaders.forget(traceparent))
          .catch((err: unknown) => {
            const gone = sessionUnknown || (err instanceof StreamableHTTPError && err.code === 404);
            this.#metrics.upstreamError(gone ? 'protocol' : 'reset');
            this.#log.debug('upstream send failed', { err: err as Error });
            if (message.method !== undefined && message.id !== undefined && message.id !== null) {
              link.onmessage(errorResponse(message.id, UPSTREAM_ERROR, `Upstream MCP server failed: ${(err as Error).message}`));
            }
            if (gone) {
              sessionUnknown = true;
              endUnknown();
            }
          });
      },
      close: () => {
        if (closed) return;
        closed = true;
        transport
          .terminateSession()
          .catch(() => {})
          .finally(() => void transport.close());
      },
    };
    transport.onmessage = (message) => {
      const relayed = relayable(message);
      if (relayed !== message) {
        this.#metrics.upstreamError('protocol');
        this.#log.warn('upstream sent a message nested too deep; not relayed');
      }
      if (relayed) link.onmessage(relayed);
    };
    transport.onclose = () => {
      if (closed) return;
      closed = true;
      link.onclose();
    };
    transport.onerror = (err) => {
      this.#log.debug('upstream transport error', { err });
      // A refused GET stream has nobody awaiting it; a refused POST reports here first,
      // then to send()'s catch, which answers the call: end the link after that.
      if (sessionUnknown) setImmediate(endUnknown);
    };
    await transport.start();
    return link;
  }
}
