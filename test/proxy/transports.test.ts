// Every upstream transport × every client-facing mode, end to end: a real SDK client,
// through the real proxyrunner CLI, to the real server-everything; then the session is
// ended and the counters are read from a real scrape of /metrics.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connect } from '../support/sdk.ts';
import { eventually, scrape } from '../support/metrics.ts';
import { everythingStdioCommand, startEverything, startProxy, type ProxyProcess, type Running } from '../support/processes.ts';

jest.setTimeout(60_000);

type Upstream = 'stdio' | 'sse' | 'streamable-http';
type Mode = 'streamable-http' | 'sse';

const CASES: [Upstream, Mode][] = [
  ['stdio', 'streamable-http'],
  ['streamable-http', 'streamable-http'],
  ['sse', 'streamable-http'],
  ['stdio', 'sse'],
  ['sse', 'sse'],
  ['streamable-http', 'sse'],
];

describe.each(CASES)('upstream %s, clients see %s', (transport, mode) => {
  let upstream: Running | undefined;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    const args = ['--transport', transport, '--proxy-mode', mode];
    if (transport === 'stdio') {
      proxy = await startProxy(args, { command: everythingStdioCommand(), path: mode === 'sse' ? '/sse' : '/mcp' });
    } else {
      upstream = await startEverything(transport === 'sse' ? 'sse' : 'streamableHttp');
      const target = `http://127.0.0.1:${upstream.port}/${transport === 'sse' ? 'sse' : 'mcp'}`;
      proxy = await startProxy([...args, '--target-url', target], { path: mode === 'sse' ? '/sse' : '/mcp' });
    }
  });

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.stop();
  });

  it('serves initialize, tools/list, tools/call, progress, server requests and ends the session', async () => {
    const session = await connect(proxy.mcpUrl, { capabilities: { sampling: {} } });
    session.client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
      model: 'test-model',
      role: 'assistant',
      content: { type: 'text', text: `sampled: ${JSON.stringify(request.params.messages[0]?.content)}` },
    }));
    expect(session.client.getServerVersion()?.name).toMatch(/everything/i);

    const { tools } = await session.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'get-sum', 'trigger-long-running-operation']));

    const echo = await session.client.callTool({ name: 'echo', arguments: { message: 'through the proxy' } });
    expect(echo.content).toEqual([{ type: 'text', text: 'Echo: through the proxy' }]);

    const progress: number[] = [];
    const long = await session.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(JSON.stringify(long.content)).toContain('Long running operation completed');
    // Over legacy SSE the SDK client drops every progress notification that arrives after
    // the response settled, even when it talks to server-everything directly; on a loaded
    // machine more than the last one can be late (CI saw [1]). There we can only expect
    // an in-order prefix of at least the first.
    if (mode === 'sse') {
      expect(progress.length).toBeGreaterThanOrEqual(1);
      expect(progress).toEqual([1, 2, 3].slice(0, progress.length));
    } else {
      expect(progress).toEqual([1, 2, 3]);
    }

    // The server asks the client for an LLM completion mid-call: a server-to-client
    // request that must find its way to this session and back.
    const { tools: after } = await session.client.listTools();
    expect(after.map((t) => t.name)).toContain('trigger-sampling-request');
    const sampled = await session.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'ping', maxTokens: 5 } });
    expect(JSON.stringify(sampled.content)).toContain('sampled');

    const before = await scrape(proxy.metricsUrl);
    expect(before.value('mcpfleet_proxy_sessions_active')).toBe(1);
    expect(before.value('mcpfleet_proxy_sessions_created_total')).toBe(1);

    await session.end();
    const metrics = await eventually(async () => {
      const m = await scrape(proxy.metricsUrl);
      expect(m.value('mcpfleet_proxy_sessions_active')).toBe(0);
      return m;
    });
    expect(metrics.value('mcpfleet_proxy_sessions_closed_total', { reason: 'client_delete' })).toBe(1);
    for (const reason of ['upstream_not_found', 'idle_timeout', 'evicted', 'upstream_closed']) {
      expect(metrics.value('mcpfleet_proxy_sessions_closed_total', { reason })).toBe(0);
    }
    expect(metrics.value('mcpfleet_proxy_requests_total', { method: 'POST' })).toBeGreaterThanOrEqual(mode === 'sse' ? 5 : 6);
    if (mode === 'streamable-http') {
      expect(metrics.value('mcpfleet_proxy_requests_total', { method: 'POST', status: '200', rpc_method: 'tools/call' })).toBeGreaterThanOrEqual(2);
      expect(metrics.value('mcpfleet_proxy_requests_total', { method: 'DELETE', status: '200' })).toBe(1);
      expect(metrics.value('mcpfleet_proxy_request_duration_seconds_count', { rpc_method: 'tools/call' })).toBeGreaterThanOrEqual(2);
    }
    expect(metrics.value('mcpfleet_proxy_upstream_up')).toBe(1);
    expect(metrics.value('mcpfleet_proxy_requests_in_flight')).toBe(0);
  });

  it('keeps concurrent sessions apart', async () => {
    const sessions = await Promise.all(Array.from({ length: 5 }, () => connect(proxy.mcpUrl)));
    const results = await Promise.all(sessions.map((s, i) => s.client.callTool({ name: 'get-sum', arguments: { a: i, b: 100 } })));
    results.forEach((r, i) => expect(JSON.stringify(r.content)).toContain(String(i + 100)));
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_active')).toBe(5);
    await Promise.all(sessions.map((s) => s.end()));
    await eventually(async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_active')).toBe(0));
  });
});
