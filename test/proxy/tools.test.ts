// Tool control (--tool-config) through a real proxyrunner (in-process) in front of a real
// MCP server (test/fixtures/toolsServer.ts: paginated tools/list, records every tool name
// it receives) over every upstream kind and both proxy modes, driven by the official MCP
// SDK client: filtered tools absent and refused before the upstream, a renamed tool listed
// with its overrides and reaching the upstream under its upstream name, its upstream name
// refused, a page that filters to empty keeping its cursor, progress, errors and
// notifications/tools/list_changed passed on. Then: a ConfigMap-style reload, a bad file
// (exit 2 at start, the last good config kept at reload), and the order with Cedar.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createParser } from 'eventsource-parser';
import { ToolListChangedNotificationSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { startProxyRunner, type RunningProxy } from '../../proxyrunner/src/app.ts';
import { parseConfig, type ProxyConfig } from '../../proxyrunner/src/config.ts';
import { silentLogger } from '../../common/log.ts';
import { connect, type Connected } from '../support/sdk.ts';
import { eventually, scrape } from '../support/metrics.ts';
import { freePort, PROXYRUNNER, ROOT, track, waitForPort, type Running } from '../support/processes.ts';
import { spawn } from 'node:child_process';

jest.setTimeout(60_000);
const run = promisify(execFile);

const SERVER = path.join(ROOT, 'test/fixtures/toolsServer.ts');

const TOOL_CONFIG = `
toolsFilter: [web_fetch, echo, slow, fail, notify, sum]
toolsOverride:
  fetch:
    name: web_fetch
    description: Fetches a web page (described by the proxy)
    annotations: {readOnlyHint: true, idempotentHint: true}
  sum:
    name: add
`;

/** A directory like a mounted ConfigMap: tools.yaml -> ..data/tools.yaml, ..data -> ..<version>. */
class ConfigMapDir {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpfleet-tools-'));
  readonly file = path.join(this.dir, 'tools.yaml');
  readonly record = path.join(this.dir, 'received.txt');
  #version = 0;

  constructor(text: string) {
    this.write(text);
    fs.symlinkSync('..data/tools.yaml', this.file);
  }

  write(text: string): void {
    const version = `..v${++this.#version}`;
    fs.mkdirSync(path.join(this.dir, version));
    fs.writeFileSync(path.join(this.dir, version, 'tools.yaml'), text);
    fs.symlinkSync(version, path.join(this.dir, '..data_tmp'));
    fs.renameSync(path.join(this.dir, '..data_tmp'), path.join(this.dir, '..data'));
  }

  /** Tool names the upstream received, in order. */
  received(): string[] {
    return fs.existsSync(this.record) ? fs.readFileSync(this.record, 'utf8').split('\n').filter(Boolean) : [];
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

type ServerMode = 'stdio' | 'sse' | 'http' | 'http-json';

async function startServer(mode: Exclude<ServerMode, 'stdio'>, record: string): Promise<Running> {
  const port = await freePort();
  const args = [SERVER, '--transport', mode === 'http-json' ? 'http' : mode, '--port', String(port), '--record', record];
  if (mode === 'http-json') args.push('--json');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const running = track(child, port);
  await waitForPort(port, 15_000, child);
  return running;
}

async function startProxyFor(
  mode: ServerMode,
  proxyMode: string,
  configMap: ConfigMapDir,
  extra: string[] = [],
): Promise<{ proxy: RunningProxy; server?: Running }> {
  const common = ['--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--proxy-mode', proxyMode, ...extra];
  let server: Running | undefined;
  let args: string[];
  if (mode === 'stdio') {
    args = [...common, '--transport', 'stdio', '--', process.execPath, SERVER, '--transport', 'stdio', '--record', configMap.record];
  } else {
    server = await startServer(mode, configMap.record);
    const target = mode === 'sse' ? `http://127.0.0.1:${server.port}/sse` : `http://127.0.0.1:${server.port}/mcp`;
    args = [...common, '--transport', mode === 'sse' ? 'sse' : 'streamable-http', '--target-url', target];
  }
  const proxy = await startProxyRunner(parseConfig(args, {}) as ProxyConfig, silentLogger);
  return { proxy, ...(server ? { server } : {}) };
}

/** Every page of tools/list, as the client pages through them. */
async function pages(session: Connected): Promise<{ names: string[]; cursor: string | undefined }[]> {
  const out: { names: string[]; cursor: string | undefined }[] = [];
  let cursor: string | undefined;
  do {
    const page = await session.client.listTools(cursor === undefined ? {} : { cursor });
    cursor = page.nextCursor;
    out.push({ names: page.tools.map((t) => t.name), cursor });
  } while (cursor !== undefined && out.length < 20);
  return out;
}

async function allTools(session: Connected): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await session.client.listTools(cursor === undefined ? {} : { cursor });
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return tools;
}

const text = (result: unknown): string => ((result as { content: { text: string }[] }).content[0] as { text: string }).text;

/** tools/list on a raw streamable-HTTP session: the framing the proxy answered in, and the names. */
async function rawList(url: string, sessionId: string): Promise<{ contentType: string; names: string[] }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': sessionId,
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 'raw', method: 'tools/list', params: {} }),
  });
  const contentType = res.headers.get('content-type') ?? '';
  const body = await res.text();
  const messages: { result?: { tools: { name: string }[] } }[] = [];
  if (contentType.startsWith('text/event-stream')) createParser({ onEvent: (e) => messages.push(JSON.parse(e.data) as (typeof messages)[number]) }).feed(body);
  else messages.push(JSON.parse(body) as (typeof messages)[number]);
  return { contentType, names: (messages.find((m) => m.result)?.result?.tools ?? []).map((t) => t.name) };
}

describe.each([
  ['stdio', 'streamable-http'],
  ['stdio', 'sse'],
  ['sse', 'streamable-http'],
  ['http', 'streamable-http'],
  ['http-json', 'streamable-http'],
  ['http', 'sse'],
] as const)('tool control, upstream %s, clients see %s', (mode, proxyMode) => {
  let configMap: ConfigMapDir;
  let proxy: RunningProxy;
  let server: Running | undefined;

  beforeAll(async () => {
    configMap = new ConfigMapDir(TOOL_CONFIG);
    ({ proxy, server } = await startProxyFor(mode, proxyMode, configMap, ['--tool-config', configMap.file]));
  });

  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
    configMap?.remove();
  });

  it('lists, renames, refuses and passes results, progress, errors and list_changed through', async () => {
    const session = await connect(proxy.mcpUrl);
    try {
      // Pages: the one with only filtered tools comes back empty, with its cursor.
      const listed = await pages(session);
      expect(listed.map((p) => p.names)).toEqual([['web_fetch', 'echo'], [], ['slow', 'fail'], ['notify', 'add'], []]);
      expect(listed.map((p) => p.cursor === undefined)).toEqual([false, false, false, false, true]);
      const tools = await allTools(session);
      expect(tools.find((t) => t.name === 'web_fetch')).toEqual({
        name: 'web_fetch',
        description: 'Fetches a web page (described by the proxy)',
        inputSchema: { type: 'object', properties: {} },
        annotations: { title: 'Fetch', readOnlyHint: true, idempotentHint: true, openWorldHint: true },
      });
      expect(tools.find((t) => t.name === 'echo')).toMatchObject({ description: 'Echoes' });

      // A renamed tool is called by its new name and reaches the upstream under its own.
      expect(text(await session.client.callTool({ name: 'web_fetch', arguments: { url: 'x' } }))).toBe('upstream got fetch {"url":"x"}');
      expect(text(await session.client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }))).toBe('upstream got sum = 5');
      expect(text(await session.client.callTool({ name: 'echo', arguments: {} }))).toBe('upstream got echo {}');
      // Filtered tools and the upstream names of renamed ones look like no tool at all.
      for (const name of ['secret', 'fetch', 'sum', 'danger']) {
        await expect(session.client.callTool({ name, arguments: {} })).rejects.toMatchObject({
          code: -32602,
          message: expect.stringContaining(`Unknown tool: ${name}`),
        });
      }
      // Progress, errors and notifications come back unchanged.
      const progress: number[] = [];
      const slow = await session.client.callTool({ name: 'slow', arguments: {} }, undefined, { onprogress: (p) => progress.push(p.progress) });
      expect(text(slow)).toBe('upstream got slow {}');
      // A JSON-answering upstream (the SDK with enableJsonResponse) sends no progress at all.
      expect(progress).toEqual(mode === 'http-json' ? [] : [1, 2]);
      await expect(session.client.callTool({ name: 'fail', arguments: {} })).rejects.toMatchObject({
        code: -32010,
        message: expect.stringContaining('fail failed upstream'),
      });
      let changed = 0;
      session.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
      await session.client.callTool({ name: 'notify', arguments: {} });
      await eventually(async () => expect(changed).toBeGreaterThan(0), 10_000);

      // On streamable HTTP, the framing of the answer is the upstream's (SSE or JSON), rewritten.
      if (proxyMode === 'streamable-http' && 'sessionId' in session.transport && session.transport.sessionId) {
        const raw = await rawList(proxy.mcpUrl, session.transport.sessionId);
        expect(raw.names).toEqual(['web_fetch', 'echo']);
        expect(raw.contentType).toContain(mode === 'http' ? 'text/event-stream' : 'application/json');
      }
    } finally {
      await session.end();
    }
    // The upstream received exactly the allowed calls, under their upstream names.
    const received = configMap.received();
    expect(received).toEqual(expect.arrayContaining(['fetch', 'sum', 'echo', 'slow', 'fail', 'notify']));
    for (const name of ['secret', 'danger', 'web_fetch', 'add']) expect(received).not.toContain(name);
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_tool_calls_refused_total', { reason: 'filtered' })).toBe(2);
    expect(metrics.value('mcpfleet_proxy_tool_calls_refused_total', { reason: 'renamed' })).toBe(2);
  });
});

describe('tool config reloads (transparent path)', () => {
  let configMap: ConfigMapDir;
  let proxy: RunningProxy;
  let server: Running | undefined;

  beforeAll(async () => {
    configMap = new ConfigMapDir(TOOL_CONFIG);
    ({ proxy, server } = await startProxyFor('http', 'streamable-http', configMap, ['--tool-config', configMap.file]));
  });

  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
    configMap?.remove();
  });

  it('answers a batch that names a refused tool whole, forwarding none of it, and drops a refused notification', async () => {
    const session = await connect(proxy.mcpUrl);
    try {
      const sessionId = (session.transport as { sessionId?: string }).sessionId as string;
      const post = (body: unknown): Promise<Response> =>
        fetch(proxy.mcpUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-session-id': sessionId,
            'mcp-protocol-version': '2025-03-26',
          },
          body: JSON.stringify(body),
        });
      const before = configMap.received().length;
      const batch = await post([
        { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'echo', arguments: {} } },
        { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'secret', arguments: {} } },
        { jsonrpc: '2.0', method: 'tools/call', params: { name: 'danger', arguments: {} } },
      ]);
      expect(batch.status).toBe(200);
      expect(await batch.json()).toEqual([
        { jsonrpc: '2.0', id: 'a', error: { code: -32600, message: expect.stringContaining('Not executed') } },
        { jsonrpc: '2.0', id: 'b', error: { code: -32602, message: 'Unknown tool: secret' } },
      ]);
      const notification = await post({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'danger', arguments: {} } });
      expect(notification.status).toBe(202);
      // A batch of an allowed renamed call stays a batch upstream, under the upstream name.
      const renamed = await post([{ jsonrpc: '2.0', id: 'c', method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } }]);
      expect(renamed.status).toBe(200);
      expect(configMap.received().slice(before)).toEqual(['sum']);
      expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_tool_calls_refused_total', { reason: 'filtered' })).toBe(3);
    } finally {
      await session.end();
    }
  });

  it('applies a ConfigMap-style swap without restart, and keeps the last good config on a bad one', async () => {
    const session = await connect(proxy.mcpUrl);
    try {
      expect((await allTools(session)).map((t) => t.name)).toEqual(['web_fetch', 'echo', 'slow', 'fail', 'notify', 'add']);
      configMap.write('toolsFilter: [secret]\n');
      await eventually(async () => expect((await allTools(session)).map((t) => t.name)).toEqual(['secret']), 15_000);
      expect(text(await session.client.callTool({ name: 'secret', arguments: {} }))).toBe('upstream got secret {}');
      await expect(session.client.callTool({ name: 'echo', arguments: {} })).rejects.toMatchObject({ code: -32602 });

      configMap.write('toolsFilter: secret\n');
      await eventually(
        async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_tool_config_reloads_total', { result: 'failure' })).toBe(1),
        15_000,
      );
      expect((await allTools(session)).map((t) => t.name)).toEqual(['secret']);
      expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_tool_config_reloads_total', { result: 'success' })).toBe(1);
    } finally {
      await session.end();
    }
  });
});

describe('bad tool config at start', () => {
  it('exits 2 naming the flag, the file and the field', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpfleet-tools-bad-'));
    const file = path.join(dir, 'tools.yaml');
    fs.writeFileSync(file, 'toolsOverride:\n  fetch:\n    nam: web_fetch\n');
    try {
      const port = String(await freePort());
      await expect(
        run(process.execPath, [PROXYRUNNER, '--transport', 'streamable-http', '--target-url', 'http://127.0.0.1:9/mcp', '--port', port, '--tool-config', file]),
      ).rejects.toMatchObject({
        code: 2,
        stderr: `mcpfleet-proxyrunner: --tool-config ${file}: toolsOverride.fetch: unknown field "nam" (expected name, description, annotations)\n`,
      });
      await expect(
        run(process.execPath, [PROXYRUNNER, '--transport', 'streamable-http', '--target-url', 'http://127.0.0.1:9/mcp', '--port', port], {
          env: { ...process.env, MCPFLEET_TOOL_CONFIG_INLINE: 'toolsFilter: [a, ""]' },
        }),
      ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--tool-config-inline: toolsFilter[1] must be a non-empty tool name') });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tool control with Cedar authorization (transparent path)', () => {
  let configMap: ConfigMapDir;
  let proxy: RunningProxy;
  let server: Running | undefined;

  beforeAll(async () => {
    configMap = new ConfigMapDir(TOOL_CONFIG);
    const policies = [
      'permit(principal, action == Action::"call_tool", resource == Tool::"web_fetch");',
      'permit(principal, action == Action::"call_tool", resource == Tool::"sum");',
    ];
    ({ proxy, server } = await startProxyFor('http-json', 'streamable-http', configMap, [
      '--tool-config-inline',
      TOOL_CONFIG,
      '--authz-config-inline',
      JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies } }),
    ]));
  });

  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
    configMap?.remove();
  });

  it('filters first, then Cedar judges the names the client sees', async () => {
    const session = await connect(proxy.mcpUrl);
    try {
      // Cedar permits web_fetch (a client name) and sum (an upstream name the client never sees).
      expect((await allTools(session)).map((t) => t.name)).toEqual(['web_fetch']);
      expect(text(await session.client.callTool({ name: 'web_fetch', arguments: {} }))).toBe('upstream got fetch {}');
      await expect(session.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })).rejects.toThrow(
        /-32003.*Forbidden: not authorized to call_tool \\"add\\"/,
      );
      // The tool filter answers first: Cedar is never asked about a tool the client cannot see.
      await expect(session.client.callTool({ name: 'sum', arguments: {} })).rejects.toMatchObject({ code: -32602 });
      const metrics = await scrape(proxy.metricsUrl);
      expect(metrics.value('mcpfleet_proxy_authz_decisions_total', { action: 'call_tool' })).toBe(2);
    } finally {
      await session.end();
    }
  });
});
