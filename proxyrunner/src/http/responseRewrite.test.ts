// Response rewriting over a real socket: JSON bodies get a new length, SSE events are
// rewritten one by one and re-framed, and nothing oversized or compressed passes unfiltered.
import { afterEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { forwardRewritten, rewriteJson } from './responseRewrite.ts';
import type { RpcMessage } from '../jsonrpc.ts';

const drop = (message: RpcMessage): RpcMessage => ('result' in message ? { ...message, result: { tools: [] } } : message);
let servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers) s.close();
  servers = [];
});

/** An upstream answering `body` with `headers`, and a proxy in front rewriting with `drop`. */
async function through(
  headers: Record<string, string>,
  body: string | string[],
  maxBytes = 1024,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string; refused: number }> {
  let refused = 0;
  const upstream = http.createServer((_, res) => {
    res.writeHead(200, headers);
    for (const part of [body].flat()) res.write(part);
    res.end();
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const proxy = http.createServer((_, res) => {
    http.get(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`, (up) => {
      forwardRewritten(
        up,
        res,
        up.statusCode ?? 502,
        up.rawHeaders.filter((_, i, a) => !['connection', 'keep-alive', 'date', 'transfer-encoding'].includes((i % 2 ? a[i - 1] : a[i])?.toLowerCase() ?? '')),
        drop,
        maxBytes,
        () => refused++,
      );
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  servers.push(upstream, proxy);
  const res = await fetch(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`).catch((err: Error) => err);
  if (res instanceof Error) return { status: 0, headers: {}, text: '', refused };
  const text = await res.text().catch(() => '<cut>');
  return { status: res.status, headers: Object.fromEntries(res.headers), text, refused };
}

describe('response rewriting', () => {
  it('rewrites single messages and batches, leaves other JSON alone', () => {
    expect(rewriteJson({ jsonrpc: '2.0', id: 1, result: { tools: [1] } }, drop)).toEqual({ jsonrpc: '2.0', id: 1, result: { tools: [] } });
    expect(rewriteJson([{ jsonrpc: '2.0', id: 1, result: {} }, { x: 1 }], drop)).toEqual([{ jsonrpc: '2.0', id: 1, result: { tools: [] } }, { x: 1 }]);
  });

  it('re-sends a JSON body with its new length', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'secret' }] } });
    const res = await through({ 'content-type': 'application/json', 'content-length': String(body.length) }, body);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ jsonrpc: '2.0', id: 1, result: { tools: [] } });
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
  });

  it('re-frames SSE events split across chunks, keeping event names, ids and other events', async () => {
    const note = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { x: 1 } });
    const answer = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'secret' }] } });
    const stream = `event: message\nid: 1\ndata: ${note}\n\n: keep\n\nevent: message\nid: 2\ndata: ${answer}\n\n`;
    const res = await through({ 'content-type': 'text/event-stream' }, [stream.slice(0, 50), stream.slice(50, 130), stream.slice(130)]);
    expect(res.text).toBe(
      `event: message\nid: 1\ndata: ${note}\n\n:keep\n\nevent: message\nid: 2\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [] } })}\n\n`,
    );
    expect(res.text).not.toContain('secret');
  });

  it('refuses a JSON body past the bound instead of forwarding it unfiltered', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'secret'.repeat(400) }] } });
    const res = await through({ 'content-type': 'application/json' }, body, 1024);
    expect(res.status).toBe(502);
    expect(res.text).not.toContain('secret');
    expect(res.refused).toBe(1);
  });

  it('cuts an event stream whose event grows past the bound', async () => {
    const res = await through(
      { 'content-type': 'text/event-stream' },
      [`data: {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"${'secret'.repeat(400)}`],
      1024,
    );
    expect(res.text).not.toContain('secret');
    expect(res.refused).toBe(1);
  });

  it('refuses a compressed body it cannot read', async () => {
    const res = await through({ 'content-type': 'application/json', 'content-encoding': 'gzip' }, 'not really gzip');
    expect(res.status).toBe(502);
    expect(res.refused).toBe(1);
  });
});
