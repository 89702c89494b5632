// The proxyrunner as an HTTP intermediary (RFC 9110 §7.6), tried with raw sockets the
// way a hostile client or an odd upstream would: request lines below HTTP/1.0 and
// targets that are not a path are refused; hop-by-hop headers never cross the proxy in
// either direction, so one client cannot change how the pooled upstream connection is
// framed or kept; an upstream-issued session ID the proxy would refuse from a client
// is never handed to one. Real proxy process, real sockets on loopback.
import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import http from 'node:http';
import net from 'node:net';
import { INIT_BODY, parseAnswer } from '../../support/mcpHttp.ts';
import { eventually, scrape } from '../../support/metrics.ts';
import { startProxy, type ProxyProcess } from '../../support/processes.ts';

jest.setTimeout(60_000);

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  /** Which upstream connection carried it (1, 2, … in order of first request). */
  connection: number;
}

/** A node:http upstream that records what reached it and answers as `answer` says. */
async function recordingUpstream(answer: (req: Received, res: http.ServerResponse) => void) {
  const received: Received[] = [];
  const connectionIds = new WeakMap<net.Socket, number>();
  let connections = 0;
  const server = http.createServer((req, res) => {
    if (!connectionIds.has(req.socket)) connectionIds.set(req.socket, ++connections);
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      const r = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
        connection: connectionIds.get(req.socket) ?? 0,
      };
      received.push(r);
      answer(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes raw bytes to the proxy and returns everything it answered until it closed (or 5 s passed). */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => (socket.destroy(), resolve(answer)), 5_000);
    socket.setEncoding('latin1').on('data', (d: string) => (answer += d));
    socket.on('error', () => {});
    socket.on('close', () => (clearTimeout(timer), resolve(answer)));
    socket.write(bytes, 'latin1');
  });
}

const statusOf = (answer: string): number => Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0);
const bodyOf = (answer: string): string => answer.slice(answer.indexOf('\r\n\r\n') + 4);

const okJson = (_req: Received, res: http.ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{}}');
};

describe('request lines and targets (transparent streamable HTTP)', () => {
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    upstream = await recordingUpstream(okJson);
    proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url]);
  });
  afterAll(async () => {
    await proxy.stop();
    await upstream.close();
  });
  beforeEach(() => void (upstream.received.length = 0));

  it('refuses an HTTP/0.9 request line with 400 and forwards nothing', async () => {
    for (const line of ['GET /mcp\r\n\r\n', 'GET /mcp\r\nMcp-Session-Id: smuggled\r\n\r\n', 'POST /mcp HTTP/0.9\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}']) {
      const answer = await rawExchange(proxy.port, line);
      expect(statusOf(answer)).toBe(400);
      expect(JSON.parse(bodyOf(answer))).toMatchObject({ jsonrpc: '2.0', error: { code: -32600, message: expect.stringMatching(/HTTP\/1\.0 or later/) } });
    }
    expect(upstream.received).toEqual([]);
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_requests_rejected_total', { reason: 'http_version' })).toBe(3);
  });

  it('refuses absolute-form and asterisk targets with 400', async () => {
    const host = `127.0.0.1:${proxy.port}`;
    for (const line of [`GET http://${host}/mcp HTTP/1.1`, `GET http://evil.example/mcp HTTP/1.1`, 'OPTIONS * HTTP/1.1']) {
      const answer = await rawExchange(proxy.port, `${line}\r\nHost: ${host}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n`);
      expect(statusOf(answer)).toBe(400);
      expect(parseAnswer(bodyOf(answer)).error?.message).toMatch(/request target must be a path/);
    }
    expect(upstream.received).toEqual([]);
  });

  it('still serves HTTP/1.0 and ordinary paths', async () => {
    const answer = await rawExchange(
      proxy.port,
      `POST /mcp HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${INIT_BODY.length}\r\n\r\n${INIT_BODY}`,
    );
    expect(statusOf(answer)).toBe(200);
    expect(upstream.received).toHaveLength(1);
  });
});

describe('hop-by-hop headers (transparent streamable HTTP)', () => {
  const HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'transfer-encoding', 'x-secret', 'expect'];

  it('strips them from requests, re-frames the body, and keeps the pooled connection for the next client', async () => {
    const upstream = await recordingUpstream(okJson);
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url]);
    try {
      const chunked = `${INIT_BODY.length.toString(16)}\r\n${INIT_BODY}\r\n0\r\n\r\n`;
      const hostile = [
        'POST /mcp HTTP/1.1',
        'Host: x',
        'Content-Type: application/json',
        'Accept: application/json, text/event-stream',
        'Connection: close, X-Secret',
        'X-Secret: for-this-hop-only',
        'Keep-Alive: timeout=1, max=1',
        'Proxy-Connection: close',
        'TE: trailers',
        'Trailer: X-Late',
        'Upgrade: h2c',
        'Transfer-Encoding: chunked',
      ].join('\r\n');
      const answer = await rawExchange(proxy.port, `${hostile}\r\n\r\n${chunked}`);
      expect(statusOf(answer)).toBe(200);
      const [first] = upstream.received;
      // Only the proxy's own hop remains: its agent's keep-alive, nothing the client said.
      expect(first?.headers.connection).toBe('keep-alive');
      for (const name of HOP.filter((n) => n !== 'connection')) expect(first?.headers[name]).toBeUndefined();
      expect(first?.headers['content-length']).toBe(String(Buffer.byteLength(INIT_BODY)));
      expect(first?.body).toBe(INIT_BODY);

      // The next client's request rides the same pooled upstream connection: the first
      // client's "Connection: close" ended only its own hop.
      const next = await fetch(proxy.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: INIT_BODY,
      });
      expect(next.status).toBe(200);
      expect(upstream.received.map((r) => r.connection)).toEqual([1, 1]);

      // GET and DELETE carry no body upstream, whatever framing the client claimed.
      const get = await rawExchange(
        proxy.port,
        'GET /mcp HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      );
      expect(statusOf(get)).toBe(200);
      const third = upstream.received[2];
      expect(third?.method).toBe('GET');
      expect(third?.body).toBe('');
      expect(third?.headers['transfer-encoding']).toBeUndefined();
      expect(third?.headers['content-length']).toBeUndefined();
    } finally {
      await proxy.stop();
      await upstream.close();
    }
  });

  it("strips them from responses, including the headers the upstream's Connection names", async () => {
    const upstream = await recordingUpstream((_req, res) => {
      res
        .writeHead(200, {
          'content-type': 'application/json',
          connection: 'keep-alive, X-Upstream-Secret',
          'x-upstream-secret': 'internal',
          'keep-alive': 'timeout=5',
          upgrade: 'h2c',
          'proxy-connection': 'keep-alive',
          'x-end-to-end': 'kept',
        })
        .end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url]);
    try {
      const answer = await new Promise<{ status: number; rawHeaders: string[]; body: string }>((resolve, reject) => {
        const req = http.request(
          proxy.mcpUrl,
          { method: 'POST', agent: false, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } },
          (res) => {
            let body = '';
            res
              .setEncoding('utf8')
              .on('data', (c: string) => (body += c))
              .on('end', () => resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, body }));
          },
        );
        req.on('error', reject);
        req.end(INIT_BODY);
      });
      expect(answer.status).toBe(200);
      const names = answer.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      expect(names).toContain('x-end-to-end');
      for (const name of ['x-upstream-secret', 'keep-alive', 'upgrade', 'proxy-connection']) expect(names).not.toContain(name);
      expect(answer.body).toBe('{"jsonrpc":"2.0","id":1,"result":{}}');
    } finally {
      await proxy.stop();
      await upstream.close();
    }
  });
});

describe('session IDs issued by the upstream (transparent streamable HTTP)', () => {
  const ODD = ['has space', 'x'.repeat(600), 'tab\there', 'caf\u00e9'];

  it.each(ODD.map((id) => [JSON.stringify(id.length > 40 ? `${id.slice(0, 10)}… (${id.length} chars)` : id), id]))(
    'refuses an unusable one (%s) at initialize with a 502, and ends it upstream',
    async (_label, odd) => {
      const upstream = await recordingUpstream((req, res) => {
        if (req.method === 'DELETE') return void res.writeHead(200).end();
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': Buffer.from(odd, 'latin1').toString('latin1') });
        res.end('{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"odd","version":"1"}}}');
      });
      const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url]);
      try {
        const res = await fetch(proxy.mcpUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: INIT_BODY,
        });
        expect(res.status).toBe(502);
        expect(res.headers.get('mcp-session-id')).toBeNull();
        expect(await res.json()).toMatchObject({ jsonrpc: '2.0', id: 1, error: { code: -32000, message: expect.stringMatching(/unusable Mcp-Session-Id/) } });
        await eventually(async () => expect(upstream.received.map((r) => r.method)).toEqual(['POST', 'DELETE']));
        expect(Buffer.from(upstream.received[1]?.headers['mcp-session-id'] as string, 'latin1').toString('latin1')).toBe(odd);
        const metrics = await scrape(proxy.metricsUrl);
        expect(metrics.value('mcpfleet_proxy_upstream_errors_total', { kind: 'invalid_session_id' })).toBe(1);
        expect(metrics.value('mcpfleet_proxy_sessions_active')).toBe(0);
      } finally {
        await proxy.stop();
        await upstream.close();
      }
    },
  );

  it('refuses initialize that carries a session header, as the message path does', async () => {
    const upstream = await recordingUpstream(okJson);
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url]);
    try {
      const res = await fetch(proxy.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'someone-elses' },
        body: INIT_BODY,
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', id: 1, error: { code: -32600, message: expect.stringMatching(/without Mcp-Session-Id/) } });
      expect(upstream.received).toEqual([]);
    } finally {
      await proxy.stop();
      await upstream.close();
    }
  });

  it('hands out a usable one, and accepts it back', async () => {
    const upstream = await recordingUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'Ab-9_~.!' });
      res.end(req.body.includes('initialize') ? '{"jsonrpc":"2.0","id":1,"result":{}}' : '{"jsonrpc":"2.0","id":2,"result":{}}');
    });
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url]);
    try {
      const init = await fetch(proxy.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: INIT_BODY,
      });
      const id = init.headers.get('mcp-session-id') as string;
      expect(id).toBe('Ab-9_~.!');
      const ping = await fetch(proxy.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': id },
        body: '{"jsonrpc":"2.0","id":2,"method":"ping"}',
      });
      expect(ping.status).toBe(200);
      expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_active')).toBe(1);
    } finally {
      await proxy.stop();
      await upstream.close();
    }
  });
});

describe('upstream connections are reused only when known clean', () => {
  it('never lets bytes an upstream sends after a complete response reach the next client (regression guard)', async () => {
    let requests = 0;
    const sockets: net.Socket[] = [];
    const upstream = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      let buffer = '';
      socket.setEncoding('latin1').on('data', (chunk: string) => {
        buffer += chunk;
        const end = buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        const length = Number(/content-length: *(\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        buffer = '';
        if (++requests === 1) {
          socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
          // A desynchronised upstream: a second "response" nobody asked for, a moment later.
          setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\r\n{"smuggled":true}'), 100);
        } else socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{"honest":true}');
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}/mcp`]);
    const ping = () =>
      fetch(proxy.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      });
    try {
      expect(await (await ping()).text()).toBe('{}');
      await eventually(async () => expect(sockets.some((s) => s.bytesWritten > 100)).toBe(true));
      for (let i = 0; i < 3; i++) expect(await (await ping()).text()).toBe('{"honest":true}');
    } finally {
      await proxy.stop();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });
});

describe('the strict HTTP parser is on whatever NODE_OPTIONS says', () => {
  it('refuses Content-Length with Transfer-Encoding (a smuggling shape) even under --insecure-http-parser (regression guard)', async () => {
    const upstream = await recordingUpstream(okJson);
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url], { env: { NODE_OPTIONS: '--insecure-http-parser' } });
    try {
      const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
      const answer = await rawExchange(
        proxy.port,
        `POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      );
      expect(statusOf(answer)).toBe(400);
      expect(upstream.received).toEqual([]);
    } finally {
      await proxy.stop();
      await upstream.close();
    }
  });
});

describe('a legacy SSE upstream names where to post', () => {
  it('refuses an endpoint on another origin: client messages go only where --target-url points', async () => {
    const elsewhere = await recordingUpstream(okJson);
    const upstream = await recordingUpstream(() => {});
    const sse = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: endpoint\ndata: ${elsewhere.url.replace('/mcp', '/steal')}\n\n`);
    });
    await new Promise<void>((resolve) => sse.listen(0, '127.0.0.1', resolve));
    const proxy = await startProxy(['--transport', 'sse', '--target-url', `http://127.0.0.1:${(sse.address() as net.AddressInfo).port}/sse`]);
    try {
      const res = await fetch(proxy.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: INIT_BODY,
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/another origin/);
      expect(elsewhere.received).toEqual([]);
    } finally {
      await proxy.stop();
      sse.closeAllConnections();
      await new Promise<void>((resolve) => sse.close(() => resolve()));
      await elsewhere.close();
      await upstream.close();
    }
  });
});
