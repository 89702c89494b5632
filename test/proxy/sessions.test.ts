// Session lifecycle through the real proxyrunner: every way a session ends, each
// counted under its reason, and nothing a client invents ever creates state.
import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { McpHttpClient, INIT_BODY, toolCall } from '../support/mcpHttp.ts';
import { eventually, scrape } from '../support/metrics.ts';
import { fakeHttpUpstream, readBody } from '../support/fakeUpstream.ts';
import { connect } from '../support/sdk.ts';
import { everythingStdioCommand, startEchoServer, startProxy, type ProxyProcess, type Running } from '../support/processes.ts';

jest.setTimeout(60_000);

const agent = new http.Agent({ keepAlive: true });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});
afterAll(() => agent.destroy());

async function echoBehindProxy(extra: string[] = []): Promise<{ upstream: Running; proxy: ProxyProcess; direct: McpHttpClient; viaProxy: McpHttpClient }> {
  const upstream = await startEchoServer();
  cleanups.push(() => upstream.stop());
  const target = `http://127.0.0.1:${upstream.port}/mcp`;
  const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', target, ...extra]);
  cleanups.push(() => proxy.stop());
  return { upstream, proxy, direct: new McpHttpClient(target, agent), viaProxy: new McpHttpClient(proxy.mcpUrl, agent) };
}

const closed = async (proxy: ProxyProcess, reason: string): Promise<number | undefined> =>
  (await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_closed_total', { reason });
const active = async (proxy: ProxyProcess): Promise<number | undefined> => (await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_active');

describe('streamable HTTP upstream (transparent)', () => {
  it('removes a session when the upstream answers 404 for it', async () => {
    const { proxy, direct, viaProxy } = await echoBehindProxy();
    const id = await viaProxy.initialize();
    expect(await active(proxy)).toBe(1);
    expect((await direct.request('DELETE', undefined, id)).status).toBe(200); // gone behind the proxy's back
    const res = await viaProxy.request('POST', toolCall(2, 'echo', { message: 'x' }), id);
    expect(res.status).toBe(404);
    expect(await active(proxy)).toBe(0);
    expect(await closed(proxy, 'upstream_not_found')).toBe(1);
  });

  it('counts a DELETE answered 404 as the client ending it', async () => {
    const { proxy, direct, viaProxy } = await echoBehindProxy();
    const id = await viaProxy.initialize();
    await direct.request('DELETE', undefined, id);
    expect((await viaProxy.request('DELETE', undefined, id)).status).toBe(404);
    expect(await active(proxy)).toBe(0);
    expect(await closed(proxy, 'client_delete')).toBe(1);
    expect(await closed(proxy, 'upstream_not_found')).toBe(0);
  });

  it('ends idle sessions and deletes them upstream too', async () => {
    const { proxy, direct, viaProxy } = await echoBehindProxy(['--session-idle-timeout', '1s']);
    const id = await viaProxy.initialize();
    await eventually(async () => expect(await closed(proxy, 'idle_timeout')).toBe(1), 30_000);
    expect(await active(proxy)).toBe(0);
    await eventually(async () => expect((await direct.request('POST', toolCall(3, 'echo', { message: 'x' }), id)).status).toBe(404));
  });

  it('keeps a session with an open stream past the idle timeout', async () => {
    const { proxy, viaProxy } = await echoBehindProxy(['--session-idle-timeout', '1s']);
    const session = await connect(proxy.mcpUrl); // the SDK client holds a GET stream open
    await eventually(async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_streams_open')).toBe(1));
    // A control session without a stream, made after the streaming one's last request: when the
    // idle timeout has ended it, the streaming session has been idle at least as long (order,
    // not a sleep that a slow machine could make too short or too long).
    const control = await viaProxy.initialize();
    await eventually(async () => expect(await closed(proxy, 'idle_timeout')).toBe(1), 30_000);
    expect(await active(proxy)).toBe(1);
    // The one ended was the control; the streaming session still answers.
    expect((await viaProxy.request('POST', toolCall(2, 'echo', { message: 'x' }), control)).status).toBe(404);
    const echo = await session.client.callTool({ name: 'echo', arguments: { message: 'still here' } });
    expect(echo.content).toEqual([{ type: 'text', text: 'Echo: still here' }]);
    await session.end();
  });

  it('evicts the least recently used session at the cap and frees it upstream', async () => {
    const { proxy, direct, viaProxy } = await echoBehindProxy(['--max-sessions', '3']);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await viaProxy.initialize());
    expect(await active(proxy)).toBe(3);
    expect(await closed(proxy, 'evicted')).toBe(2);
    for (const id of ids.slice(0, 2)) {
      await eventually(async () => expect((await direct.request('POST', toolCall(4, 'echo', { message: 'x' }), id)).status).toBe(404));
    }
    for (const id of ids.slice(2)) expect((await viaProxy.request('POST', toolCall(5, 'echo', { message: 'y' }), id)).status).toBe(200);
  });

  it('never creates state for client-invented session IDs', async () => {
    const { proxy, viaProxy } = await echoBehindProxy();
    for (let i = 0; i < 200; i++) {
      const res = await viaProxy.request('POST', toolCall(i, 'echo', { message: 'x' }), `forged-${i}-${Math.random()}`);
      expect(res.status).toBe(404);
    }
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_sessions_active')).toBe(0);
    expect(metrics.value('mcpfleet_proxy_sessions_created_total')).toBe(0);
  });

  it('keeps the session when the upstream answers 5xx', async () => {
    const upstream = await fakeHttpUpstream(async (req, res) => {
      const body = req.method === 'POST' ? await readBody(req) : '';
      if (body.includes('"initialize"')) {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'session-500' });
        res.end(
          JSON.stringify({ jsonrpc: '2.0', id: 1, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'f', version: '1' } } }),
        );
        return;
      }
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"busy"}}');
    });
    cleanups.push(() => upstream.close());
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url]);
    cleanups.push(() => proxy.stop());
    const client = new McpHttpClient(proxy.mcpUrl, agent);
    expect((await client.request('POST', INIT_BODY)).sessionId).toBe('session-500');
    expect((await client.request('POST', toolCall(2, 'echo', {}), 'session-500')).status).toBe(503);
    expect((await client.request('DELETE', undefined, 'session-500')).status).toBe(503);
    expect(await active(proxy)).toBe(1);
  });

  it('holds no sessions in front of a stateless server, yet counts its traffic', async () => {
    const upstream = await startEchoServer({ stateless: true });
    cleanups.push(() => upstream.stop());
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', `http://127.0.0.1:${upstream.port}/mcp`]);
    cleanups.push(() => proxy.stop());
    const client = new McpHttpClient(proxy.mcpUrl, agent);
    const init = await client.request('POST', INIT_BODY);
    expect(init.status).toBe(200);
    expect(init.sessionId).toBeUndefined();
    for (let i = 0; i < 5; i++) expect((await client.request('POST', toolCall(i + 2, 'echo', { message: 'stateless' }))).body).toContain('Echo: stateless');
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_sessions_active')).toBe(0);
    expect(metrics.value('mcpfleet_proxy_sessions_created_total')).toBe(0);
    expect(metrics.value('mcpfleet_proxy_requests_total', { rpc_method: 'tools/call', status: '200' })).toBe(5);
    expect(metrics.value('mcpfleet_proxy_requests_in_flight')).toBe(0);
  });
});

describe('2026-07-28 (stateless) requests', () => {
  it('pass through unchanged, headers included (but never Authorization), and create no state', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const bodies: string[] = [];
    const upstream = await fakeHttpUpstream(async (req, res) => {
      seen.push(req.headers);
      bodies.push(await readBody(req));
      res
        .writeHead(200, ['Content-Type', 'application/json', 'X-Upstream', 'yes', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Keep-Alive', 'timeout=1, max=9'])
        .end('{"jsonrpc":"2.0","id":7,"result":{"content":[]}}');
    });
    cleanups.push(() => upstream.close());
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url]);
    cleanups.push(() => proxy.stop());
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'echo', arguments: {}, _meta: { protocolVersion: '2026-07-28', clientCapabilities: {} } },
    });
    const res = await fetch(proxy.mcpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'echo',
        authorization: 'Bearer t0ken',
      },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-upstream')).toBe('yes');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    // Hop-by-hop: the upstream's keep-alive terms are its own connection's, not the client's.
    expect(res.headers.get('keep-alive')).not.toContain('max=9');
    expect(bodies[0]).toBe(body);
    expect(seen[0]).toMatchObject({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' });
    // No token passthrough (MCP specification, "Authorization"): the client's credentials are the proxy's.
    expect(seen[0]).not.toHaveProperty('authorization');
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_sessions_created_total')).toBe(0);
    expect(metrics.value('mcpfleet_proxy_requests_total', { rpc_method: 'tools/call', status: '200' })).toBe(1);
  });
});

describe('stdio upstream', () => {
  const stdioProxy = async (extra: string[] = []): Promise<ProxyProcess> => {
    const proxy = await startProxy(['--transport', 'stdio', ...extra], { command: everythingStdioCommand() });
    cleanups.push(() => proxy.stop());
    return proxy;
  };

  it('answers 404 for a session it does not know', async () => {
    const proxy = await stdioProxy();
    const res = await new McpHttpClient(proxy.mcpUrl, agent).request('POST', toolCall(1, 'echo', {}), 'not-a-session');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: -32001, message: expect.stringMatching(/Session not found/) } });
  });

  it('ends every session when the server process dies, then restarts it', async () => {
    const proxy = await stdioProxy();
    const sessions = await Promise.all([connect(proxy.mcpUrl), connect(proxy.mcpUrl)]);
    expect(await active(proxy)).toBe(2);
    const child = execFileSync('pgrep', ['-P', String(proxy.child.pid)])
      .toString()
      .trim()
      .split('\n')[0] as string;
    process.kill(Number(child), 'SIGKILL');
    await eventually(async () => expect(await closed(proxy, 'upstream_closed')).toBe(2));
    expect(await active(proxy)).toBe(0);
    for (const s of sessions) await s.client.close();
    // The supervisor brings the server back; a new session works.
    const again = await eventually(() => connect(proxy.mcpUrl), 10_000);
    const echo = await again.client.callTool({ name: 'echo', arguments: { message: 'back' } });
    expect(echo.content).toEqual([{ type: 'text', text: 'Echo: back' }]);
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_upstream_restarts_total')).toBe(1);
    expect(metrics.value('mcpfleet_proxy_upstream_errors_total', { kind: 'process_exit' })).toBe(1);
    await again.end();
  });

  it('evicts at the cap and idles out, like any upstream', async () => {
    const proxy = await stdioProxy(['--max-sessions', '2', '--session-idle-timeout', '1s']);
    const client = new McpHttpClient(proxy.mcpUrl, agent);
    for (let i = 0; i < 4; i++) await client.initialize();
    expect(await active(proxy)).toBe(2);
    expect(await closed(proxy, 'evicted')).toBe(2);
    await eventually(async () => expect(await closed(proxy, 'idle_timeout')).toBe(2), 30_000);
    expect(await active(proxy)).toBe(0);
  });
});
