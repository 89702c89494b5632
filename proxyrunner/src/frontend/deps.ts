// The dependencies both message frontends (sse.ts, streamable.ts) are given: the session
// registry of ClientSessions, the connector to the upstream, metrics and log; and openLink,
// their one answer when the upstream cannot be reached (503 with a JSON-RPC error).
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { SessionRegistry } from '../sessions.ts';
import { reject, type Exchange } from '../http/exchange.ts';
import { UPSTREAM_ERROR } from '../jsonrpc.ts';
import { UpstreamAtCapacity, type Connector, type Link } from '../upstream/link.ts';
import type { ClientSession } from './clientSession.ts';
import type { StatelessGateway } from './stateless.ts';

export interface FrontendDeps {
  registry: SessionRegistry<ClientSession>;
  connector: Connector;
  metrics: ProxyMetrics;
  log: Logger;
  maxPending: number;
  /** Serves POSTs without Mcp-Session-Id (2026-07-28); without it they get 400. */
  stateless?: StatelessGateway;
}

/** Opens an upstream link, or answers 503 with a JSON-RPC error saying why. */
export async function openLink(exchange: Exchange, deps: FrontendDeps): Promise<Link | undefined> {
  try {
    return await deps.connector.open();
  } catch (err) {
    if (err instanceof UpstreamAtCapacity) {
      reject(exchange, deps.metrics, 'overloaded', 503, UPSTREAM_ERROR, `Proxy at capacity: ${err.message}; retry shortly`, {
        headers: { 'retry-after': '1' },
      });
      return undefined;
    }
    deps.metrics.upstreamError('connect');
    deps.log.warn('upstream unavailable', { err: err as Error });
    reject(exchange, deps.metrics, 'upstream_unavailable', 503, UPSTREAM_ERROR, `Upstream MCP server unavailable: ${(err as Error).message}`, {
      headers: { 'retry-after': '1' },
    });
    return undefined;
  }
}
