// How an upstream failure is classified for metrics, and what the client is told.
import type { UpstreamErrorKind } from '../metrics.ts';

export class UpstreamTimeoutError extends Error {
  constructor(ms: number) {
    super(`upstream did not start answering within ${ms} ms`);
  }
}

export function classifyUpstreamError(err: Error & { code?: string }): { kind: UpstreamErrorKind; status: number; message: string } {
  if (err instanceof UpstreamTimeoutError || err.code === 'ETIMEDOUT' || err.code === 'ECONNECT_TIMEOUT') {
    return { kind: 'timeout', status: 504, message: `Upstream MCP server timed out: ${err.message}` };
  }
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { kind: 'connect', status: 502, message: `Upstream MCP server unreachable (${err.code}): ${err.message}` };
    case 'ECONNRESET':
    case 'EPIPE':
      return { kind: 'reset', status: 502, message: `Upstream MCP server closed the connection (${err.code})` };
  }
  if (err.code?.startsWith('HPE_')) {
    return { kind: 'protocol', status: 502, message: `Upstream MCP server sent an invalid HTTP response (${err.code})` };
  }
  return { kind: 'reset', status: 502, message: `Upstream MCP server failed: ${err.message}` };
}
