// Session isolation on one shared stdio process, attacked from a second session over real
// sockets: a real proxyrunner (built CLI) in front of a scripted stdio server
// (test/fixtures/serverRequestsStdio.ts) that sends server-to-client requests during a tool
// call and answers the tool call with whatever answer it received.
//   - session B forges answers to the server request delivered to A (with the id A got and
//     with the server's own id): both are dropped, the server gets A's answer;
//   - two sessions have calls in flight and nothing ties the server request to one: the
//     server gets a JSON-RPC error instead of either session getting the request;
//   - a session reuses the id of its own request still in flight: the second gets a
//     JSON-RPC error, the first completes;
//   - session B asks for, lists or cancels the task session A created: "Task not found".
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type http from 'node:http';
import path from 'node:path';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connect, type Connected } from '../../support/sdk.ts';
import { eventually, scrape } from '../../support/metrics.ts';
import { fakeHttpUpstream, readBody, type FakeUpstream } from '../../support/fakeUpstream.ts';
import { ROOT, startProxy, type ProxyProcess } from '../../support/processes.ts';
import { callTool, rpcPost, rpcSession, toolJson } from '../../support/rpcClient.ts';

jest.setTimeout(30_000);

const FIXTURE = [process.execPath, path.join(ROOT, 'test/fixtures/serverRequestsStdio.ts')];

const SERVER_REQUESTS = [
  ['sampling/createMessage', CreateMessageRequestSchema, { model: 'a-model', role: 'assistant', content: { type: 'text', text: 'from A' } }],
  ['elicitation/create', ElicitRequestSchema, { action: 'accept', content: { name: 'from A' } }],
  ['roots/list', ListRootsRequestSchema, { roots: [{ uri: 'file:///from-A' }] }],
] as const;

describe('shared stdio process: a server request belongs to one session', () => {
  let proxy: ProxyProcess;
  const open: Connected[] = [];

  beforeAll(async () => {
    proxy = await startProxy(['--transport', 'stdio', '--log-level', 'warn'], { command: FIXTURE });
  });

  afterAll(async () => {
    for (const c of open) await c.end().catch(() => {});
    await proxy?.stop();
  });

  const refused = async (reason: string): Promise<number> => (await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_messages_refused_total', { reason }) ?? NaN;

  it.each(SERVER_REQUESTS)('only the session that got %s can answer it', async (method, schema, expected) => {
    const a = await connect(proxy.mcpUrl, { capabilities: { sampling: {}, elicitation: {}, roots: {} } });
    open.push(a);
    let delivered: (id: string | number) => void = () => {};
    const deliveredId = new Promise<string | number>((resolve) => (delivered = resolve));
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    a.client.setRequestHandler(schema, async (_request, extra) => {
      delivered(extra.requestId);
      await released;
      return expected;
    });
    const b = await rpcSession(proxy.mcpUrl);
    const before = await refused('foreign_response');

    const result = a.client.callTool({ name: 'ask', arguments: { method } });
    const id = await deliveredId;
    const forged = {
      jsonrpc: '2.0',
      result: { model: 'b-model', role: 'assistant', content: { type: 'text', text: 'FORGED by B' }, action: 'decline', roots: [{ uri: 'file:///FORGED' }] },
    };
    // B answers with the id A was given, and with the id the server used (srv-N).
    const guesses = [id, ...Array.from({ length: 3 }, (_, i) => `srv-${i + 1}`)];
    for (const guess of guesses) expect((await rpcPost(proxy.mcpUrl, { ...forged, id: guess }, b)).status).toBe(202);
    release();

    const content = (await result).content as { text: string }[];
    const { answer } = JSON.parse(content[0]!.text) as { answer: { result?: unknown } };
    expect(JSON.stringify(answer)).not.toContain('FORGED');
    expect(answer.result).toEqual(expect.objectContaining(expected));
    await eventually(async () => expect(await refused('foreign_response')).toBe(before + guesses.length));
  });

  it('answers the server with an error when two sessions have calls in flight and nothing ties its request to one', async () => {
    const a = await connect(proxy.mcpUrl, { capabilities: { sampling: {} } });
    open.push(a);
    let asked = 0;
    a.client.setRequestHandler(CreateMessageRequestSchema, async () => {
      asked++;
      return { model: 'a-model', role: 'assistant', content: { type: 'text', text: 'from A' } };
    });
    const b = await rpcSession(proxy.mcpUrl);
    const before = await refused('unattributable_server_request');

    const holding = rpcPost(proxy.mcpUrl, callTool(1, 'hold'), b);
    // The server sends its request only once B's hold is in flight at the server.
    const asking = a.client.callTool({ name: 'ask', arguments: { method: 'sampling/createMessage', afterHold: true } });
    const { answer } = JSON.parse(((await asking).content as { text: string }[])[0]!.text) as { answer: { error?: { code: number; message: string } } };
    expect(answer.error).toEqual({ code: -32603, message: expect.stringMatching(/cannot attribute this request to one client session/) });
    expect(asked).toBe(0);

    expect(toolJson(await rpcPost(proxy.mcpUrl, callTool(2, 'release'), b))).toEqual({ released: true });
    const held = await holding;
    expect(held.status).toBe(200);
    // B's call completed and carried no server request.
    expect(held.messages.map((m) => m['method'])).toEqual([undefined]);
    expect(toolJson(held)).toEqual({ released: true });
    expect(await refused('unattributable_server_request')).toBe(before + 1);
  });

  it('keeps a task to the session that created it', async () => {
    const a = await rpcSession(proxy.mcpUrl);
    const b = await rpcSession(proxy.mcpUrl);
    const created = await rpcPost(
      proxy.mcpUrl,
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'pid', arguments: {}, task: { ttl: 60_000 } } },
      a,
    );
    const taskId = (created.messages[0] as { result: { task: { taskId: string } } }).result.task.taskId;
    expect(taskId).toMatch(/^task-/);

    for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel']) {
      const stolen = await rpcPost(proxy.mcpUrl, { jsonrpc: '2.0', id: 2, method, params: { taskId } }, b);
      expect(stolen.messages).toEqual([{ jsonrpc: '2.0', id: 2, error: { code: -32602, message: 'Task not found' } }]);
    }
    const listed = await rpcPost(proxy.mcpUrl, { jsonrpc: '2.0', id: 3, method: 'tasks/list', params: {} }, b);
    expect(JSON.stringify(listed.messages)).not.toContain(taskId);
    const own = await rpcPost(proxy.mcpUrl, { jsonrpc: '2.0', id: 2, method: 'tasks/result', params: { taskId } }, a);
    expect(JSON.stringify(own.messages)).toContain(`SECRET result of ${taskId}`);
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_messages_refused_total', { reason: 'foreign_task' })).toBe(3);
  });

  it('refuses a request reusing an id still in flight in its session, and completes the first', async () => {
    const session = await rpcSession(proxy.mcpUrl);
    const observer = await rpcSession(proxy.mcpUrl);
    const first = rpcPost(proxy.mcpUrl, callTool(7, 'hold'), session);
    await eventually(async () => expect(toolJson(await rpcPost(proxy.mcpUrl, callTool(1, 'held'), observer))).toEqual({ held: 1 }));

    const second = await rpcPost(proxy.mcpUrl, callTool(7, 'pid'), session);
    expect(second.messages).toEqual([{ jsonrpc: '2.0', id: 7, error: { code: -32600, message: expect.stringMatching(/already in flight/) } }]);

    expect(toolJson(await rpcPost(proxy.mcpUrl, callTool(8, 'release'), session))).toEqual({ released: true });
    const done = await first;
    expect(done.status).toBe(200);
    expect(done.messages).toEqual([expect.objectContaining({ id: 7 })]);
    expect(toolJson(done)).toEqual({ released: true });
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_messages_refused_total', { reason: 'duplicate_request_id' })).toBeGreaterThanOrEqual(1);
  });
});

describe('legacy SSE upstream: a reused in-flight id', () => {
  let proxy: ProxyProcess | undefined;
  let upstream: FakeUpstream | undefined;
  const streams = new Map<string, http.ServerResponse>();
  const held: { stream: http.ServerResponse; id: unknown }[] = [];

  beforeAll(async () => {
    let next = 0;
    // A raw legacy-SSE MCP server: `hold` is answered when `release` is called.
    upstream = await fakeHttpUpstream(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET') {
        const key = String(++next);
        streams.set(key, res);
        res.writeHead(200, { 'content-type': 'text/event-stream' }).write(`event: endpoint\ndata: /messages?s=${key}\n\n`);
        return;
      }
      const stream = streams.get(url.searchParams.get('s') ?? '') as http.ServerResponse;
      const message = JSON.parse(await readBody(req)) as { id?: unknown; method?: string; params?: { name?: string } };
      res.writeHead(202).end();
      const answer = (id: unknown, result: unknown): void => void stream.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, result })}\n\n`);
      const tool = (value: unknown): { content: { type: string; text: string }[] } => ({ content: [{ type: 'text', text: JSON.stringify(value) }] });
      if (message.method === 'initialize')
        answer(message.id, { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'sse', version: '1' } });
      else if (message.method === 'tools/call' && message.params?.name === 'hold') held.push({ stream, id: message.id });
      else if (message.method === 'tools/call' && message.params?.name === 'release') {
        for (const h of held.splice(0)) answer(h.id, tool({ released: true }));
        answer(message.id, tool({ released: true }));
      } else if (message.method === 'tools/call') answer(message.id, tool({ other: true }));
    });
    proxy = await startProxy(['--transport', 'sse', '--target-url', upstream.url.replace('/mcp', '/sse'), '--log-level', 'warn']);
  });

  afterAll(async () => {
    for (const res of streams.values()) res.end();
    await proxy?.stop();
    await upstream?.close();
  });

  it('gets a JSON-RPC error and the first request completes', async () => {
    const url = (proxy as ProxyProcess).mcpUrl;
    const session = await rpcSession(url);
    const first = rpcPost(url, callTool(7, 'hold'), session);
    await eventually(async () => expect(held).toHaveLength(1));
    const second = await rpcPost(url, callTool(7, 'other'), session);
    expect(second.messages).toEqual([{ jsonrpc: '2.0', id: 7, error: { code: -32600, message: expect.stringMatching(/already in flight/) } }]);
    expect(toolJson(await rpcPost(url, callTool(8, 'release'), session))).toEqual({ released: true });
    const done = await first;
    expect(done.messages).toEqual([expect.objectContaining({ id: 7 })]);
    expect(toolJson(done)).toEqual({ released: true });
  });
});
