// Every wait is bounded: an upstream that never answers a request, behind each message-path
// upstream kind (stdio, legacy SSE, streamable HTTP behind the legacy-SSE frontend), with a
// short --upstream-response-timeout. The client gets a JSON-RPC error naming the timeout,
// the upstream gets notifications/cancelled for the request, the timeout is counted and
// nothing stays pending (mcpfleet_proxy_upstream_requests_pending back to 0). Outcomes only:
// the timeout is configuration, no duration is measured.
import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import type http from 'node:http';
import path from 'node:path';
import { connect, type Connected } from '../../support/sdk.ts';
import { eventually, scrape } from '../../support/metrics.ts';
import { fakeHttpUpstream, readBody, type FakeUpstream } from '../../support/fakeUpstream.ts';
import { ROOT, startProxy, type ProxyProcess } from '../../support/processes.ts';
import { callTool, rpcPost, rpcSession, toolJson } from '../../support/rpcClient.ts';

jest.setTimeout(30_000);

const FIXTURE = [process.execPath, path.join(ROOT, 'test/fixtures/serverRequestsStdio.ts')];
const TIMEOUT = ['--upstream-response-timeout', '300ms', '--log-level', 'warn'];

interface Rpc {
  jsonrpc: '2.0';
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
}

const INITIALIZE_RESULT = { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'silent', version: '1' } };

async function settled(proxy: ProxyProcess): Promise<void> {
  await eventually(async () => {
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_upstream_errors_total', { kind: 'timeout' })).toBeGreaterThanOrEqual(1);
    expect(metrics.value('mcpfleet_proxy_upstream_requests_pending')).toBe(0);
  });
}

describe('an upstream that never answers gets a bounded wait', () => {
  let proxy: ProxyProcess | undefined;
  let upstream: FakeUpstream | undefined;
  let client: Connected | undefined;

  afterEach(async () => {
    await client?.end().catch(() => {});
    await proxy?.stop();
    await upstream?.close();
    client = undefined;
    proxy = undefined;
    upstream = undefined;
  });

  afterAll(async () => {
    await proxy?.stop();
  });

  it('stdio: the request gets a JSON-RPC error, the server a cancellation, the entry is freed', async () => {
    const started = await startProxy(['--transport', 'stdio', ...TIMEOUT], { command: FIXTURE });
    proxy = started;
    // A cold server may miss the short deadline on its first initialize (that is the
    // timeout working); its late answer still primes the shared initialize result.
    const session = await eventually(() => rpcSession(started.mcpUrl), 15_000);
    const reply = await rpcPost(proxy.mcpUrl, callTool(3, 'never'), session);
    expect(reply.status).toBe(504);
    expect(reply.messages).toEqual([
      { jsonrpc: '2.0', id: 3, error: { code: -32000, message: expect.stringMatching(/did not answer within 300ms \(--upstream-response-timeout\)/) } },
    ]);
    await settled(proxy);
    const seen = toolJson(await rpcPost(proxy.mcpUrl, callTool(4, 'received'), session)) as { cancelled: unknown[] };
    expect(seen.cancelled).toHaveLength(1);
    // The session still works, and the id may be used again.
    expect(toolJson(await rpcPost(proxy.mcpUrl, callTool(3, 'pid'), session))).toEqual({ pid: expect.any(Number) });
  });

  it('legacy SSE upstream: the request gets a JSON-RPC error, the upstream a cancellation', async () => {
    const cancelled: unknown[] = [];
    const streams = new Map<string, http.ServerResponse>();
    let next = 0;
    upstream = await fakeHttpUpstream(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && url.pathname === '/sse') {
        const key = String(++next);
        streams.set(key, res);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write(`event: endpoint\ndata: /messages?s=${key}\n\n`);
        return;
      }
      const stream = streams.get(url.searchParams.get('s') ?? '');
      const message = JSON.parse(await readBody(req)) as Rpc;
      res.writeHead(202).end();
      if (message.method === 'initialize')
        stream?.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: message.id, result: INITIALIZE_RESULT })}\n\n`);
      if (message.method === 'notifications/cancelled') cancelled.push(message.params?.['requestId']);
      // tools/call: never answered
    });
    const started = await startProxy(['--transport', 'sse', '--target-url', upstream.url.replace('/mcp', '/sse'), ...TIMEOUT]);
    proxy = started;
    const session = await eventually(() => rpcSession(started.mcpUrl), 15_000);
    const reply = await rpcPost(proxy.mcpUrl, callTool('slow', 'never'), session);
    expect(reply.status).toBe(504);
    expect(reply.messages).toEqual([{ jsonrpc: '2.0', id: 'slow', error: { code: -32000, message: expect.stringMatching(/did not answer within 300ms/) } }]);
    await settled(proxy);
    await eventually(async () => expect(cancelled).toHaveLength(1));
    for (const res of streams.values()) res.end();
  });

  it('streamable HTTP behind the legacy-SSE frontend: the request gets a JSON-RPC error, the upstream a cancellation', async () => {
    const cancelled: unknown[] = [];
    const held: http.ServerResponse[] = [];
    upstream = await fakeHttpUpstream(async (req, res) => {
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      const message = JSON.parse(await readBody(req)) as Rpc;
      if (message.method === 'initialize') {
        res
          .writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'upstream-session-1' })
          .end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: INITIALIZE_RESULT }));
        return;
      }
      if (message.method === 'notifications/cancelled') cancelled.push(message.params?.['requestId']);
      if (message.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      held.push(res); // a request: never answered
    });
    const started = await startProxy(['--transport', 'streamable-http', '--proxy-mode', 'sse', '--target-url', upstream.url, ...TIMEOUT]);
    proxy = started;
    // The proxy's first upstream connection may miss the short deadline (cold start).
    client = await eventually(() => connect(started.mcpUrl), 15_000);
    await expect(client.client.callTool({ name: 'never', arguments: {} }, undefined, { timeout: 20_000 })).rejects.toThrow(/did not answer within 300ms/);
    await settled(proxy);
    await eventually(async () => expect(cancelled).toHaveLength(1));
    for (const res of held) res.destroy();
  });
});
