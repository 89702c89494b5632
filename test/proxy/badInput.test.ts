// Bad input of every kind gets a clear answer and costs nothing lasting: no crash, no
// session, no leaked socket. Real proxy process, real sockets.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import http from 'node:http';
import net from 'node:net';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { McpHttpClient, INIT_BODY, parseAnswer, toolCall } from '../support/mcpHttp.ts';
import { eventually, scrape } from '../support/metrics.ts';
import { fakeHttpUpstream, rawUpstream } from '../support/fakeUpstream.ts';
import { everythingStdioCommand, freePort, startEchoServer, startProxy, type ProxyProcess, type Running } from '../support/processes.ts';

jest.setTimeout(60_000);

function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (text += c))
          .on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Open TCP sockets of a process, split by whether they lead to `upstreamPort` (its keep-alive pool). */
function sockets(pid: number, upstreamPort: number | undefined): { clientSide: number; upstreamPool: number } {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch {
      // fd closed while listing
    }
  }
  let clientSide = 0;
  let upstreamPool = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || !inodes.has(cols[9] as string)) continue;
      const remotePort = parseInt((cols[2] as string).split(':')[1] as string, 16);
      if (upstreamPort !== undefined && remotePort === upstreamPort) upstreamPool++;
      else clientSide++;
    }
  }
  return { clientSide, upstreamPool };
}

describe.each(['streamable-http', 'stdio'] as const)('bad client input, %s upstream', (transport) => {
  let upstream: Running | undefined;
  let proxy: ProxyProcess;
  let baseline: { clientSide: number; upstreamPool: number };
  let baselineTimers: number;
  const timers = async (): Promise<number> => {
    const heap = (await (await fetch(proxy.metricsUrl.replace('/metrics', '/debug/heap'))).json()) as { activeResources: Record<string, number> };
    return heap.activeResources.Timeout ?? 0;
  };

  beforeAll(async () => {
    const common = ['--max-body-bytes', '1Ki', '--client-header-timeout', '1s', '--client-body-timeout', '2s', '--enable-debug'];
    if (transport === 'stdio') {
      proxy = await startProxy(['--transport', 'stdio', ...common], { command: everythingStdioCommand() });
    } else {
      upstream = await startEchoServer();
      proxy = await startProxy(['--transport', 'streamable-http', '--target-url', `http://127.0.0.1:${upstream.port}/mcp`, ...common]);
    }
    await scrape(proxy.metricsUrl);
    baseline = sockets(proxy.child.pid as number, upstream?.port);
    baselineTimers = await timers();
  });

  afterAll(async () => {
    await proxy.stop();
    await upstream?.stop();
  });

  it('rejects a body that is not JSON with a JSON-RPC parse error', async () => {
    const res = await post(proxy.mcpUrl, '{"jsonrpc": "2.0", "method": ');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700, message: expect.stringMatching(/Parse error/) } });
  });

  it('rejects JSON that is not JSON-RPC', async () => {
    for (const body of ['{"hello":"world"}', '[]', '42', '{"jsonrpc":"1.0","id":1,"method":"ping"}']) {
      const res = await post(proxy.mcpUrl, body);
      expect(res.status).toBe(400);
      expect(parseAnswer(res.body).error?.code).toBe(-32600);
    }
  });

  it('rejects oversized bodies with 413, declared or streamed', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x'.repeat(4096) } } });
    const declared = await post(proxy.mcpUrl, big);
    expect(declared.status).toBe(413);
    expect(parseAnswer(declared.body).error?.message).toMatch(/limited to 1024 bytes/);
    const chunked = await post(proxy.mcpUrl, big, { 'transfer-encoding': 'chunked' });
    expect(chunked.status).toBe(413);
  });

  it('rejects malformed session IDs with 400', async () => {
    for (const id of ['has space', 'x'.repeat(600), 'tab\tinside']) {
      const res = await post(proxy.mcpUrl, toolCall(1, 'echo', {}), { 'mcp-session-id': id });
      expect(res.status).toBe(400);
      expect(parseAnswer(res.body).error?.message).toMatch(/Mcp-Session-Id/);
    }
  });

  it('answers unknown paths and methods clearly', async () => {
    expect((await post(proxy.mcpUrl.replace('/mcp', '/nope'), '{}')).status).toBe(404);
    const put = await fetch(proxy.mcpUrl, { method: 'PUT', body: '{}' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('POST, GET, DELETE');
  });

  it('holds no state for forged session IDs at high rate', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    const client = new McpHttpClient(proxy.mcpUrl, agent);
    for (let batch = 0; batch < 25; batch++) {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => client.request('POST', toolCall(i, 'echo', {}), `forged-${batch}-${i}-${Math.random()}`)),
      );
      for (const r of results) expect(r.status).toBe(404);
    }
    agent.destroy();
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_sessions_active')).toBe(0);
    expect(metrics.value('mcpfleet_proxy_sessions_created_total')).toBe(0);
  });

  it('closes slowloris connections that never finish their headers', async () => {
    const socket = net.connect(proxy.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write('POST /mcp HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const closedOrAnswered = await new Promise<string>((resolve) => {
      let answer = '';
      socket.on('data', (d) => (answer += d.toString()));
      socket.once('close', () => resolve(answer || 'closed'));
      setTimeout(() => resolve('still open'), 8_000);
    });
    socket.destroy();
    expect(closedOrAnswered).not.toBe('still open');
  });

  it('drops a client that vanishes mid-body without leaking', async () => {
    const socket = net.connect(proxy.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write('POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"jsonrpc":');
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    await eventually(async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_requests_in_flight')).toBe(0));
  });

  it('is still healthy, holds no sessions and no extra sockets afterwards', async () => {
    const res = await new McpHttpClient(proxy.mcpUrl, new http.Agent()).request('POST', INIT_BODY);
    expect(res.status).toBe(200);
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_sessions_active')).toBe(1);
    expect(metrics.value('mcpfleet_proxy_requests_rejected_total', { reason: 'malformed_json' })).toBe(1);
    expect(metrics.value('mcpfleet_proxy_requests_rejected_total', { reason: 'body_too_large' })).toBe(2);
    expect(metrics.value('mcpfleet_proxy_requests_rejected_total', { reason: 'invalid_session_id' })).toBe(3);
    // Every client connection is gone; what remains toward the upstream is the bounded
    // keep-alive pool (at most one socket per concurrent request we sent).
    await eventually(async () => expect(sockets(proxy.child.pid as number, upstream?.port).clientSide).toBeLessThanOrEqual(baseline.clientSide), 10_000);
    expect(sockets(proxy.child.pid as number, upstream?.port).upstreamPool).toBeLessThanOrEqual(20);
    // No timer outlives its request (the one live session holds none).
    expect(await timers()).toBeLessThanOrEqual(baselineTimers);
  });
});

/** An upstream that opens an event stream with one notification, then does `then`. */
const streamingUpstream = (then: (res: http.ServerResponse) => void = () => {}): ReturnType<typeof fakeHttpUpstream> =>
  fakeHttpUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{}}\n\n');
    then(res);
  });

async function expectNothingInFlight(proxy: ProxyProcess): Promise<void> {
  const metrics = await scrape(proxy.metricsUrl);
  expect(metrics.value('mcpfleet_proxy_streams_open')).toBe(0);
  expect(metrics.value('mcpfleet_proxy_requests_in_flight')).toBe(0);
}

describe('bad upstreams', () => {
  it('answers a JSON-RPC error at once when the upstream is down, and is not ready', async () => {
    const port = await freePort(); // nothing listens here
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', `http://127.0.0.1:${port}/mcp`]);
    try {
      const res = await post(proxy.mcpUrl, INIT_BODY);
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body)).toMatchObject({
        jsonrpc: '2.0',
        id: 1,
        error: { code: -32000, message: expect.stringMatching(/unreachable \(ECONNREFUSED\)/) },
      });
      await eventually(async () => expect((await fetch(proxy.metricsUrl.replace('/metrics', '/readyz'))).status).toBe(503));
      const metrics = await scrape(proxy.metricsUrl);
      expect(metrics.value('mcpfleet_proxy_upstream_errors_total', { kind: 'connect' })).toBe(1);
      expect(metrics.value('mcpfleet_proxy_upstream_up')).toBe(0);
    } finally {
      await proxy.stop();
    }
  });

  it('answers 502/503 with a reason when the stdio server cannot start', async () => {
    const proxy = await startProxy(['--transport', 'stdio'], { command: [process.execPath, '-e', 'process.exit(3)'] });
    try {
      const res = await post(proxy.mcpUrl, INIT_BODY);
      // 503 while it is down, 502 if it was up and died under this very request.
      expect([502, 503]).toContain(res.status);
      expect(parseAnswer(res.body).error?.message).toMatch(/stdio MCP server (is not running \(|stopped: )exited with code 3/);
      expect((await fetch(proxy.metricsUrl.replace('/metrics', '/readyz'))).status).toBe(503);
    } finally {
      await proxy.stop();
    }
  });

  it('turns an upstream speaking garbage into a 502', async () => {
    const upstream = await rawUpstream('this is not HTTP at all\r\n\r\n');
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url]);
    try {
      const res = await post(proxy.mcpUrl, INIT_BODY);
      expect(res.status).toBe(502);
      expect(parseAnswer(res.body).error?.message).toMatch(/invalid HTTP response|closed the connection/);
    } finally {
      await proxy.stop();
      await upstream.close();
    }
  });

  it('gives up on a silent upstream with 504 and closes the upstream connection', async () => {
    const upstream = await fakeHttpUpstream(() => {}); // never answers
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url, '--upstream-response-timeout', '500ms']);
    try {
      const res = await post(proxy.mcpUrl, INIT_BODY);
      expect(res.status).toBe(504);
      expect(parseAnswer(res.body).error?.message).toMatch(/timed out/);
      await eventually(async () => expect(upstream.openConnections()).toBe(0));
    } finally {
      await proxy.stop();
      await upstream.close();
    }
  });

  it('never cuts a quiet stream: the response timeout ends at the first byte', async () => {
    const upstream = await fakeHttpUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"n":1}}\n\n');
      setTimeout(() => res.end('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"n":2}}\n\n'), 1_500);
    });
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url, '--upstream-response-timeout', '500ms']);
    try {
      const res = await fetch(proxy.mcpUrl, { headers: { accept: 'text/event-stream' } });
      const text = await res.text();
      expect(text.match(/event: message/g)).toHaveLength(2);
    } finally {
      await proxy.stop();
      await upstream.close();
    }
  });

  it('tears down the client response when the upstream breaks off mid-stream', async () => {
    const upstream = await streamingUpstream((res) => setTimeout(() => res.socket?.destroy(), 200));
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url]);
    try {
      const outcome = await new Promise<string>((resolve) => {
        const req = http.get(proxy.mcpUrl, { headers: { accept: 'text/event-stream' } }, (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve(`end after ${text.length} bytes`));
          res.on('error', (err) => resolve(`error: ${err.message} after ${text.length} bytes`));
        });
        req.on('error', (err) => resolve(`request error: ${err.message}`));
        setTimeout(() => resolve('still open after 10 s'), 10_000).unref();
      });
      // A clean end would tell the client the stream was complete; it was not.
      expect(outcome).toMatch(/^error: aborted after \d+ bytes$/);
      await eventually(() => expectNothingInFlight(proxy));
    } finally {
      await proxy.stop();
      await upstream.close();
    }
  });

  it('closes the upstream stream when a client vanishes mid-stream', async () => {
    const upstream = await streamingUpstream(); // ...and then stays quiet, as a server with nothing to say does.
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url]);
    try {
      const streams = await Promise.all(
        Array.from(
          { length: 10 },
          () =>
            new Promise<http.ClientRequest>((resolve) => {
              const req = http.get(proxy.mcpUrl, { headers: { accept: 'text/event-stream' } }, (res) => res.once('data', () => resolve(req)));
              req.on('error', () => {});
            }),
        ),
      );
      expect(upstream.openConnections()).toBe(10);
      expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_streams_open')).toBe(10);
      for (const req of streams) req.destroy();
      await eventually(async () => expect(upstream.openConnections()).toBe(0));
      await expectNothingInFlight(proxy);
    } finally {
      await proxy.stop();
      await upstream.close();
    }
  });
});
