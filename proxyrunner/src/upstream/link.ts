// A Link is one client session's message channel to the upstream MCP server. The stdio
// multiplexer hands out virtual links over one process; SSE and streamable-HTTP
// upstreams give each session its own connection. Frontends only ever see this shape.
import type { Readiness } from '../../../common/diagnostics.ts';
import { MAX_JSON_DEPTH, UPSTREAM_ERROR, isRequestId, type RpcId, type RpcMessage } from '../jsonrpc.ts';
import { valueDeeperThan } from '../jsonShape.ts';

export type UpstreamEndReason = 'upstream_closed' | 'upstream_not_found';

export interface Link {
  /** Sends a client message upstream. Failures come back as JSON-RPC errors via onmessage. */
  send(message: RpcMessage): void;
  /** Upstream → client messages. */
  onmessage: (message: RpcMessage) => void;
  /** The upstream ended this link (process exit, stream closed, session gone); `upstream_not_found` when it no longer knows the session. */
  onclose: (reason?: UpstreamEndReason) => void;
  /** The client side ends the link; idempotent, does not call onclose. */
  close(): void;
}

export interface Connector {
  open(): Promise<Link>;
  readiness(): Readiness;
  close(): Promise<void>;
  /** Set when the connector has several upstream processes (stdio attached to several pods). */
  spread?: Spread;
}

/** Several upstream processes: where requests without a session go, one after the other. */
export interface Spread {
  /** The next process (round-robin), by key; undefined when none is up. */
  next(): string | undefined;
  /** A link to that process, not counted as a session; rejects if it is no longer up. */
  openOn(key: string): Promise<Link>;
}

/** The upstream side is full (e.g. every per-session process is in use): retry later. */
export class UpstreamAtCapacity extends Error {}

export const idKey = (id: RpcId): string => (typeof id === 'number' ? `n${id}` : `s${id}`);

/**
 * Marks an error the proxy itself produced because the upstream failed, with the HTTP
 * status to answer it with when it is a POST's only reply. A symbol key: JSON.stringify
 * leaves it out, so the client sees a plain JSON-RPC error.
 */
export const PROXY_HTTP_STATUS = Symbol('mcpfleet.proxyHttpStatus');

export function errorResponse(id: RpcId, code: number, message: string, httpStatus = 502): RpcMessage {
  const response: RpcMessage & { [PROXY_HTTP_STATUS]?: number } = { jsonrpc: '2.0', id, error: { code, message } };
  response[PROXY_HTTP_STATUS] = httpStatus;
  return response;
}

export const proxyHttpStatus = (message: RpcMessage): number | undefined => (message as { [PROXY_HTTP_STATUS]?: number })[PROXY_HTTP_STATUS];

/**
 * An upstream message as the proxy may relay it. The proxy re-serialises what it relays
 * (JSON.stringify recurses), so a message nested deeper than MAX_JSON_DEPTH is not
 * relayed: a response becomes a JSON-RPC error for the same id (its requester is
 * answered, not left waiting), anything else is dropped (undefined; the caller counts it).
 */
export function relayable(message: RpcMessage): RpcMessage | undefined {
  if (!valueDeeperThan(message, MAX_JSON_DEPTH)) return message;
  if (message.method === undefined && isRequestId(message.id)) {
    return errorResponse(message.id, UPSTREAM_ERROR, `Upstream MCP server sent an answer nested deeper than ${MAX_JSON_DEPTH} levels; not relayed`);
  }
  return undefined;
}
