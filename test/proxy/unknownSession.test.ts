// Issue 14 item 1: an upstream that no longer knows a session the proxy holds ends it as
// `upstream_not_found`, counted once, whether it says so with 404 (the spec) or with 400
// and the SDK's / server-everything's JSON-RPC error. Real servers: server-everything
// (the 400 case) and a raw node:http upstream (the 404 case and a plain 400 that must
// NOT end the session), on the transparent path and on the message path (legacy SSE
// frontend in front of a streamable-HTTP upstream).
import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { McpHttpClient, toolCall } from '../support/mcpHttp.ts';
import { eventually, scrape } from '../support/metrics.ts';
import { fakeHttpUpstream, readBody } from '../support/fakeUpstream.ts';
import { connect } from '../support/sdk.ts';
import { EVERYTHING, freePort, startEverything, startProxy, track, waitForPort, type ProxyProcess, type Running } from '../support/processes.ts';

jest.setTimeout(60_000);

const agent = new http.Agent({ keepAlive: true });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});
afterAll(() => agent.destroy());

async function proxyTo(target: string, extra: string[] = []): Promise<ProxyProcess> {
  const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', target, ...extra]);
  cleanups.push(() => proxy.stop());
  return proxy;
}

async function counts(
  proxy: ProxyProcess,
): Promise<{ active: number | undefined; notFound: number | undefined; deleted: number | undefined; closedUpstream: number | undefined }> {
  const m = await scrape(proxy.metricsUrl);
  return {
    active: m.value('mcpfleet_proxy_sessions_active'),
    notFound: m.value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_not_found' }),
    deleted: m.value('mcpfleet_proxy_sessions_closed_total', { reason: 'client_delete' }),
    closedUpstream: m.value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' }),
  };
}

/**
 * A raw node:http MCP upstream: initialize issues a session; `forget()` drops them all,
 * after which every request of a session is answered with `answer` (status + body).
 */
async function forgetfulUpstream(answer: { status: number; body: string }): Promise<{ url: string; forget(): void; streamsAsked(): number }> {
  const known = new Set<string>();
  let next = 0;
  let gets = 0;
  const upstream = await fakeHttpUpstream(async (req, res) => {
    const body = req.method === 'POST' ? await readBody(req) : '';
    const id = req.headers['mcp-session-id'];
    if (typeof id !== 'string') {
      const sid = `s-${++next}`;
      known.add(sid);
      const rpc = JSON.parse(body) as { id: number };
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': sid });
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: rpc.id,
          result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'forgetful', version: '1' } },
        }),
      );
      return;
    }
    if (!known.has(id)) {
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
      return;
    }
    if (req.method === 'GET') {
      gets++;
      res.writeHead(405).end();
      return;
    }
    if (req.method === 'DELETE') {
      known.delete(id);
      res.writeHead(200).end();
      return;
    }
    const rpc = JSON.parse(body) as { id?: number };
    if (rpc.id === undefined) {
      res.writeHead(202).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: rpc.id, result: { content: [{ type: 'text', text: 'ok' }] } }));
  });
  cleanups.push(() => upstream.close());
  return { url: upstream.url, forget: () => known.clear(), streamsAsked: () => gets };
}

const SDK_404 = JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
const PLAIN_400 = JSON.stringify({ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null });

describe('transparent streamable-HTTP path', () => {
  it('server-everything answering 400 "No valid session ID provided" ends the session as upstream_not_found, once', async () => {
    const everything = await startEverything('streamableHttp');
    cleanups.push(() => everything.stop());
    const target = `http://127.0.0.1:${everything.port}/mcp`;
    const proxy = await proxyTo(target);
    const viaProxy = new McpHttpClient(proxy.mcpUrl, agent);
    const id = await viaProxy.initialize();
    expect((await counts(proxy)).active).toBe(1);
    expect((await new McpHttpClient(target, agent).request('DELETE', undefined, id)).status).toBe(200); // gone behind the proxy's back
    const res = await viaProxy.request('POST', toolCall(2, 'echo', { message: 'x' }), id);
    expect(res.status).toBe(400);
    expect(res.body).toContain('No valid session ID provided'); // relayed unchanged
    await eventually(async () => expect(await counts(proxy)).toEqual({ active: 0, notFound: 1, deleted: 0, closedUpstream: 0 }));
    expect((await viaProxy.request('POST', toolCall(3, 'echo', { message: 'x' }), id)).status).toBe(400);
    expect(await counts(proxy)).toEqual({ active: 0, notFound: 1, deleted: 0, closedUpstream: 0 });
  });

  it('a raw upstream answering 404 ends the session as upstream_not_found; a DELETE answered 404 is the client ending it', async () => {
    const upstream = await forgetfulUpstream({ status: 404, body: SDK_404 });
    const proxy = await proxyTo(upstream.url);
    const viaProxy = new McpHttpClient(proxy.mcpUrl, agent);
    const first = await viaProxy.initialize();
    const second = await viaProxy.initialize();
    upstream.forget();
    expect((await viaProxy.request('POST', toolCall(2, 'echo', {}), first)).status).toBe(404);
    expect((await viaProxy.request('GET', undefined, first)).status).toBe(404);
    expect((await viaProxy.request('DELETE', undefined, second)).status).toBe(404);
    expect(await counts(proxy)).toEqual({ active: 0, notFound: 1, deleted: 1, closedUpstream: 0 });
  });

  it('a 400 that does not say the session is unknown leaves it alone', async () => {
    const upstream = await forgetfulUpstream({ status: 400, body: PLAIN_400 });
    const proxy = await proxyTo(upstream.url);
    const viaProxy = new McpHttpClient(proxy.mcpUrl, agent);
    const id = await viaProxy.initialize();
    upstream.forget();
    expect((await viaProxy.request('POST', toolCall(2, 'echo', {}), id)).status).toBe(400);
    expect(await counts(proxy)).toEqual({ active: 1, notFound: 0, deleted: 0, closedUpstream: 0 });
  });
});

describe('message path (legacy SSE frontend, streamable-HTTP upstream)', () => {
  /** server-everything on a fixed port, restartable: a restarted one knows no session and answers 400. */
  async function everythingOn(port: number): Promise<Running> {
    const child = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
    const running = track(child, port);
    await waitForPort(port, 15_000, child);
    return running;
  }

  it('server-everything restarted (it forgot every session, answers 400) ends the SSE session as upstream_not_found', async () => {
    const port = await freePort();
    let everything = await everythingOn(port);
    cleanups.push(() => everything.stop());
    const proxy = await proxyTo(`http://127.0.0.1:${port}/mcp`, ['--proxy-mode', 'sse']);
    const session = await connect(`http://127.0.0.1:${proxy.port}/sse`);
    cleanups.push(() => session.client.close());
    expect((await session.client.callTool({ name: 'echo', arguments: { message: 'hi' } })).content).toBeDefined();
    expect((await counts(proxy)).active).toBe(1);
    await everything.stop();
    everything = await everythingOn(port);
    await expect(session.client.callTool({ name: 'echo', arguments: { message: 'again' } })).rejects.toThrow(/No valid session ID provided|upstream|closed/i);
    await eventually(async () => expect(await counts(proxy)).toEqual({ active: 0, notFound: 1, deleted: 0, closedUpstream: 0 }));
  });

  it('a raw upstream answering 404 ends the SSE session as upstream_not_found', async () => {
    const upstream = await forgetfulUpstream({ status: 404, body: SDK_404 });
    const proxy = await proxyTo(upstream.url, ['--proxy-mode', 'sse']);
    const session = await connect(`http://127.0.0.1:${proxy.port}/sse`);
    cleanups.push(() => session.client.close());
    expect((await counts(proxy)).active).toBe(1);
    await eventually(async () => expect(upstream.streamsAsked()).toBe(1)); // else its GET, refused, would end the session first
    upstream.forget();
    await expect(session.client.callTool({ name: 'echo', arguments: {} })).rejects.toThrow(/Session not found/);
    await eventually(async () => expect(await counts(proxy)).toEqual({ active: 0, notFound: 1, deleted: 0, closedUpstream: 0 }));
  });

  it('a 400 that does not say the session is unknown keeps the SSE session', async () => {
    const upstream = await forgetfulUpstream({ status: 400, body: PLAIN_400 });
    const proxy = await proxyTo(upstream.url, ['--proxy-mode', 'sse']);
    const session = await connect(`http://127.0.0.1:${proxy.port}/sse`);
    cleanups.push(() => session.client.close());
    await eventually(async () => expect(upstream.streamsAsked()).toBe(1));
    upstream.forget();
    await expect(session.client.callTool({ name: 'echo', arguments: {} })).rejects.toThrow();
    expect(await counts(proxy)).toEqual({ active: 1, notFound: 0, deleted: 0, closedUpstream: 0 });
  });
});
