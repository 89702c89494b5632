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
  if (message.method === 'initialize')
    server.send({ jsonrpc: '2.0', id: message.id, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'fake', version: '1' } } });
  else if (message.method === 'tools/call') server.send({ jsonrpc: '2.0', id: message.id, result: { echoed: message.params } });
};

function collect(link: Link): RpcMessage[] {
  const got: RpcMessage[] = [];
  link.onmessage = (m) => got.push(m);
  return got;
}

const tick = (ms = 10): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function counter(m: ReturnType<typeof metrics>, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await m.registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? NaN;
}

const metrics = () =>
  createMetrics({
    activeSessions: () => 0,
    memoryLimitBytes: undefined,
    info: { version: 't', transport: 'stdio', proxyMode: 'streamable-http' },
    defaultMetrics: false,
  });

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
    got.forEach((messages, i) =>
      expect(messages).toEqual([expect.objectContaining({ id: `init-${i}`, result: expect.objectContaining({ serverInfo: { name: 'fake', version: '1' } }) })]),
    );
    await mux.close();
  });

  it('sends initialize again when the shared one stays unanswered past the timeout', async () => {
    let answer = false;
    const { server, launch } = fakeServer((message, s) => {
      if (message.method === 'initialize' && answer) echoing(message, s);
    });
    const mux = new StdioMultiplexer(launch, silentLogger, metrics(), { responseTimeoutMs: 20 });
    const a = await mux.open();
    a.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} });
    await tick(40);
    answer = true;
    const b = await mux.open();
    const gotB = collect(b);
    b.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} });
    await tick();
    expect(server.received.filter((m) => m.method === 'initialize')).toHaveLength(2);
    expect(gotB).toEqual([expect.objectContaining({ id: 1, result: expect.objectContaining({ serverInfo: { name: 'fake', version: '1' } }) })]);
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
    expect(gotB).toEqual([{ jsonrpc: '2.0', id: 'mcpfleet-srv-1', method: 'sampling/createMessage', params: {} }]);
    b.send({ jsonrpc: '2.0', id: 'mcpfleet-srv-1', result: { content: 'ok' } });
    await tick();
    expect(server.received.at(-1)).toEqual({ jsonrpc: '2.0', id: 'srv-1', result: { content: 'ok' } });
    await mux.close();
  });

  it('drops an answer to a server request from a session it was not delivered to', async () => {
    const { server, launch } = fakeServer((message, s) => {
      if (message.method === 'tools/call') s.send({ jsonrpc: '2.0', id: 7, method: 'sampling/createMessage', params: {} });
    });
    const m = metrics();
    const mux = new StdioMultiplexer(launch, silentLogger, m);
    const a = await mux.open();
    const b = await mux.open();
    const gotA = collect(a);
    collect(b);
    for (const l of [a, b]) l.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    a.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} });
    await tick();
    const delivered = gotA[0]?.id;
    expect(delivered).toBe('mcpfleet-srv-1');
    // B forges answers: with the delivered id, and with the server's own id.
    b.send({ jsonrpc: '2.0', id: delivered, result: { forged: true } });
    b.send({ jsonrpc: '2.0', id: 7, result: { forged: true } });
    await tick();
    expect(server.received.filter((r) => r.method === undefined)).toEqual([]);
    a.send({ jsonrpc: '2.0', id: delivered, result: { genuine: true } });
    await tick();
    expect(server.received.filter((r) => r.method === undefined)).toEqual([{ jsonrpc: '2.0', id: 7, result: { genuine: true } }]);
    expect(await counter(m, 'mcpfleet_proxy_messages_refused_total', { reason: 'foreign_response' })).toBe(2);
    expect(mux.pendingCount).toBe(1); // A's tool call, still unanswered
    await mux.close();
  });

  it('answers the server with an error when two sessions could own its request', async () => {
    const { server, launch } = fakeServer(() => {});
    const m = metrics();
    const mux = new StdioMultiplexer(launch, silentLogger, m);
    const a = await mux.open();
    const b = await mux.open();
    const gotA = collect(a);
    const gotB = collect(b);
    for (const l of [a, b]) l.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    a.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} });
    b.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} });
    await tick();
    server.send({ jsonrpc: '2.0', id: 'x', method: 'elicitation/create', params: {} });
    await tick();
    expect(gotA).toEqual([]);
    expect(gotB).toEqual([]);
    expect(server.received.at(-1)).toEqual({
      jsonrpc: '2.0',
      id: 'x',
      error: { code: -32603, message: expect.stringMatching(/cannot attribute this request to one client session \(2 sessions/) },
    });
    expect(await counter(m, 'mcpfleet_proxy_messages_refused_total', { reason: 'unattributable_server_request' })).toBe(1);
    await mux.close();
  });

  it('attributes a server request by a progress token the proxy minted', async () => {
    const { server, launch } = fakeServer(() => {});
    const mux = new StdioMultiplexer(launch, silentLogger, metrics());
    const a = await mux.open();
    const b = await mux.open();
    const gotA = collect(a);
    const gotB = collect(b);
    for (const l of [a, b]) l.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    a.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} });
    b.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { _meta: { progressToken: 'b-token' } } });
    await tick();
    const token = (server.received.at(-1)?.params?._meta as { progressToken: string }).progressToken;
    server.send({ jsonrpc: '2.0', id: 'x', method: 'sampling/createMessage', params: { _meta: { progressToken: token } } });
    await tick();
    expect(gotA).toEqual([]);
    expect(gotB.map((g) => g.method)).toEqual(['sampling/createMessage']);
    await mux.close();
  });

  it("sends the server's cancellation of its request only to the session that got it", async () => {
    const { server, launch } = fakeServer((message, s) => {
      if (message.method === 'tools/call') s.send({ jsonrpc: '2.0', id: 9, method: 'roots/list' });
    });
    const mux = new StdioMultiplexer(launch, silentLogger, metrics());
    const a = await mux.open();
    const b = await mux.open();
    const gotA = collect(a);
    const gotB = collect(b);
    for (const l of [a, b]) l.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    b.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} });
    await tick();
    server.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 9 } });
    await tick();
    expect(gotA).toEqual([]);
    expect(gotB).toEqual([
      { jsonrpc: '2.0', id: 'mcpfleet-srv-1', method: 'roots/list' },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'mcpfleet-srv-1' } },
    ]);
    expect(mux.pendingCount).toBe(1);
    await mux.close();
  });

  it('answers the server with an error when the session leaves its request unanswered past the timeout', async () => {
    const { server, launch } = fakeServer((message, s) => {
      if (message.method === 'tools/call') s.send({ jsonrpc: '2.0', id: 'ask', method: 'elicitation/create', params: {} });
    });
    const m = metrics();
    const mux = new StdioMultiplexer(launch, silentLogger, m, { responseTimeoutMs: 50 });
    const a = await mux.open();
    const got = collect(a);
    a.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    a.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} });
    while (!server.received.some((r) => r.id === 'ask')) await tick();
    expect(server.received.find((r) => r.id === 'ask')).toEqual({
      jsonrpc: '2.0',
      id: 'ask',
      error: { code: -32603, message: expect.stringMatching(/did not answer/) },
    });
    expect(got).toEqual([
      { jsonrpc: '2.0', id: 'mcpfleet-srv-1', method: 'elicitation/create', params: {} },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'mcpfleet-srv-1', reason: expect.any(String) } },
    ]);
    a.send({ jsonrpc: '2.0', id: 'mcpfleet-srv-1', result: { late: true } });
    await tick();
    expect(server.received.filter((r) => r.id === 'ask')).toHaveLength(1);
    expect(mux.pendingCount).toBe(1); // only the tool call
    expect(await counter(m, 'mcpfleet_proxy_messages_refused_total', { reason: 'unanswered_server_request' })).toBe(1);
    await mux.close();
  });

  it('keeps a task to the session that created it: lookups, listing, status and its server requests', async () => {
    let task = 0;
    const { server, launch } = fakeServer((message, s) => {
      if (message.method === 'tools/call') s.send({ jsonrpc: '2.0', id: message.id, result: { task: { taskId: `task-${++task}`, status: 'working' } } });
      if (message.method === 'tasks/list')
        s.send({ jsonrpc: '2.0', id: message.id, result: { tasks: [{ taskId: 'task-1' }, { taskId: 'task-2' }, { taskId: 'task-x' }] } });
      if (message.method === 'tasks/get') s.send({ jsonrpc: '2.0', id: message.id, result: { taskId: message.params?.taskId, status: 'working' } });
    });
    const m = metrics();
    const mux = new StdioMultiplexer(launch, silentLogger, m);
    const a = await mux.open();
    const b = await mux.open();
    const gotA = collect(a);
    const gotB = collect(b);
    for (const l of [a, b]) l.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    a.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { task: {} } });
    await tick();
    b.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { task: {} } });
    await tick();
    gotA.length = 0;
    gotB.length = 0;

    b.send({ jsonrpc: '2.0', id: 2, method: 'tasks/get', params: { taskId: 'task-1' } });
    b.send({ jsonrpc: '2.0', id: 3, method: 'tasks/list', params: {} });
    a.send({ jsonrpc: '2.0', id: 2, method: 'tasks/get', params: { taskId: 'task-1' } });
    await tick();
    expect(gotB).toEqual([
      expect.objectContaining({ id: 2, error: { code: -32602, message: 'Task not found' } }),
      { jsonrpc: '2.0', id: 3, result: { tasks: [{ taskId: 'task-2' }] } },
    ]);
    expect(gotA).toEqual([{ jsonrpc: '2.0', id: 2, result: { taskId: 'task-1', status: 'working' } }]);
    expect(server.received.filter((r) => r.method === 'tasks/get')).toHaveLength(1);
    expect(await counter(m, 'mcpfleet_proxy_messages_refused_total', { reason: 'foreign_task' })).toBe(1);

    // Neither session is in flight; the task metadata names the owner.
    gotA.length = 0;
    gotB.length = 0;
    server.send({ jsonrpc: '2.0', method: 'notifications/tasks/status', params: { taskId: 'task-2', status: 'input_required' } });
    server.send({ jsonrpc: '2.0', id: 'e', method: 'elicitation/create', params: { _meta: { 'io.modelcontextprotocol/related-task': { taskId: 'task-2' } } } });
    await tick();
    expect(gotA).toEqual([]);
    expect(gotB.map((g) => g.method)).toEqual(['notifications/tasks/status', 'elicitation/create']);
    await mux.close();
  });

  it('refuses a second request with an id still in flight in the same session', async () => {
    const { server, launch } = fakeServer(() => {});
    const mux = new StdioMultiplexer(launch, silentLogger, metrics());
    const a = await mux.open();
    const got = collect(a);
    a.send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { n: 1 } });
    a.send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { n: 2 } });
    await tick();
    expect(server.received).toHaveLength(1);
    expect(got).toEqual([expect.objectContaining({ id: 4, error: expect.objectContaining({ message: expect.stringMatching(/already in flight/) }) })]);
    server.send({ jsonrpc: '2.0', id: server.received[0]?.id, result: { n: 1 } });
    await tick();
    expect(got.at(-1)).toEqual({ jsonrpc: '2.0', id: 4, result: { n: 1 } });
    await mux.close();
  });

  it('frees a request the client cancels and tells the server', async () => {
    const { server, launch } = fakeServer(() => {});
    const mux = new StdioMultiplexer(launch, silentLogger, metrics());
    const a = await mux.open();
    const got = collect(a);
    a.send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { _meta: { progressToken: 1 } } });
    await tick();
    expect(mux.pendingCount).toBe(1);
    const upstreamId = server.received[0]?.id;
    a.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 4, reason: 'timeout' } });
    await tick();
    expect(mux.pendingCount).toBe(0);
    expect(server.received.at(-1)).toEqual({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: upstreamId, reason: 'timeout' } });
    server.send({ jsonrpc: '2.0', id: upstreamId, result: {} });
    await tick();
    expect(got).toEqual([]);
    await mux.close();
  });

  it("cancels a closed session's requests upstream and drops late answers", async () => {
    const { server, launch } = fakeServer(() => {});
    const mux = new StdioMultiplexer(launch, silentLogger, metrics());
    const a = await mux.open();
    const got = collect(a);
    a.send({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: {} });
    await tick();
    const upstreamId = server.received[0]?.id;
    a.close();
    await tick();
    expect(server.received.at(-1)).toEqual({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: upstreamId, reason: 'client session ended' },
    });
    server.send({ jsonrpc: '2.0', id: upstreamId, result: {} });
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
