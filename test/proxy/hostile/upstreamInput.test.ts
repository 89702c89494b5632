// What an upstream says cannot crash the proxy either: a stdio line or an SSE event
// nested deeper than the proxy re-serialises is not relayed. A response becomes a
// JSON-RPC error for its request (the client is answered, not left waiting), anything
// else is dropped and counted. Fake servers on real pipes and sockets.
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpHttpClient, toolCall } from '../../support/mcpHttp.ts';
import { scrape } from '../../support/metrics.ts';
import { startProxy, type ProxyProcess } from '../../support/processes.ts';

jest.setTimeout(60_000);

const DEPTH = 100_000;
const deep = (): string => '['.repeat(DEPTH) + ']'.repeat(DEPTH);
const INIT_RESULT = { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'deep', version: '1' } };

/** A stdio MCP server that answers tools/call with a deep notification, then a deep result. */
const DEEP_STDIO_SERVER = `
const rl = require('node:readline').createInterface({ input: process.stdin });
const deep = '['.repeat(${DEPTH}) + ']'.repeat(${DEPTH});
rl.on('line', (line) => {
  const m = JSON.parse(line);
  if (m.id === undefined) return;
  if (m.method === 'tools/call') {
    process.stdout.write('{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":' + deep + '}}\\n');
    process.stdout.write('{"jsonrpc":"2.0","id":' + JSON.stringify(m.id) + ',"result":{"content":' + deep + '}}\\n');
    return;
  }
  const result = m.method === 'initialize' ? ${JSON.stringify(INIT_RESULT)} : {};
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }) + '\\n');
});
`;

/** A legacy SSE client session on the proxy: its POST endpoint and the messages its stream carried. */
async function openSse(url: string): Promise<{ endpoint: string; messages: Record<string, unknown>[]; close(): void }> {
  const messages: Record<string, unknown>[] = [];
  let req!: http.ClientRequest;
  const endpoint = await new Promise<string>((resolve, reject) => {
    req = http.get(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(event)?.[1] ?? '';
          if (/^event: endpoint$/m.test(event)) resolve(new URL(data, url).href);
          else messages.push(JSON.parse(data) as Record<string, unknown>);
        }
      });
      res.on('error', () => {});
    });
    req.on('error', reject);
  });
  return { endpoint, messages, close: () => req.destroy() };
}

async function until<T>(check: () => T | undefined): Promise<T> {
  for (let waited = 0; waited < 20_000; waited += 20) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out');
}

async function expectDeepAnswerRefused(proxy: ProxyProcess): Promise<void> {
  const client = new McpHttpClient(proxy.mcpUrl, new http.Agent());
  const session = await client.initialize();
  const call = await client.request('POST', toolCall(7, 'anything', {}), session);
  expect(call.status).toBe(502);
  expect(JSON.parse(call.body)).toMatchObject({
    jsonrpc: '2.0',
    id: 7,
    error: { code: -32000, message: expect.stringMatching(/nested deeper than 64 levels/) },
  });
  // Still alive, and the session still works.
  const ping = await client.request('POST', JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'ping' }), session);
  expect(ping.status).toBe(200);
  expect(proxy.child.exitCode).toBeNull();
  const metrics = await scrape(proxy.metricsUrl);
  expect(metrics.value('mcpfleet_proxy_upstream_errors_total', { kind: 'protocol' })).toBeGreaterThanOrEqual(1);
  expect(metrics.value('mcpfleet_proxy_internal_errors_total')).toBe(0);
}

describe('deeply nested upstream messages', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0)) await fn();
  });

  it('from a stdio server: the answer becomes a JSON-RPC error, the notification is dropped', async () => {
    const proxy = await startProxy(['--transport', 'stdio'], { command: [process.execPath, '-e', DEEP_STDIO_SERVER] });
    cleanup.push(() => proxy.stop());
    await expectDeepAnswerRefused(proxy);
  });

  it('from a legacy SSE server: the same', async () => {
    let stream: http.ServerResponse | undefined;
    const server = http.createServer((req, res) => {
      if (req.method === 'GET') {
        stream = res;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: endpoint\ndata: /messages\n\n');
        return;
      }
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => {
        res.writeHead(202).end();
        const m = JSON.parse(body) as { id?: number | string; method?: string };
        if (m.id === undefined) return;
        const id = JSON.stringify(m.id);
        if (m.method === 'tools/call') {
          stream?.write(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"data":${deep()}}}\n\n`);
          stream?.write(`event: message\ndata: {"jsonrpc":"2.0","id":${id},"result":{"content":${deep()}}}\n\n`);
        } else stream?.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: m.id, result: m.method === 'initialize' ? INIT_RESULT : {} })}\n\n`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
    const proxy = await startProxy(['--transport', 'sse', '--target-url', `http://127.0.0.1:${(server.address() as AddressInfo).port}/sse`]);
    cleanup.unshift(() => proxy.stop());
    await expectDeepAnswerRefused(proxy);
  });

  it('from a streamable HTTP server behind the legacy SSE frontend: the same', async () => {
    const server = http.createServer((req, res) => {
      if (req.method !== 'POST') return void res.writeHead(405).end();
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => {
        const m = JSON.parse(body) as { id?: number | string; method?: string };
        if (m.id === undefined) return void res.writeHead(202).end();
        const id = JSON.stringify(m.id);
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'deep-1' });
        if (m.method === 'tools/call') res.end(`{"jsonrpc":"2.0","id":${id},"result":{"content":${deep()}}}`);
        else res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: m.method === 'initialize' ? INIT_RESULT : {} }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
    const proxy = await startProxy([
      '--transport',
      'streamable-http',
      '--proxy-mode',
      'sse',
      '--target-url',
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    ]);
    cleanup.unshift(() => proxy.stop());
    const session = await openSse(proxy.mcpUrl);
    cleanup.unshift(async () => session.close());
    const post = (body: unknown) => fetch(session.endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(
      (
        await post({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
        })
      ).status,
    ).toBe(202);
    await until(() => session.messages.find((m) => m.id === 1));
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    expect((await post({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'anything', arguments: {} } })).status).toBe(202);
    const answer = await until(() => session.messages.find((m) => m.id === 7));
    expect(answer).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32000, message: expect.stringMatching(/nested deeper than 64 levels/) } });
    expect((await post({ jsonrpc: '2.0', id: 8, method: 'ping' })).status).toBe(202);
    await until(() => session.messages.find((m) => m.id === 8));
    expect(proxy.child.exitCode).toBeNull();
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_internal_errors_total')).toBe(0);
  });
});
