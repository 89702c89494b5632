// Upstreams that answer one tool call with a message of any size, over real sockets:
// a legacy HTTP+SSE server (answers travel as events on its GET stream) and a
// streamable-HTTP server (answers as one JSON body or as an SSE event on the POST).
// `big` answers `bytes` of text, with the id last as the MCP TypeScript SDK writes it;
// `echo` answers small. The huge bytes are written in pieces with backpressure.
import type http from 'node:http';
import { fakeHttpUpstream, readBody, type FakeUpstream } from './fakeUpstream.ts';

interface Call {
  id?: number | string;
  method?: string;
  params?: { name?: string; arguments?: Record<string, unknown> };
}

const PIECE = 'x'.repeat(1 << 20);

function write(res: http.ServerResponse, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (res.write(text)) resolve();
    else res.once('drain', () => resolve());
  });
}

/** Writes `{"result":{…text of `bytes`…},"jsonrpc":"2.0","id":id}` in pieces, framed by prefix/suffix. */
async function writeBig(res: http.ServerResponse, id: number | string, bytes: number, prefix: string, suffix: string): Promise<void> {
  await write(res, `${prefix}{"result":{"content":[{"type":"text","text":"`);
  for (let left = bytes; left > 0 && !res.destroyed; left -= PIECE.length) await write(res, left >= PIECE.length ? PIECE : PIECE.slice(0, left));
  await write(res, `"}]},"jsonrpc":"2.0","id":${JSON.stringify(id)}}${suffix}`);
}

function answer(call: Call): unknown {
  if (call.method === 'initialize') return { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'huge', version: '1' } };
  if (call.method === 'tools/call') return { content: [{ type: 'text', text: `Echo: ${String(call.params?.arguments?.message)}` }] };
  return {};
}

const isBig = (call: Call): boolean => call.method === 'tools/call' && call.params?.name === 'big';
const bytesOf = (call: Call): number => Number(call.params?.arguments?.bytes);

/** Legacy HTTP+SSE upstream: GET /sse names /messages?session=N; answers go on the stream. */
export function legacySseUpstream(): Promise<FakeUpstream> {
  const streams = new Map<string, http.ServerResponse>();
  let next = 0;
  return fakeHttpUpstream(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/sse') {
      const session = String(++next);
      streams.set(session, res);
      res.once('close', () => streams.delete(session));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: endpoint\ndata: /messages?session=${session}\n\n`);
      return;
    }
    const stream = streams.get(url.searchParams.get('session') ?? '');
    if (req.method !== 'POST' || !stream) {
      res.writeHead(404).end();
      return;
    }
    const call = JSON.parse(await readBody(req)) as Call;
    res.writeHead(202).end();
    if (call.id === undefined) return;
    if (isBig(call)) await writeBig(stream, call.id, bytesOf(call), 'event: message\ndata: ', '\n\n');
    else stream.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: call.id, result: answer(call) })}\n\n`);
  }).then((upstream) => ({ ...upstream, url: upstream.url.replace(/\/mcp$/, '/sse') }));
}

/**
 * Streamable-HTTP upstream: `big` answers as one JSON body or as an SSE event on the POST.
 * GET opens a quiet event stream (a server with nothing to say yet).
 */
export function streamableUpstream(bigAs: 'json' | 'sse'): Promise<FakeUpstream> {
  return fakeHttpUpstream(async (req, res) => {
    if (req.method === 'DELETE') {
      res.writeHead(200).end();
      return;
    }
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'huge-session' });
      res.write(': open\n\n');
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST, DELETE' }).end();
      return;
    }
    const call = JSON.parse(await readBody(req)) as Call;
    const headers = { 'mcp-session-id': 'huge-session' };
    if (call.id === undefined) {
      res.writeHead(202, headers).end();
      return;
    }
    if (isBig(call) && bigAs === 'sse') {
      res.writeHead(200, { ...headers, 'content-type': 'text/event-stream' });
      await writeBig(res, call.id, bytesOf(call), 'event: message\ndata: ', '\n\n');
      res.end();
      return;
    }
    if (isBig(call)) {
      res.writeHead(200, { ...headers, 'content-type': 'application/json' });
      await writeBig(res, call.id, bytesOf(call), '', '');
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: call.id, result: answer(call) }));
  });
}
