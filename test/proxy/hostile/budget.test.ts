// The memory budget under hostile load, over real sockets against the built proxyrunner
// at --memory-limit 128Mi (derived limits: 4 MiB messages, 512 connections, 341 streams):
//   - one upstream message far larger than --max-message-bytes (stdio line, legacy SSE
//     event, streamable-HTTP JSON body or SSE event): the caller gets a JSON-RPC error
//     naming the limit, the same session works on, the stdio process is not restarted;
//   - GET streams beyond --max-streams and connections beyond --max-connections: 503 with
//     Retry-After, counted as overloaded, and the proxy serves normally afterwards.
// Before the budget, the 24 MiB messages aborted the proxy with a V8 heap OOM at 128Mi
// (or the old 64 MiB line ceiling killed and restarted the stdio server).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { FakeUpstream } from '../../support/fakeUpstream.ts';
import { fakeHttpUpstream } from '../../support/fakeUpstream.ts';
import { legacySseUpstream, streamableUpstream } from '../../support/hugeUpstreams.ts';
import { LegacySseClient } from '../../support/legacySseClient.ts';
import { INIT_BODY, INIT_PARAMS, McpHttpClient, parseAnswer, toolCall } from '../../support/mcpHttp.ts';
import { eventually, scrape } from '../../support/metrics.ts';
import { ROOT, startProxy, type ProxyProcess } from '../../support/processes.ts';

jest.setTimeout(120_000);

const MiB = 2 ** 20;
const HUGE = 24 * MiB;
const LIMIT_MESSAGE = /MCP message of \d+\+ bytes dropped: larger than the proxy's --max-message-bytes limit of 4194304 bytes/;
const BIG_STDIO = [process.execPath, path.join(ROOT, 'test/fixtures/bigStdioServer.ts')];
const common = ['--memory-limit', '128Mi', '--log-level', 'warn'];

async function dropped(proxy: ProxyProcess): Promise<number | undefined> {
  return (await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_upstream_messages_dropped_total', { reason: 'too_large', attributed: 'true' });
}

describe('an upstream message larger than --max-message-bytes, streamable-HTTP clients', () => {
  const cases = [
    ['stdio (id last, as the SDK writes it)', false],
    ['stdio (id first)', true],
  ] as const;
  let proxy: ProxyProcess;
  let client: McpHttpClient;
  let session: string;

  beforeAll(async () => {
    proxy = await startProxy(['--transport', 'stdio', ...common], { command: BIG_STDIO });
    client = new McpHttpClient(proxy.mcpUrl, new http.Agent({ keepAlive: true }));
    session = await client.initialize();
  });
  afterAll(() => proxy.stop());

  it.each(cases)('%s: the caller gets a JSON-RPC error naming the limit; session and process live on', async (_name, idFirst) => {
    const pidBefore = parseAnswer((await client.request('POST', toolCall(1, 'pid', {}), session)).body).result?.content[0]?.text;
    const before = (await dropped(proxy)) ?? 0;
    const res = await client.request('POST', toolCall(2, 'big', { bytes: HUGE, idFirst }), session);
    expect(JSON.parse(res.body)).toMatchObject({ jsonrpc: '2.0', id: 2, error: { code: -32000, message: expect.stringMatching(LIMIT_MESSAGE) } });
    const echo = await client.request('POST', toolCall(3, 'echo', { message: 'still here' }), session);
    expect(JSON.parse(echo.body)).toMatchObject({ id: 3, result: { content: [{ text: 'Echo: still here' }] } });
    const pidAfter = parseAnswer((await client.request('POST', toolCall(4, 'pid', {}), session)).body).result?.content[0]?.text;
    expect(pidAfter).toBe(pidBefore);
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_upstream_restarts_total')).toBe(0);
    expect(metrics.value('mcpfleet_proxy_upstream_messages_dropped_total', { reason: 'too_large', attributed: 'true' })).toBe(before + 1);
    expect(metrics.value('mcpfleet_proxy_buffered_bytes')).toBe(0);
  });

  it('a result just under the limit still arrives whole', async () => {
    const res = await client.request('POST', toolCall(5, 'big', { bytes: 3 * MiB }), session);
    expect(parseAnswer(res.body).result?.content[0]?.text).toHaveLength(3 * MiB);
  });
});

describe('an upstream message larger than --max-message-bytes, legacy SSE upstream', () => {
  let upstream: FakeUpstream;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    upstream = await legacySseUpstream();
    proxy = await startProxy(['--transport', 'sse', '--target-url', upstream.url, ...common]);
  });
  afterAll(async () => {
    await proxy.stop();
    await upstream.close();
  });

  it('one huge event: the caller gets a JSON-RPC error naming the limit; the session lives on', async () => {
    const client = new McpHttpClient(proxy.mcpUrl, new http.Agent({ keepAlive: true }));
    const session = await client.initialize();
    const res = await client.request('POST', toolCall(2, 'big', { bytes: HUGE }), session);
    expect(JSON.parse(res.body)).toMatchObject({ jsonrpc: '2.0', id: 2, error: { code: -32000, message: expect.stringMatching(LIMIT_MESSAGE) } });
    const echo = await client.request('POST', toolCall(3, 'echo', { message: 'after' }), session);
    expect(JSON.parse(echo.body)).toMatchObject({ id: 3, result: { content: [{ text: 'Echo: after' }] } });
    expect(await dropped(proxy)).toBe(1);
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_active')).toBe(1);
  });
});

describe.each(['json', 'sse'] as const)(
  'an upstream message larger than --max-message-bytes, streamable-HTTP upstream answering %s (message path, legacy SSE clients)',
  (bigAs) => {
    let upstream: FakeUpstream;
    let proxy: ProxyProcess;

    beforeAll(async () => {
      upstream = await streamableUpstream(bigAs);
      proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url, '--proxy-mode', 'sse', ...common]);
    });
    afterAll(async () => {
      await proxy.stop();
      await upstream.close();
    });

    it('the caller gets a JSON-RPC error naming the limit; the session lives on', async () => {
      const client = new LegacySseClient();
      try {
        await client.open(proxy.mcpUrl);
        expect(await client.call(1, 'initialize', INIT_PARAMS)).toHaveProperty('result');
        await client.notify({ jsonrpc: '2.0', method: 'notifications/initialized' });
        const big = await client.call(2, 'tools/call', { name: 'big', arguments: { bytes: HUGE } });
        expect(big).toMatchObject({ id: 2, error: { code: -32000, message: expect.stringMatching(LIMIT_MESSAGE) } });
        const echo = await client.call(3, 'tools/call', { name: 'echo', arguments: { message: 'after' } });
        expect(echo).toMatchObject({ id: 3, result: { content: [{ text: 'Echo: after' }] } });
        expect(await dropped(proxy)).toBe(1);
      } finally {
        client.close();
      }
    });
  },
);

/** A GET stream on `url`: resolves with the status and headers once they arrive (the stream stays open). */
function openStream(url: string, sessionId?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Promise<string>; close(): void }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (sessionId) headers['mcp-session-id'] = sessionId;
    const req = http.get(url, { headers, agent: false }, (res) => {
      let text = '';
      const body = new Promise<string>((done) =>
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (text += c))
          .on('end', () => done(text))
          .on('close', () => done(text)),
      );
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

async function expectOverloaded(
  proxy: ProxyProcess,
  attempt: { status: number; headers: http.IncomingHttpHeaders; body: Promise<string> },
  limitText: RegExp,
): Promise<void> {
  expect(attempt.status).toBe(503);
  expect(attempt.headers['retry-after']).toBe('1');
  expect(JSON.parse(await attempt.body)).toMatchObject({ jsonrpc: '2.0', error: { code: -32600, message: expect.stringMatching(limitText) } });
  expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_requests_rejected_total', { reason: 'overloaded' })).toBeGreaterThanOrEqual(1);
}

describe('GET streams beyond --max-streams', () => {
  const MAX = 3;
  const flags = ['--max-streams', String(MAX), ...common];

  it('streamable HTTP on the message path (stdio): 503 + Retry-After, then serves again', async () => {
    const proxy = await startProxy(['--transport', 'stdio', ...flags], { command: BIG_STDIO });
    const client = new McpHttpClient(proxy.mcpUrl, new http.Agent({ keepAlive: true }));
    try {
      const sessions = await Promise.all(Array.from({ length: MAX + 1 }, () => client.initialize()));
      const open = await Promise.all(sessions.slice(0, MAX).map((id) => openStream(proxy.mcpUrl, id)));
      expect(open.map((s) => s.status)).toEqual([200, 200, 200]);
      await expectOverloaded(proxy, await openStream(proxy.mcpUrl, sessions[MAX]), /at most 3 streams/);
      // Requests other than streams are still served at the limit.
      const echo = await client.request('POST', toolCall(9, 'echo', { message: 'busy' }), sessions[MAX]);
      expect(parseAnswer(echo.body).result?.content[0]?.text).toBe('Echo: busy');
      open[0]?.close();
      await eventually(async () => expect((await openStream(proxy.mcpUrl, sessions[MAX])).status).toBe(200));
      for (const s of open) s.close();
    } finally {
      await proxy.stop();
    }
  });

  it('streamable HTTP pass-through: 503 + Retry-After, then serves again', async () => {
    const upstream = await fakeHttpUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
    });
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url, ...flags]);
    try {
      const open = await Promise.all(Array.from({ length: MAX }, () => openStream(proxy.mcpUrl)));
      expect(open.map((s) => s.status)).toEqual([200, 200, 200]);
      await expectOverloaded(proxy, await openStream(proxy.mcpUrl), /at most 3 streams/);
      expect(upstream.openConnections()).toBe(MAX);
      for (const s of open) s.close();
      await eventually(async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_streams_open')).toBe(0));
      const again = await openStream(proxy.mcpUrl);
      expect(again.status).toBe(200);
      again.close();
    } finally {
      await proxy.stop();
      await upstream.close();
    }
  });

  it('legacy SSE clients (GET /sse): 503 + Retry-After, then serves again', async () => {
    const proxy = await startProxy(['--transport', 'stdio', '--proxy-mode', 'sse', ...flags], { command: BIG_STDIO });
    const clients = Array.from({ length: MAX }, () => new LegacySseClient());
    try {
      await Promise.all(clients.map((c) => c.open(proxy.mcpUrl)));
      await expectOverloaded(proxy, await openStream(proxy.mcpUrl), /at most 3 streams/);
      clients[0]?.close();
      const late = new LegacySseClient();
      await eventually(() => late.open(proxy.mcpUrl));
      expect(await late.call(1, 'initialize', INIT_PARAMS)).toHaveProperty('result');
      late.close();
    } finally {
      for (const c of clients) c.close();
      await proxy.stop();
    }
  });
});

describe('connections beyond --max-connections', () => {
  it('are answered 503 + Retry-After and closed; the proxy serves again once some leave', async () => {
    const proxy = await startProxy(['--transport', 'stdio', '--max-connections', '2', ...common], { command: BIG_STDIO });
    const idle: net.Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const socket = net.connect(proxy.port, '127.0.0.1');
        await new Promise((r) => socket.once('connect', r));
        idle.push(socket);
      }
      await eventually(async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_connections_open')).toBe(2));
      const refused = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const req = http.request(
          proxy.mcpUrl,
          { method: 'POST', agent: false, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } },
          (res) => {
            let body = '';
            res
              .setEncoding('utf8')
              .on('data', (c: string) => (body += c))
              .on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          },
        );
        req.on('error', reject);
        req.end(INIT_BODY);
      });
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.headers.connection).toBe('close');
      expect(parseAnswer(refused.body).error?.message).toMatch(/at most 2 connections/);
      expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_requests_rejected_total', { reason: 'overloaded' })).toBe(1);
      for (const s of idle) s.destroy();
      await eventually(async () => expect((await new McpHttpClient(proxy.mcpUrl, new http.Agent()).request('POST', INIT_BODY)).status).toBe(200));
    } finally {
      for (const s of idle) s.destroy();
      await proxy.stop();
    }
  });
});
