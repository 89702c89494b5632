// Random and mutated JSON-RPC bodies thrown at a live proxyrunner, for every upstream
// kind and both client frontends: the process lives, every answer is a well-formed HTTP
// answer (a normal one, or 4xx/502-504 with a JSON-RPC error body), never a 500 and
// never a last-resort catch, and a normal session works afterwards. Bounded and
// deterministic: a fixed seed, a fixed number of bodies, sent one at a time.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import http from 'node:http';
import { INIT_BODY, McpHttpClient, toolCall } from '../../support/mcpHttp.ts';
import { scrape } from '../../support/metrics.ts';
import { everythingStdioCommand, startEchoServer, startEverything, startProxy, type ProxyProcess, type Running } from '../../support/processes.ts';

jest.setTimeout(240_000);

const BODIES = 150;

/** mulberry32: a small seeded PRNG, so every run throws the same bodies. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CORPUS: Record<string, unknown>[] = [
  JSON.parse(INIT_BODY) as Record<string, unknown>,
  { jsonrpc: '2.0', id: 2, method: 'ping' },
  { jsonrpc: '2.0', id: 3, method: 'tools/list', params: {} },
  { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' }, _meta: { progressToken: 'p' } } },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 4, reason: 'x' } },
  { jsonrpc: '2.0', id: 5, result: {} },
  { jsonrpc: '2.0', id: 6, error: { code: -32601, message: 'no' } },
];

const DEEP = '\u0000DEEP\u0000'; // replaced by deep nesting in the text (JSON.stringify could not build it)

function fuzzer(seed: number) {
  const random = prng(seed);
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)] as T;
  const weird = (): unknown =>
    pick<() => unknown>([
      () => null,
      () => true,
      () => 0,
      () => -1,
      () => 1.5,
      () => 2 ** 60,
      () => 1e308,
      () => '',
      () => 'x'.repeat(300 + int(2000)),
      () => [],
      () => [1, {}, null],
      () => ({}),
      () => ({ _meta: null }),
      () => 'initialize',
      () => 'tools/call',
      () => '\u0000\u202e\ud800',
      () => DEEP,
      () => Array.from({ length: 5_000 }, (_, i) => i),
      () => ({ progressToken: {} }),
      () => [[[[]]]],
    ])();
  const mutateObject = (message: Record<string, unknown>): void => {
    const key = pick(['jsonrpc', 'id', 'method', 'params', 'result', 'error', '_meta', 'extra']);
    switch (int(3)) {
      case 0:
        delete message[key];
        return;
      case 1:
        if (key === '_meta') {
          const params = (typeof message.params === 'object' && message.params !== null ? message.params : (message.params = {})) as Record<string, unknown>;
          params._meta = weird();
        } else message[key] = weird();
        return;
      default:
        if (typeof message.params === 'object' && message.params !== null && !Array.isArray(message.params))
          (message.params as Record<string, unknown>)[pick(['name', 'arguments', 'uri', 'requestId', '__proto__', 'constructor'])] = weird();
        else message.params = weird();
    }
  };
  const mutateText = (text: string): string => {
    switch (int(6)) {
      case 0:
        return text.slice(0, int(text.length));
      case 1: {
        const at = int(text.length);
        return text.slice(0, at) + String.fromCharCode(int(128)) + text.slice(at + 1);
      }
      case 2:
        return text.replace('{', '{"method":"initialize",');
      case 3:
        return text.replace('{', '{"__proto__":{"method":"initialize","id":9},"constructor":{"prototype":1},');
      case 4:
        return text.replace('{', '{"id":7,');
      default:
        return text;
    }
  };
  return (): string => {
    const messages: Record<string, unknown>[] = [];
    const count = random() < 0.2 ? 1 + int(4) : 1;
    for (let i = 0; i < count; i++) {
      const message = structuredClone(pick(CORPUS));
      for (let m = int(3); m > 0; m--) mutateObject(message);
      messages.push(message);
    }
    let text = JSON.stringify(count === 1 ? messages[0] : messages);
    const depth = 60 + int(10_000);
    text = text.replaceAll(JSON.stringify(DEEP), '['.repeat(depth) + ']'.repeat(depth));
    return random() < 0.4 ? mutateText(text) : text;
  };
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

/** One POST with a bounded wait; a socket error or a malformed answer rejects. */
function post(url: string, body: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: text }));
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer within 30 s to ${JSON.stringify(headers)} ${body.slice(0, 400)}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Statuses seen, so a test can show its bodies exercised both refusal and acceptance. */
const seen: number[] = [];

function expectWellFormed(answer: Answer, body: string): void {
  seen.push(answer.status);
  const context = `${answer.status} ${answer.body.slice(0, 300)}\nfor body ${body.slice(0, 300)}`;
  expect([answer.status, context]).toEqual([expect.any(Number), context]);
  if (answer.status === 500 || answer.status < 200 || answer.status >= 600) throw new Error(`unexpected HTTP ${context}`);
  if (answer.status >= 400 && answer.contentType.startsWith('application/json')) {
    const parsed = JSON.parse(answer.body) as { jsonrpc?: string; error?: { code?: unknown; message?: unknown } };
    if (parsed.jsonrpc !== '2.0' || typeof parsed.error?.code !== 'number' || typeof parsed.error.message !== 'string')
      throw new Error(`not a JSON-RPC error: ${context}`);
  }
}

/** A legacy SSE client session: the stream, its POST endpoint, and the messages it received. */
async function openSse(url: string): Promise<{ endpoint: string; messages: Record<string, unknown>[]; close(): void }> {
  const messages: Record<string, unknown>[] = [];
  let req!: http.ClientRequest;
  const endpoint = await new Promise<string>((resolve, reject) => {
    req = http.get(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const name = /^event: (.*)$/m.exec(event)?.[1];
          const data = /^data: (.*)$/m.exec(event)?.[1] ?? '';
          if (name === 'endpoint') resolve(new URL(data, url).href);
          else messages.push(JSON.parse(data) as Record<string, unknown>);
        }
      });
      res.on('error', () => {});
    });
    req.on('error', reject);
  });
  return { endpoint, messages, close: () => req.destroy() };
}

async function until<T>(what: string, check: () => T | undefined): Promise<T> {
  for (let waited = 0; waited < 20_000; waited += 20) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

type Kind = { name: string; upstream: 'stdio' | 'sse' | 'streamableHttp' | 'echo'; proxyMode: 'streamable-http' | 'sse' };
const KINDS: Kind[] = [
  { name: 'stdio upstream, streamable HTTP clients', upstream: 'stdio', proxyMode: 'streamable-http' },
  { name: 'stdio upstream, legacy SSE clients', upstream: 'stdio', proxyMode: 'sse' },
  { name: 'legacy SSE upstream, streamable HTTP clients', upstream: 'sse', proxyMode: 'streamable-http' },
  { name: 'streamable HTTP upstream, transparent', upstream: 'echo', proxyMode: 'streamable-http' },
  { name: 'streamable HTTP upstream, message path (legacy SSE clients)', upstream: 'echo', proxyMode: 'sse' },
];

describe.each(KINDS)('fuzzed JSON-RPC bodies: $name', (kind) => {
  let upstream: Running | undefined;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    const args = ['--proxy-mode', kind.proxyMode];
    if (kind.upstream === 'stdio') {
      proxy = await startProxy(['--transport', 'stdio', ...args], { command: everythingStdioCommand() });
      return;
    }
    upstream = kind.upstream === 'echo' ? await startEchoServer() : await startEverything(kind.upstream);
    const target = `http://127.0.0.1:${upstream.port}/${kind.upstream === 'sse' ? 'sse' : 'mcp'}`;
    proxy = await startProxy(['--transport', kind.upstream === 'sse' ? 'sse' : 'streamable-http', '--target-url', target, ...args]);
  });

  afterAll(async () => {
    await proxy.stop();
    await upstream?.stop();
  });

  it(`answers ${BODIES} random bodies well, lives, and serves a normal session after`, async () => {
    seen.length = 0;
    const next = fuzzer(kind.name.length * 7919 + 11);
    const bodies = Array.from({ length: BODIES }, () => next());
    if (kind.proxyMode === 'streamable-http') {
      const client = new McpHttpClient(proxy.mcpUrl, new http.Agent());
      const live = await client.initialize();
      for (const [i, body] of bodies.entries()) {
        const headers: Record<string, string> = i % 3 === 0 ? {} : { 'mcp-session-id': live, 'mcp-protocol-version': '2025-06-18' };
        expectWellFormed(await post(proxy.mcpUrl, body, headers), body);
      }
      expect(proxy.child.exitCode).toBeNull();
      const fresh = await client.initialize();
      const echo = await client.request('POST', toolCall(99, 'echo', { message: 'still here' }), fresh);
      expect(echo.status).toBe(200);
      expect(echo.body).toContain('Echo: still here');
    } else {
      const live = await openSse(proxy.mcpUrl);
      expectWellFormed(await post(live.endpoint, INIT_BODY, {}), INIT_BODY);
      await until('initialize result', () => live.messages.find((m) => m.id === 1));
      for (const body of bodies) expectWellFormed(await post(live.endpoint, body, {}), body);
      live.close();
      expect(proxy.child.exitCode).toBeNull();
      const fresh = await openSse(proxy.mcpUrl);
      expect((await post(fresh.endpoint, INIT_BODY, {})).status).toBe(202);
      await until('initialize result', () => fresh.messages.find((m) => m.id === 1));
      await post(fresh.endpoint, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), {});
      expect((await post(fresh.endpoint, toolCall(99, 'echo', { message: 'still here' }), {})).status).toBe(202);
      const echo = await until('echo result', () => fresh.messages.find((m) => m.id === 99));
      expect(JSON.stringify(echo)).toContain('Echo: still here');
      fresh.close();
    }
    // The bodies reached both sides of the edge: some refused, some served.
    expect(seen.filter((s) => s === 400).length).toBeGreaterThan(BODIES / 10);
    expect(seen.filter((s) => s >= 200 && s < 300).length).toBeGreaterThan(BODIES / 10);
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_internal_errors_total')).toBe(0);
    expect(metrics.value('mcpfleet_proxy_requests_total', { method: 'POST', status: '500' })).toBeUndefined();
  });
});
