// A streamable-HTTP upstream behind the SSE frontend (legacy clients, modern server):
// each session is one SDK StreamableHTTPClientTransport, which speaks the client side
// of the protocol (session header, JSON or SSE answers, the GET stream). Its fetch is
// bounded (boundedFetch.ts): no answer or event larger than the budget is held whole.
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
    const transport = new StreamableHTTPClientTransport(
      this.#target,
      limits && {
        fetch: boundedFetch({
          limits,
          metrics: this.#metrics,
          onServerRequestDropped: (id, message) => void transport.send({ jsonrpc: '2.0', id, error: { code: UPSTREAM_ERROR, message } }).catch(() => {}),
          onDropped: (details) => this.#log.warn('streamable-HTTP upstream sent a message too large to hold; discarded', details),
        }),
      },
    );
    let closed = false;
    const link: Link = {
      onmessage: () => {},
      onclose: () => {},
      send: (message) => {
        transport.send(message as JSONRPCMessage).catch((err: unknown) => {
          const gone = err instanceof StreamableHTTPError && err.code === 404;
          this.#metrics.upstreamError(gone ? 'protocol' : 'reset');
          this.#log.debug('upstream send failed', { err: err as Error });
          if (message.method !== undefined && message.id !== undefined && message.id !== null) {
            link.onmessage(errorResponse(message.id, UPSTREAM_ERROR, `Upstream MCP server failed: ${(err as Error).message}`));
          }
          if (gone && !closed) {
            closed = true;
            link.onclose();
          }
        });
      },
      close: () => {
        if (closed) return;
        closed = true;
        transport.terminateSession().catch(() => {}).finally(() => void transport.close());
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
    transport.onerror = (err) => this.#log.debug('upstream transport error', { err });
    await transport.start();
    return link;
  }
}
