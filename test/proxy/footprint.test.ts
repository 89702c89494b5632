// What a proxyrunner loads is part of its resident memory (bench:footprint measures it): a
// transparent, in-memory proxy must not load the Redis client, the Kubernetes client and its
// YAML parser, OpenTelemetry (not even its API: prom-client's index requires it, so the proxy
// takes prom-client file by file), the MCP SDK, Cedar, jose, nor what ES-module imports of
// built-ins pull in through their lazy getters (Node's bundled undici from node:http's
// WebSocket, worker_threads and util's diff from node:util) or prom-client's index (the
// Pushgateway's zlib). Each is loaded when
// its flag needs it, which the other test files exercise. The built proxy is started in a
// child process that records every module it loads, with real sockets.
import { describe, expect, it, jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROXYRUNNER, everythingStdioCommand, startEchoServer } from '../support/processes.ts';

jest.setTimeout(60_000);
const run = promisify(execFile);
const DIST = path.dirname(PROXYRUNNER);

/** Starts the proxy in-process in a fresh node with `args`, then prints what it has loaded. */
async function loadedBy(args: string[]): Promise<{ urls: string[]; builtins: string[] }> {
  const script = `
    import { registerHooks } from 'node:module';
    const urls = [];
    registerHooks({ load(url, context, next) { urls.push(url); return next(url, context); } });
    const { parseConfig } = await import(${JSON.stringify(path.join(DIST, 'config.js'))});
    const { startProxyRunner } = await import(${JSON.stringify(path.join(DIST, 'app.js'))});
    const { createLogger } = await import(${JSON.stringify(path.join(DIST, '../../common/log.js'))});
    const config = parseConfig(${JSON.stringify(args)});
    const proxy = await startProxyRunner(config, createLogger('warn', {}));
    await proxy.stop();
    process.stdout.write(JSON.stringify({ urls, builtins: process.moduleLoadList }));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { maxBuffer: 16 * 2 ** 20 });
  return JSON.parse(stdout) as { urls: string[]; builtins: string[] };
}

/** Both listeners on loopback, on ports the system picks. */
const LOOPBACK = ['--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0'];

const packageOf = (url: string): string | undefined => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];

describe('modules loaded at start', () => {
  it('a transparent in-memory proxy loads only what it serves with', async () => {
    const upstream = await startEchoServer();
    try {
      const { urls, builtins } = await loadedBy(['--transport', 'streamable-http', '--target-url', `http://127.0.0.1:${upstream.port}/mcp`, ...LOOPBACK]);
      const packages = new Set(urls.map(packageOf).filter((p) => p !== undefined));
      // The ones it serves with: proving the hook saw the packages it loaded.
      expect(['http-proxy-3', 'prom-client'].filter((p) => packages.has(p))).toEqual(['http-proxy-3', 'prom-client']);
      for (const lazy of [
        'ioredis',
        'yaml',
        '@opentelemetry/api',
        '@opentelemetry/sdk-trace',
        '@modelcontextprotocol/sdk',
        'zod',
        'jose',
        '@cedar-policy/cedar-wasm',
      ]) {
        expect([lazy, packages.has(lazy)]).toEqual([lazy, false]);
      }
      expect(urls.filter((u) => /common\/kube\//.test(u))).toEqual([]);
      expect(builtins.filter((m) => m.includes('undici'))).toEqual([]);
      // A sample of what the built-ins' ES facades and prom-client's index load, and the proof
      // that the list is read (the proxy serves HTTP).
      expect(
        ['NativeModule http', 'NativeModule zlib', 'NativeModule internal/util/diff', 'NativeModule worker_threads'].map((m) => [m, builtins.includes(m)]),
      ).toEqual([
        ['NativeModule http', true],
        ['NativeModule zlib', false],
        ['NativeModule internal/util/diff', false],
        ['NativeModule worker_threads', false],
      ]);
    } finally {
      await upstream.stop();
    }
  });

  it('a stdio proxy loads neither the transparent path nor https', async () => {
    const { urls, builtins } = await loadedBy(['--transport', 'stdio', ...LOOPBACK, '--', ...everythingStdioCommand()]);
    const packages = new Set(urls.map(packageOf).filter((p) => p !== undefined));
    // prom-client serves its metrics: proof the hook saw this proxy's packages.
    expect(['prom-client', 'http-proxy-3', 'follow-redirects'].map((p) => [p, packages.has(p)])).toEqual([
      ['prom-client', true],
      ['http-proxy-3', false],
      ['follow-redirects', false],
    ]);
    expect(['NativeModule http', 'NativeModule https', 'NativeModule tls', 'NativeModule http2'].map((m) => [m, builtins.includes(m)])).toEqual([
      ['NativeModule http', true],
      ['NativeModule https', false],
      ['NativeModule tls', false],
      ['NativeModule http2', false],
    ]);
  });
});
