// The multiplexer against a scripted in-memory stdio server (PassThrough pipes): fast,
// exact checks of id rewriting and routing. The real child process and real clients
// are exercised end to end in test/proxy/.
import { describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import type { RpcMessage } from '../jsonrpc.ts';
import { silentLogger } from '../../../common/log.ts';
import { createMetrics } from '../metrics.ts';
import type { Link } from './link.ts';
import { StdioMultiplexer } from './multiplexer.ts';
import type { StdioProcess } from './stdio.ts';

interface FakeServer {
  received: RpcMessage[];
  send(message: RpcMessage): void;
  exit(): void;
  starts: number;
}

function fakeServer(respond: (message: RpcMessage, server: FakeServer) => void): { server: FakeServer; launch: () => Promise<StdioProcess> } {
  let current: { stdout: PassThrough; exit: (why: string) => void } | undefined;
  const server: FakeServer = {
    received: [],
    starts: 0,
    send: (message) => current?.stdout.write(JSON.stringify(message) + '\n'),
    exit: () => current?.exit('exited with code 1'),
  };
  const launch = async (): Promise<StdioProcess> => {
    server.starts++;
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    let exit: (why: string) => void = () => {};
    const exited = new Promise<string>((resolve) => (exit = resolve));
    current = { stdout, exit };
    let buffer = '';
    stdin.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const message = JSON.parse(buffer.slice(0, nl)) as RpcMessage;
        buffer = buffer.slice(nl + 1);
        server.received.push(message);
        respond(message, server);
      }
    });
    return { stdin, stdout, exited, kill: () => exit('killed') };
  };
  return { server, launch };
}

const echoing = (message: RpcMessage, server: FakeServer): void => {
  if (message.method === 'initialize') server.send({ jsonrpc: '2.0', id: message.id, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'fake', version: '1' } } });
  else if (message.method === 'tools/call') server.send({ jsonrpc: '2.0', id: message.id, result: { echoed: message.params } });
};

function collect(link: Link): RpcMessage[] {
  const got: RpcMessage[] = [];
  link.onmessage = (m) => got.push(m);
  return got;
}

const tick = (ms = 10): Promise<void> => new Promise((r) => setTimeout(r, ms));
const metrics = () => createMetrics({ activeSessions: () => 0, memoryLimitBytes: undefined, info: { version: 't', transport: 'stdio', proxyMode: 'streamable-http' }, defaultMetrics: false });

describe('StdioMultiplexer', () => {
  it('rewrites ids per session and routes answers back', async () => {
    const { server, launch } = fakeServer(echoing);
    const mux = new StdioMultiplexer(launch, silentLogger, metrics());
    const a = await mux.open();
    const b = await mux.open();
    const gotA = collect(a);
    const gotB = collect(b);
    a.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { who: 'a' } });
    b.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { who: 'b' } });
    await tick();
    const upstreamIds = server.received.map((m) => m.id);
    expect(new Set(upstreamIds).size).toBe(2);
    expect(gotA).toEqual([{ jsonrpc: '2.0', id: 1, result: { echoed: { who: 'a' } } }]);
    expect(gotB).toEqual([{ jsonrpc: '2.0', id: 1, result: { echoed: { who: 'b' } } }]);
    await mux.close();
  });

  it('sends initialize once and replays the cached result', async () => {
    const { server, launch } = fakeServer(echoing);
    const mux = new StdioMultiplexer(launch, silentLogger, metrics());
    const links = await Promise.all([mux.open(), mux.open(), mux.open()]);
    const got = links.map(collect);
    links.forEach((l, i) => l.send({ jsonrpc: '2.0', id: `init-${i}`, method: 'initialize', params: {} }));
    links.forEach((l) => l.send({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    await tick();
    expect(server.received.filter((m) => m.method === 'initialize')).toHaveLength(1);
    expect(server.received.filter((m) => m.method === 'notifications/initialized')).toHaveLength(1);
    got.forEach((messages, i) => expect(messages).toEqual([expect.objectContaining({ id: `init-${i}`, result: expect.objectContaining({ serverInfo: { name: 'fake', version: '1' } }) })]));
    await mux.close();
  });

  it('routes progress by rewritten token and fans out other notifications', async () => {
    const { server, launch } = fakeServer((message, s) => {
      echoing(message, s);
      const token = (message.params?._meta as { progressToken?: string } | undefined)?.progressToken;
      if (message.method === 'tools/list' && token) {
        s.send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: 1 } });
        s.send({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
        s.send({ jsonrpc: '2.0', id: message.id, result: { tools: [] } });
      }
    });
    const mux = new StdioMultiplexer(launch, silentLogger, metrics());
    const a = await mux.open();
    const b = await mux.open();
    const gotA = collect(a);
    const gotB = collect(b);
    for (const l of [a, b]) l.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    a.send({ jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: { progressToken: 'mine' } } });
    await tick();
    expect(server.received.find((m) => m.method === 'tools/list')?.params?._meta).not.toEqual({ progressToken: 'mine' });
    expect(gotA).toEqual([
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'mine', progress: 1 } },
      { jsonrpc: '2.0', method: 'notifications/tools/list_changed' },
      { jsonrpc: '2.0', id: 5, result: { tools: [] } },
    ]);
    expect(gotB).toEqual([{ jsonrpc: '2.0', method: 'notifications/tools/list_changed' }]);
    await mux.close();
  });

  it('sends server requests to the session with a request in flight and relays the answer', async () => {
    const { server, launch } = fakeServer((message, s) => {
      if (message.method === 'tools/call') s.send({ jsonrpc: '2.0', id: 'srv-1', method: 'sampling/createMessage', params: {} });
    });
    const mux = new StdioMultiplexer(launch, silentLogger, metrics());
    const a = await mux.open();
    const b = await mux.open();
    const gotA = collect(a);
    const gotB = collect(b);
    for (const l of [a, b]) l.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    b.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} });
    await tick();
    expect(gotA).toEqual([]);
    expect(gotB).toEqual([{ jsonrpc: '2.0', id: 'srv-1', method: 'sampling/createMessage', params: {} }]);
    b.send({ jsonrpc: '2.0', id: 'srv-1', result: { content: 'ok' } });
    await tick();
    expect(server.received.at(-1)).toEqual({ jsonrpc: '2.0', id: 'srv-1', result: { content: 'ok' } });
    await mux.close();
  });

  it('cancels a closed session\'s requests upstream and drops late answers', async () => {
    const { server, launch } = fakeServer(() => {});
    const mux = new StdioMultiplexer(launch, silentLogger, metrics());
    const a = await mux.open();
    const got = collect(a);
    a.send({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: {} });
    await tick();
    const upstreamId = server.received[0]?.id;
    a.close();
    await tick();
    expect(server.received.at(-1)).toEqual({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: upstreamId, reason: 'client session ended' } });
    server.send({ jsonrpc: '2.0', id: upstreamId as number, result: {} });
    await tick();
    expect(got).toEqual([]);
    expect(mux.linkCount).toBe(0);
    await mux.close();
  });

  it('ends every link when the server dies, answers in-flight requests, and restarts it', async () => {
    const { server, launch } = fakeServer(() => {});
    const mux = new StdioMultiplexer(launch, silentLogger, metrics());
    const a = await mux.open();
    const got = collect(a);
    let closed = 0;
    a.onclose = () => closed++;
    a.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: {} });
    await tick();
    server.exit();
    await tick();
    expect(closed).toBe(1);
    expect(got).toEqual([expect.objectContaining({ id: 3, error: expect.objectContaining({ message: expect.stringMatching(/stdio MCP server stopped/) }) })]);
    expect(mux.readiness().ready).toBe(false);
    await tick(400); // first restart after 250 ms
    expect(server.starts).toBe(2);
    expect(mux.readiness().ready).toBe(true);
    await mux.close();
  });
});
