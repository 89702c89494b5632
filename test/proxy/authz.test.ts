// Cedar authorization and audit through a real proxyrunner (started in-process so a test
// hook can supply the principal that authentication would attach), in front of real
// upstreams: server-everything over stdio (message path, JSON and legacy-SSE answers) and
// over streamable HTTP (transparent path, SSE answers), and the stateless echo server
// (transparent path, JSON answers). The policy file sits in a directory laid out like a
// mounted ConfigMap and is changed by the same atomic `..data` symlink swap.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createParser } from 'eventsource-parser';
import { startProxyRunner, type RunningProxy } from '../../proxyrunner/src/app.ts';
import { parseConfig, type ProxyConfig } from '../../proxyrunner/src/config.ts';
import type { Principal } from '../../proxyrunner/src/authz/principal.ts';
import { silentLogger } from '../../common/log.ts';
import { connect } from '../support/sdk.ts';
import { eventually, scrape } from '../support/metrics.ts';
import { everythingStdioCommand, startEchoServer, startEverything, type Running } from '../support/processes.ts';

jest.setTimeout(60_000);

const POLICIES = [
  'permit(principal, action == Action::"call_tool", resource == Tool::"echo");',
  'permit(principal in THVGroup::"math", action == Action::"call_tool", resource == Tool::"get-sum");',
  'permit(principal, action == Action::"call_tool", resource) when { principal has claim_role && principal.claim_role == "admin" };',
  'forbid(principal, action == Action::"call_tool", resource == Tool::"get-env");',
  'permit(principal, action == Action::"get_prompt", resource == Prompt::"simple-prompt");',
];

const PRINCIPALS: Record<string, Principal> = {
  alice: { subject: 'alice', claims: { sub: 'alice', azp: 'test-client' } },
  bob: { subject: 'bob', claims: { sub: 'bob', groups: ['math'] } },
  root: { subject: 'root', claims: { sub: 'root', claim_ignored: 1, role: 'admin' } },
};

/** Test hook standing in for authentication: the principal named in a header. */
const principalOf = (exchange: { req: { headers: Record<string, string | string[] | undefined> } }): Principal | undefined => {
  const who = exchange.req.headers['x-test-principal'];
  return typeof who === 'string' ? PRINCIPALS[who] : undefined;
};

/** A directory like a mounted ConfigMap: authz.yaml -> ..data/authz.yaml, ..data -> ..<version>. */
class ConfigMapDir {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpfleet-authz-'));
  #version = 0;
  readonly file = path.join(this.dir, 'authz.yaml');

  constructor(text: string) {
    this.write(text);
    fs.symlinkSync('..data/authz.yaml', this.file);
  }

  write(text: string): void {
    const version = `..v${++this.#version}`;
    fs.mkdirSync(path.join(this.dir, version));
    fs.writeFileSync(path.join(this.dir, version, 'authz.yaml'), text);
    fs.symlinkSync(version, path.join(this.dir, '..data_tmp'));
    fs.renameSync(path.join(this.dir, '..data_tmp'), path.join(this.dir, '..data'));
  }
}

const yamlConfig = (policies: string[]): string =>
  ['version: "1.0"', 'type: cedarv1', 'cedar:', '  policies:', ...policies.map((p) => `    - '${p}'`), '  entities_json: "[]"', ''].join('\n');

interface Answer {
  status: number;
  messages: Record<string, unknown>[];
  contentType: string;
}

/** A raw streamable-HTTP session: status codes and bodies (JSON or SSE) as they arrive. */
class RawSession {
  sessionId: string | undefined;
  #id = 1;
  readonly url: string;
  readonly who: string | undefined;
  constructor(url: string, who: string | undefined) {
    this.url = url;
    this.who = who;
  }

  async post(body: unknown): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (this.who) headers['x-test-principal'] = this.who;
    if (this.sessionId) Object.assign(headers, { 'mcp-session-id': this.sessionId, 'mcp-protocol-version': '2025-06-18' });
    const res = await fetch(this.url, { method: 'POST', headers, body: JSON.stringify(body) });
    const text = await res.text();
    const contentType = res.headers.get('content-type') ?? '';
    const sid = res.headers.get('mcp-session-id');
    if (sid) this.sessionId = sid;
    const messages: Record<string, unknown>[] = [];
    if (contentType.startsWith('text/event-stream')) {
      const parser = createParser({ onEvent: (e) => messages.push(JSON.parse(e.data) as Record<string, unknown>) });
      parser.feed(text);
    } else if (text) {
      const value = JSON.parse(text) as Record<string, unknown> | Record<string, unknown>[];
      messages.push(...(Array.isArray(value) ? value : [value]));
    }
    return { status: res.status, messages, contentType };
  }

  async initialize(): Promise<void> {
    const init = await this.post({
      jsonrpc: '2.0',
      id: this.#id++,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'authz-test', version: '1' } },
    });
    expect(init.status).toBe(200);
    await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }

  call(name: string, args: Record<string, unknown>): Promise<Answer> {
    return this.post({ jsonrpc: '2.0', id: this.#id++, method: 'tools/call', params: { name, arguments: args } });
  }

  async toolNames(): Promise<{ names: string[]; contentType: string }> {
    const answer = await this.post({ jsonrpc: '2.0', id: this.#id++, method: 'tools/list', params: {} });
    expect(answer.status).toBe(200);
    const response = answer.messages.find((m) => 'result' in m) as { result: { tools: { name: string }[] } };
    return { names: response.result.tools.map((t) => t.name).sort(), contentType: answer.contentType };
  }
}

async function startWith(args: string[], configMap: ConfigMapDir, auditFile: string): Promise<RunningProxy> {
  const config = parseConfig(
    [
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--metrics-host',
      '127.0.0.1',
      '--metrics-port',
      '0',
      '--authz-config',
      configMap.file,
      '--audit-file',
      auditFile,
      ...args,
    ],
    {},
  ) as ProxyConfig;
  return startProxyRunner(config, silentLogger, { principalOf });
}

/** One audit event as the tests read it (the fields asserted on). */
interface AuditLine {
  type?: string;
  outcome?: string;
  subjects: Record<string, string | undefined>;
  target: Record<string, string | undefined>;
  data?: unknown;
}

const auditLines = (file: string): AuditLine[] =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditLine);

describe.each([
  ['stdio', 'application/json'],
  ['streamable-http', 'text/event-stream'],
] as const)('Cedar policies, upstream %s', (transport, listContentType) => {
  let upstream: Running | undefined;
  let proxy: RunningProxy;
  let configMap: ConfigMapDir;
  let auditFile: string;

  beforeAll(async () => {
    configMap = new ConfigMapDir(yamlConfig(POLICIES));
    auditFile = path.join(configMap.dir, 'audit.jsonl');
    if (transport === 'stdio') {
      proxy = await startWith(['--transport', 'stdio', '--', ...everythingStdioCommand()], configMap, auditFile);
    } else {
      upstream = await startEverything('streamableHttp');
      proxy = await startWith(['--transport', 'streamable-http', '--target-url', `http://127.0.0.1:${upstream.port}/mcp`], configMap, auditFile);
    }
  });

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.stop();
    fs.rmSync(configMap.dir, { recursive: true, force: true });
  });

  it('allows, denies, admits by group, lets forbid override permit, and filters tools/list', async () => {
    const sessions = Object.fromEntries(
      await Promise.all(
        ['anonymous', 'alice', 'bob', 'root'].map(async (who) => {
          const s = new RawSession(proxy.mcpUrl, who === 'anonymous' ? undefined : who);
          await s.initialize();
          return [who, s] as const;
        }),
      ),
    );
    const alice = sessions.alice as RawSession;
    const bob = sessions.bob as RawSession;
    const root = sessions.root as RawSession;
    const anonymous = sessions.anonymous as RawSession;

    // Allowed tool for everyone, anonymous included.
    for (const s of [anonymous, alice, bob, root]) {
      const echo = await s.call('echo', { message: 'hi' });
      expect(echo.status).toBe(200);
      expect(JSON.stringify(echo.messages)).toContain('Echo: hi');
    }
    // Forbidden tool (no permit): 403 with a JSON-RPC error naming no policy.
    const sum = await alice.call('get-sum', { a: 1, b: 2 });
    expect(sum.status).toBe(403);
    expect(sum.messages[0]).toMatchObject({
      jsonrpc: '2.0',
      id: expect.any(Number),
      error: { code: -32003, message: 'Forbidden: not authorized to call_tool "get-sum"' },
    });
    expect(JSON.stringify(sum.messages)).not.toMatch(/policy/i);
    expect((await anonymous.call('get-sum', { a: 1, b: 2 })).status).toBe(403);
    // Group-based allow.
    const bobSum = await bob.call('get-sum', { a: 1, b: 2 });
    expect(bobSum.status).toBe(200);
    expect(JSON.stringify(bobSum.messages)).toContain('3');
    // Forbid overrides permit: the admin may call anything but get-env.
    expect((await root.call('get-sum', { a: 2, b: 2 })).status).toBe(200);
    expect((await root.call('get-env', {})).status).toBe(403);

    // A batch with one forbidden request is refused whole, each request answered.
    const batch = await alice.post([
      { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } },
      { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'get-sum', arguments: { a: 1, b: 1 } } },
    ]);
    expect(batch.status).toBe(403);
    expect(batch.messages.map((m) => m.id)).toEqual(['a', 'b']);
    expect((batch.messages[1] as { error: { message: string } }).error.message).toContain('get-sum');

    // tools/list shows each principal what it may call, in the upstream kind's framing.
    const all = (await root.toolNames()).names;
    expect(all.length).toBeGreaterThan(4);
    const aliceList = await alice.toolNames();
    expect(aliceList.contentType).toContain(listContentType);
    expect(aliceList.names).toEqual(['echo']);
    expect((await bob.toolNames()).names).toEqual(['echo', 'get-sum']);
    expect((await anonymous.toolNames()).names).toEqual(['echo']);
    expect(all).not.toContain('get-env');
    expect(all).toEqual(expect.arrayContaining(['echo', 'get-sum']));

    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_authz_decisions_total', { action: 'call_tool', decision: 'deny' })).toBe(4);
    expect(metrics.value('mcpfleet_proxy_authz_decisions_total', { action: 'call_tool', decision: 'allow' })).toBe(7);
    expect(metrics.value('mcpfleet_proxy_authz_decisions_total', { action: 'list_tools', decision: 'allow' })).toBe(4);
    expect(metrics.value('mcpfleet_proxy_requests_rejected_total', { reason: 'forbidden' })).toBe(4);

    // Audit: one event per operation, who/what/outcome, arguments left out.
    const events = await eventually(async () => {
      const lines = auditLines(auditFile).filter((e) => e.type === 'mcp_tool_call');
      expect(lines.length).toBe(11);
      return lines;
    });
    const denied = events.find((e) => e.subjects.user_id === 'alice' && e.target.name === 'get-sum');
    expect(denied).toMatchObject({
      outcome: 'denied',
      source: { type: 'network', value: expect.stringMatching(/127\.0\.0\.1/), extra: { session_id: alice.sessionId } },
      subjects: { user_id: 'alice', client_id: 'test-client' },
      target: { type: 'tool', name: 'get-sum', method: 'tools/call', endpoint: '/mcp' },
      metadata: { extra: { status: 403, transport } },
    });
    expect(denied?.data).toBeUndefined();
    expect(events.find((e) => e.subjects.user === 'anonymous' && e.target.name === 'echo')).toMatchObject({
      outcome: 'success',
      metadata: { extra: { status: 200 } },
    });
    const init = auditLines(auditFile).find((e) => e.type === 'mcp_initialize' && e.subjects.user_id === 'bob');
    expect(init).toMatchObject({ outcome: 'success', subjects: { client_name: 'authz-test', client_version: '1' } });
  });

  it('takes a ConfigMap-style file swap without restart, and keeps the last good policies on a bad one', async () => {
    const alice = new RawSession(proxy.mcpUrl, 'alice');
    await alice.initialize();
    expect((await alice.call('echo', { message: 'before' })).status).toBe(200);

    configMap.write(yamlConfig(['permit(principal, action == Action::"call_tool", resource == Tool::"get-sum");']));
    await eventually(async () => expect((await alice.call('echo', { message: 'after' })).status).toBe(403), 15_000);
    expect((await alice.call('get-sum', { a: 1, b: 1 })).status).toBe(200);
    expect((await alice.toolNames()).names).toEqual(['get-sum']);

    configMap.write('version: "1.0"\ntype: cedarv1\ncedar:\n  policies:\n    - "permit(principal, action, resource"\n');
    await eventually(async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_authz_reloads_total', { result: 'failure' })).toBe(1), 15_000);
    expect((await alice.call('get-sum', { a: 1, b: 1 })).status).toBe(200);
    expect((await alice.call('echo', { message: 'still' })).status).toBe(403);
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_authz_reloads_total', { result: 'success' })).toBe(1);

    configMap.write(yamlConfig(POLICIES));
    await eventually(async () => expect((await alice.call('echo', { message: 'restored' })).status).toBe(200), 15_000);
  });
});

describe('Cedar policies over the legacy SSE frontend (stdio upstream)', () => {
  let proxy: RunningProxy;
  let configMap: ConfigMapDir;

  beforeAll(async () => {
    configMap = new ConfigMapDir(yamlConfig(POLICIES));
    proxy = await startWith(
      ['--transport', 'stdio', '--proxy-mode', 'sse', '--', ...everythingStdioCommand()],
      configMap,
      path.join(configMap.dir, 'audit.jsonl'),
    );
  });

  afterAll(async () => {
    await proxy?.stop();
    fs.rmSync(configMap.dir, { recursive: true, force: true });
  });

  it('filters tools/list and prompts/list on the event stream and refuses forbidden calls', async () => {
    const session = await connect(proxy.mcpUrl);
    try {
      const { tools } = await session.client.listTools();
      expect(tools.map((t) => t.name)).toEqual(['echo']);
      const { prompts } = await session.client.listPrompts();
      expect(prompts.map((p) => p.name)).toEqual(['simple-prompt']);
      await expect(session.client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } })).rejects.toThrow(/403/);
      const echo = await session.client.callTool({ name: 'echo', arguments: { message: 'sse' } });
      expect(echo.content).toEqual([{ type: 'text', text: 'Echo: sse' }]);
    } finally {
      await session.end();
    }
  });
});

describe('Cedar policies, transparent upstream answering JSON (stateless echo server)', () => {
  let upstream: Running;
  let proxy: RunningProxy;
  let configMap: ConfigMapDir;

  beforeAll(async () => {
    configMap = new ConfigMapDir(yamlConfig(['permit(principal in THVGroup::"math", action, resource);']));
    upstream = await startEchoServer({ stateless: true });
    proxy = await startWith(
      ['--transport', 'streamable-http', '--target-url', `http://127.0.0.1:${upstream.port}/mcp`],
      configMap,
      path.join(configMap.dir, 'audit.jsonl'),
    );
  });

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.stop();
    fs.rmSync(configMap.dir, { recursive: true, force: true });
  });

  it('filters a JSON tools/list body and fixes its length', async () => {
    const bob = new RawSession(proxy.mcpUrl, 'bob');
    const alice = new RawSession(proxy.mcpUrl, 'alice');
    const bobList = await bob.toolNames();
    expect(bobList.contentType).toContain('application/json');
    expect(bobList.names).toEqual(['echo']);
    expect((await alice.toolNames()).names).toEqual([]);
    expect((await alice.call('echo', { message: 'no' })).status).toBe(403);
  });
});
