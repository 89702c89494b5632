// What the monitoring test and the dashboard renderer drive: MCP sessions through the real
// proxyrunner, each ending in a known way, and the operator's real metrics registry served
// over HTTP (no control plane needed to scrape it).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMetrics, type OperatorMetrics, type ServerState } from '../../operator/src/metrics.ts';
import { type McpHttpClient, toolCall } from '../support/mcpHttp.ts';

const TOOLS_LIST = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });

function expectStatus(what: string, got: number, want: number): void {
  if (got !== want) throw new Error(`${what}: HTTP ${got}, expected ${want}`);
}

/** initialize → initialized → tools/list → tools/call → DELETE: closed as client_delete. */
export async function fullSession(client: McpHttpClient): Promise<void> {
  const id = await client.initialize();
  expectStatus('tools/list', (await client.request('POST', TOOLS_LIST, id)).status, 200);
  expectStatus('tools/call', (await client.request('POST', toolCall(3, 'echo', { message: 'hello' }), id)).status, 200);
  expectStatus('DELETE', (await client.request('DELETE', undefined, id)).status, 200);
}

/** initialize → initialized → tools/call, then walk away: idle_timeout, or evicted at the cap. */
export async function abandonedSession(client: McpHttpClient): Promise<string> {
  const id = await client.initialize();
  expectStatus('tools/call', (await client.request('POST', toolCall(3, 'echo', { message: 'bye' }), id)).status, 200);
  return id;
}

/**
 * A session the upstream forgets behind the proxy's back (DELETE sent straight to it): the
 * next tools/call through the proxy gets 404, closed as upstream_not_found.
 */
export async function forgottenSession(viaProxy: McpHttpClient, direct: McpHttpClient): Promise<void> {
  const id = await viaProxy.initialize();
  expectStatus('direct DELETE', (await direct.request('DELETE', undefined, id)).status, 200);
  expectStatus('tools/call', (await viaProxy.request('POST', toolCall(3, 'echo', { message: 'gone?' }), id)).status, 404);
}

/** A body that is not JSON: rejected by the proxy (malformed_json, HTTP 400). */
export async function malformedRequest(client: McpHttpClient): Promise<void> {
  expectStatus('malformed', (await client.request('POST', '{"jsonrpc":"2.0",')).status, 400);
}

/** Runs `task` `count` times with at most `concurrency` at once. */
export async function times(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export interface OperatorMetricsServer {
  /** host:port */
  target: string;
  metrics: OperatorMetrics;
  servers: ServerState[];
  queueDepth: number;
  close(): Promise<void>;
}

/**
 * The operator's own metrics registry (operator/src/metrics.ts) with the given
 * MCPServers in its "cache", served like the operator serves it.
 */
export async function serveOperatorMetrics(servers: ServerState[]): Promise<OperatorMetricsServer> {
  const state = { servers, queueDepth: 0 };
  const metrics = createMetrics({ queueDepth: () => state.queueDepth, servers: () => state.servers, cacheSizes: () => [['mcpservers', state.servers.length]] });
  metrics.setLeader(true);
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    metrics,
    get servers() {
      return state.servers;
    },
    set servers(value) {
      state.servers = value;
    },
    get queueDepth() {
      return state.queueDepth;
    },
    set queueDepth(value) {
      state.queueDepth = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
