// Stateless (2026-07-28) requests through stdio and legacy-SSE upstreams, end to end: the
// real proxyrunner CLI in front of the real server-everything, raw HTTP clients (the SDK
// client speaks sessions only) sending requests without Mcp-Session-Id, concurrently with
// SDK clients holding sessions. Every answer must reach the request that asked for it.
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { connect } from '../support/sdk.ts';
import { eventually, scrape } from '../support/metrics.ts';
import { everythingStdioCommand, startEverything, startProxy, type ProxyProcess, type Running } from '../support/processes.ts';

jest.setTimeout(90_000);

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

interface Answer {
  status: number;
  /** Every JSON-RPC message in the body (one for JSON, each event's data for SSE). */
  messages: Record<string, unknown>[];
  headers: Headers;
}

/** One stateless POST: no Mcp-Session-Id, the 2026-07-28 headers and _meta. */
async function statelessPost(url: string, body: unknown): Promise<Answer> {
  const first = Array.isArray(body) ? (body[0] as { method?: string }) : (body as { method?: string });
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': first.method ?? '',
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const messages = (res.headers.get('content-type') ?? '').includes('text/event-stream')
    ? text
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>)
    : text
      ? [JSON.parse(text) as Record<string, unknown>]
      : [];
  return { status: res.status, messages, headers: res.headers };
}

const call = (id: number | string, name: string, args: Record<string, unknown>, meta: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args, _meta: { ...META, ...meta } },
});

const textOf = (message: Record<string, unknown> | undefined): string =>
  JSON.stringify((message?.['result'] as { content?: unknown } | undefined)?.content ?? message?.['error'] ?? null);

const final = (answer: Answer): Record<string, unknown> | undefined => answer.messages.find((m) => m['method'] === undefined);

type Upstream = 'stdio' | 'sse';

describe.each<Upstream>(['stdio', 'sse'])('stateless requests through a %s upstream', (transport) => {
  let upstream: Running | undefined;
  let proxy: ProxyProcess;

  const start = async (extra: string[] = []): Promise<ProxyProcess> => {
    if (transport === 'stdio') return startProxy(['--transport', 'stdio', ...extra], { command: everythingStdioCommand() });
    upstream ??= await startEverything('sse');
    return startProxy(['--transport', 'sse', '--target-url', `http://127.0.0.1:${upstream.port}/sse`, ...extra]);
  };

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.stop();
  });

  it('answers each concurrent request (all with the same id) with its own answer, beside live sessions', async () => {
    proxy = await start();
    const sessions = await Promise.all([connect(proxy.mcpUrl), connect(proxy.mcpUrl)]);
    const stateless = Array.from({ length: 24 }, (_, i) => statelessPost(proxy.mcpUrl, call(1, 'echo', { message: `stateless-${i}` })));
    const viaSessions = sessions.flatMap((s, n) =>
      Array.from({ length: 4 }, (_, i) => s.client.callTool({ name: 'echo', arguments: { message: `session-${n}-${i}` } })),
    );
    const [answers, sessionAnswers] = await Promise.all([Promise.all(stateless), Promise.all(viaSessions)]);
    answers.forEach((answer, i) => {
      expect(answer.status).toBe(200);
      expect(answer.headers.get('mcp-session-id')).toBeNull();
      expect(answer.messages).toHaveLength(1);
      expect(answer.messages[0]).toMatchObject({ jsonrpc: '2.0', id: 1 });
      expect(textOf(answer.messages[0])).toBe(JSON.stringify([{ type: 'text', text: `Echo: stateless-${i}` }]));
    });
    sessionAnswers.forEach((answer, k) => {
      expect(answer.content).toEqual([{ type: 'text', text: `Echo: session-${Math.floor(k / 4)}-${k % 4}` }]);
    });

    const metrics = await scrape(proxy.metricsUrl);
    // Stateless traffic creates no session: only the two SDK clients' sessions exist.
    expect(metrics.value('mcpfleet_proxy_sessions_created_total')).toBe(2);
    expect(metrics.value('mcpfleet_proxy_sessions_active')).toBe(2);
    expect(metrics.value('mcpfleet_proxy_stateless_channels_opened_total')).toBe(1);
    expect(metrics.value('mcpfleet_proxy_stateless_requests_in_flight')).toBe(0);
    expect(metrics.value('mcpfleet_proxy_requests_total', { method: 'POST', status: '200', rpc_method: 'tools/call' })).toBeGreaterThanOrEqual(24 + 8);
    await Promise.all(sessions.map((s) => s.end()));
  });

  it('sends each request its own progress, though both chose the same token', async () => {
    const long = (id: number) =>
      statelessPost(proxy.mcpUrl, call(id, 'trigger-long-running-operation', { duration: 0.3, steps: 3 }, { progressToken: 'same-token' }));
    const answers = await Promise.all([long(7), long(7), long(8)]);
    for (const [n, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      const progress = answer.messages.filter((m) => m['method'] === 'notifications/progress');
      // Three steps each, all under the client's own token: none of another request's.
      expect(progress.map((p) => (p['params'] as { progress: number; progressToken: string }).progress)).toEqual([1, 2, 3]);
      for (const p of progress) expect((p['params'] as { progressToken: string }).progressToken).toBe('same-token');
      expect(final(answer)).toMatchObject({ id: n === 2 ? 8 : 7 });
      expect(textOf(final(answer))).toContain('Long running operation completed');
    }
  });

  it('answers server/discover from the upstream initialize, and tools/list', async () => {
    const discover = await statelessPost(proxy.mcpUrl, { jsonrpc: '2.0', id: 'd-1', method: 'server/discover', params: { _meta: META } });
    expect(discover.status).toBe(200);
    expect(discover.messages[0]).toMatchObject({
      id: 'd-1',
      result: {
        resultType: 'complete',
        supportedVersions: expect.arrayContaining(['2026-07-28']),
        capabilities: { tools: expect.any(Object) },
        _meta: { 'io.modelcontextprotocol/serverInfo': { name: expect.stringMatching(/everything/i) } },
      },
    });
    const list = await statelessPost(proxy.mcpUrl, { jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: META } });
    expect((list.messages[0]?.['result'] as { tools: { name: string }[] }).tools.map((t) => t.name)).toContain('echo');
    // A notification alone is accepted and goes nowhere.
    expect((await statelessPost(proxy.mcpUrl, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } })).status).toBe(202);
  });

  it('refuses a body reusing one id, and requests beyond the in-flight bound, with clear errors', async () => {
    const twice = await statelessPost(proxy.mcpUrl, [call(3, 'echo', { message: 'a' }), call(3, 'echo', { message: 'b' })]);
    expect(twice.status).toBe(400);
    expect(JSON.stringify(twice.messages[0])).toMatch(/share an id/);
    await proxy.stop();
    // The bound is the memory budget's connection limit: a batch larger than it is refused whole.
    proxy = await start(['--max-connections', '4']);
    const batch = Array.from({ length: 5 }, (_, i) => call(i + 1, 'echo', { message: `b${i}` }));
    const over = await statelessPost(proxy.mcpUrl, batch);
    expect(over.status).toBe(503);
    expect(over.headers.get('retry-after')).toBe('1');
    expect(JSON.stringify(over.messages[0])).toMatch(/Too many stateless requests in flight \(4\)/);
    const within = await statelessPost(proxy.mcpUrl, batch.slice(0, 4));
    expect(within.status).toBe(200);
    expect(within.messages.map((m) => m['id']).sort()).toEqual([1, 2, 3, 4]);
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_requests_rejected_total', { reason: 'overloaded' })).toBe(1);
  });

  it('bounds each request by --upstream-response-timeout and drops the late answer', async () => {
    await proxy.stop();
    proxy = await start(['--upstream-response-timeout', '1s']);
    // Warm: the channel's initialize is bounded by the same timeout, and a process starting may take longer.
    await eventually(async () => expect((await statelessPost(proxy.mcpUrl, call(1, 'echo', { message: 'warm' }))).status).toBe(200), 10_000);
    // A warm-up attempt that timed out on a loaded machine counts too: measure from here.
    const timeoutsBefore = (await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_upstream_errors_total', { kind: 'timeout' }) ?? 0;
    const [slow, quick] = await Promise.all([
      statelessPost(proxy.mcpUrl, call(1, 'trigger-long-running-operation', { duration: 3, steps: 1 })),
      statelessPost(proxy.mcpUrl, call(1, 'echo', { message: 'quick' })),
    ]);
    expect(slow.status).toBe(504);
    expect(final(slow)).toMatchObject({ id: 1, error: { message: expect.stringMatching(/did not answer within 1s/) } });
    expect(textOf(final(quick))).toContain('Echo: quick');
    // After the slow one's late answer came (and was dropped), the channel still serves.
    await new Promise((r) => setTimeout(r, 2_500));
    const after = await statelessPost(proxy.mcpUrl, call(1, 'echo', { message: 'after' }));
    expect(textOf(final(after))).toContain('Echo: after');
    const metrics = await eventually(async () => {
      const m = await scrape(proxy.metricsUrl);
      expect(m.value('mcpfleet_proxy_stateless_requests_in_flight')).toBe(0);
      return m;
    });
    expect(metrics.value('mcpfleet_proxy_upstream_errors_total', { kind: 'timeout' })).toBe(timeoutsBefore + 1);
    expect(metrics.value('mcpfleet_proxy_sessions_created_total')).toBe(0);
  });
});

describe('stateless requests with --stdio-isolation session', () => {
  it('give each request a process of its own, ended once it is answered', async () => {
    const proxy = await startProxy(['--transport', 'stdio', '--stdio-isolation', 'session'], { command: everythingStdioCommand() });
    try {
      const answers = await Promise.all([0, 1, 2].map((i) => statelessPost(proxy.mcpUrl, call(1, 'echo', { message: `iso-${i}` }))));
      answers.forEach((a, i) => expect(textOf(final(a))).toContain(`Echo: iso-${i}`));
      const metrics = await scrape(proxy.metricsUrl);
      expect(metrics.value('mcpfleet_proxy_stateless_channels_opened_total')).toBe(3);
      expect(metrics.value('mcpfleet_proxy_sessions_created_total')).toBe(0);
    } finally {
      await proxy.stop();
    }
  });
});
