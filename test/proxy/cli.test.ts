// The proxyrunner as an operator of it meets it: flags, env, --help, heap sizing, the
// metrics/health/debug listener, and a clean exit on SIGTERM.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { connect } from '../support/sdk.ts';
import { scrape } from '../support/metrics.ts';
import { MCP_METHODS } from '../../proxyrunner/src/jsonrpc.ts';
import { McpHttpClient, toolCall } from '../support/mcpHttp.ts';
import http from 'node:http';
import net from 'node:net';
import { everythingStdioCommand, PROXYRUNNER, startEchoServer, startProxy, type ProxyProcess, type Running } from '../support/processes.ts';

jest.setTimeout(60_000);
const run = promisify(execFile);

describe('command line', () => {
  it('prints --help with every flag and its environment variable', async () => {
    const { stdout } = await run(process.execPath, [PROXYRUNNER, '--help']);
    expect(stdout).toMatch(/^Usage: mcpfleet-proxyrunner/);
    expect(stdout).toContain('--session-idle-timeout DURATION');
    expect(stdout).toContain('[MCPFLEET_MAX_SESSIONS]');
  });

  it('exits 2 with a readable message on a bad flag', async () => {
    await expect(run(process.execPath, [PROXYRUNNER, '--transport', 'carrier-pigeon'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--transport must be one of stdio, sse, streamable-http (got "carrier-pigeon")'),
    });
  });

  it.each([
    ['--port', 'MCPFLEET_PORT', 'MCP listener'],
    ['--metrics-port', 'MCPFLEET_METRICS_PORT', 'metrics listener'],
  ])('a %s already in use: exits 1 with one line naming %s, no stack trace', async (flag, env, what) => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = String((taken.address() as net.AddressInfo).port);
    const ports = { '--port': '0', '--metrics-port': '0', [flag]: port };
    try {
      const err = await run(process.execPath, [
        PROXYRUNNER,
        '--transport',
        'streamable-http',
        '--target-url',
        'http://127.0.0.1:9/mcp',
        '--host',
        '127.0.0.1',
        '--metrics-host',
        '127.0.0.1',
        '--port',
        ports['--port'],
        '--metrics-port',
        ports['--metrics-port'],
      ]).catch((e: unknown) => e as { code: number; stderr: string });
      expect(err).toMatchObject({ code: 1 });
      const { stderr } = err as { stderr: string };
      expect(stderr).toBe(
        `mcpfleet-proxyrunner: ${what}: 127.0.0.1:${port} is already in use by another process; choose another port with ${flag} (or ${env})\n`,
      );
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('prints the how-to-connect banner only when asked (or on a terminal); JSON logs stay pure otherwise', async () => {
    const upstream = await startEchoServer();
    const target = ['--transport', 'streamable-http', '--target-url', `http://127.0.0.1:${upstream.port}/mcp`];
    const plain = await startProxy(target);
    const withBanner = await startProxy([...target, '--banner', 'always']);
    try {
      // stderr is a pipe here: every line is a JSON log record.
      for (const line of plain
        .stderr()
        .split('\n')
        .filter((l) => l !== ''))
        expect((): unknown => JSON.parse(line)).not.toThrow();
      expect(plain.stderr()).not.toContain('MCP endpoint');
      expect(withBanner.stderr()).toContain(`MCP endpoint  ${withBanner.mcpUrl}`);
      expect(withBanner.stderr()).toContain(`Metrics       ${withBanner.metricsUrl}`);
      expect(withBanner.stderr()).toContain('npx @modelcontextprotocol/inspector');
    } finally {
      await plain.stop();
      await withBanner.stop();
      await upstream.stop();
    }
  });

  it('takes its configuration from MCPFLEET_* variables', async () => {
    const upstream = await startEchoServer();
    const proxy = await startProxy([], {
      env: { MCPFLEET_TRANSPORT: 'streamable-http', MCPFLEET_TARGET_URL: `http://127.0.0.1:${upstream.port}/mcp`, MCPFLEET_MAX_SESSIONS: '7' },
    });
    try {
      const session = await connect(proxy.mcpUrl);
      expect(session.client.getServerVersion()?.name).toBe('mcpfleet-echo');
      await session.end();
      expect(proxy.stderr()).toContain('"maxSessions":7');
    } finally {
      await proxy.stop();
      await upstream.stop();
    }
  });
});

describe('memory limit', () => {
  let proxy: ProxyProcess;
  beforeAll(async () => {
    proxy = await startProxy(['--transport', 'stdio', '--memory-limit', '128Mi'], { command: everythingStdioCommand() });
  });
  afterAll(() => proxy.stop());

  it('re-executes itself in place with a heap sized for the limit', () => {
    const pid = proxy.child.pid as number;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toEqual(expect.arrayContaining(['--max-old-space-size=35', '--max-semi-space-size=2']));
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain('MALLOC_ARENA_MAX=2');
    expect(proxy.stderr()).toContain('"heap":"--max-old-space-size=35 --max-semi-space-size=2 --expose-gc"');
  });

  it('reports the limit next to the process metrics for dashboards', async () => {
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_memory_limit_bytes')).toBe(128 * 2 ** 20);
    expect(metrics.value('process_resident_memory_bytes')).toBeGreaterThan(10 * 2 ** 20);
    expect(metrics.has('nodejs_heap_size_used_bytes')).toBe(true);
    expect(metrics.value('mcpfleet_proxy_build_info', { transport: 'stdio', proxy_mode: 'streamable-http' })).toBe(1);
  });
});

describe('metrics and diagnostics listener', () => {
  let upstream: Running;
  let proxy: ProxyProcess;
  let debugProxy: ProxyProcess;
  const base = (p: ProxyProcess): string => p.metricsUrl.replace('/metrics', '');

  beforeAll(async () => {
    upstream = await startEchoServer();
    const target = `http://127.0.0.1:${upstream.port}/mcp`;
    proxy = await startProxy(['--transport', 'streamable-http', '--target-url', target]);
    debugProxy = await startProxy(['--transport', 'streamable-http', '--target-url', target, '--enable-debug']);
  });
  afterAll(async () => {
    await proxy.stop();
    await debugProxy.stop();
    await upstream.stop();
  });

  it('answers /healthz and /readyz', async () => {
    expect(await (await fetch(`${base(proxy)}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base(proxy)}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
  });

  it('keeps every label bounded, whatever clients send', async () => {
    const agent = new http.Agent({ keepAlive: true });
    const client = new McpHttpClient(proxy.mcpUrl, agent);
    const id = await client.initialize();
    for (let i = 0; i < 20; i++) {
      await client.request('POST', JSON.stringify({ jsonrpc: '2.0', id: i, method: `made/up/${Math.random()}` }), id);
      await client.request('POST', toolCall(i, 'echo', { message: String(i) }), `forged-${i}`);
    }
    agent.destroy();
    const metrics = await scrape(proxy.metricsUrl);
    const rpcMethods = new Set(metrics.samples.filter((s) => s.labels.rpc_method !== undefined).map((s) => s.labels.rpc_method));
    for (const m of rpcMethods) expect([...MCP_METHODS, 'other', 'response', 'batch', 'none']).toContain(m);
    expect(rpcMethods).toContain('other');
    for (const s of metrics.samples) for (const v of Object.values(s.labels)) expect(v).not.toMatch(/forged|made\/up/);
    // Prometheus naming: counters end in _total, durations in _seconds.
    expect(metrics.text).toMatch(/# TYPE mcpfleet_proxy_requests_total counter/);
    expect(metrics.text).toMatch(/# TYPE mcpfleet_proxy_request_duration_seconds histogram/);
  });

  it('serves heap statistics and snapshots only with --enable-debug', async () => {
    expect((await fetch(`${base(proxy)}/debug/heap`)).status).toBe(404);
    const stats = (await (await fetch(`${base(debugProxy)}/debug/heap`)).json()) as { heap: { used_heap_size: number }; spaces: unknown[] };
    expect(stats.heap.used_heap_size).toBeGreaterThan(0);
    expect(stats.spaces.length).toBeGreaterThan(3);
    const snapshot = await fetch(`${base(debugProxy)}/debug/heap/snapshot`);
    expect(snapshot.headers.get('content-disposition')).toMatch(/attachment; filename="mcpfleet-proxyrunner-\d+-\d+\.heapsnapshot"/);
    const text = await snapshot.text();
    expect(JSON.parse(text)).toHaveProperty('snapshot.meta');
  });
});

describe('shutdown', () => {
  it('exits 0 on SIGTERM and takes its stdio server with it', async () => {
    const proxy = await startProxy(['--transport', 'stdio'], { command: everythingStdioCommand() });
    const session = await connect(proxy.mcpUrl);
    const child = Number(
      execFileSync('pgrep', ['-P', String(proxy.child.pid)])
        .toString()
        .trim()
        .split('\n')[0],
    );
    const exit = new Promise<number | null>((resolve) => proxy.child.once('exit', (code) => resolve(code)));
    proxy.child.kill('SIGTERM');
    expect(await exit).toBe(0);
    await session.client.close();
    expect(() => process.kill(child, 0)).toThrow();
    expect(proxy.stderr()).toContain('"msg":"shutting down"');
  });
});
