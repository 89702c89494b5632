// A Link is one client session's message channel to the upstream MCP server. The stdio
// multiplexer hands out virtual links over one process; SSE and streamable-HTTP
// upstreams give each session its own connection. Frontends only ever see this shape.
import type { Readiness } from '../diagnostics.ts';
import type { RpcId, RpcMessage } from '../jsonrpc.ts';

export interface Link {
  /** Sends a client message upstream. Failures come back as JSON-RPC errors via onmessage. */
  send(message: RpcMessage): void;
  /** Upstream → client messages. */
  onmessage: (message: RpcMessage) => void;
  /** The upstream ended this link (process exit, stream closed, session gone). */
  onclose: () => void;
  /** The client side ends the link; idempotent, does not call onclose. */
  close(): void;
}

export interface Connector {
  open(): Promise<Link>;
  readiness(): Readiness;
  close(): Promise<void>;
}

export const idKey = (id: RpcId): string => (typeof id === 'number' ? `n${id}` : `s${id}`);

export function errorResponse(id: RpcId, code: number, message: string): RpcMessage {
  return { jsonrpc: '2.0', id, error: { code, message } };
}
