// Real processes for tests and benchmarks: the proxyrunner CLI and MCP servers, each
// on a free loopback port, stopped (and reaped) reliably.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const EVERYTHING = path.join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
/** The built CLI (npm run build), exactly what the image runs; MCPFLEET_PROXYRUNNER points benchmarks at another build (a before/after). */
export const PROXYRUNNER = process.env['MCPFLEET_PROXYRUNNER'] ?? path.join(ROOT, 'dist/proxyrunner/src/main.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 15_000, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Running {
  child: ChildProcess;
  port: number;
  /** Collected stderr (bounded), for assertions and failure messages. */
  stderr(): string;
  stop(): Promise<void>;
}

export function track(child: ChildProcess, port: number): Running {
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err = (err + chunk).slice(-200_000);
  });
  child.stdout?.resume();
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    child,
    port,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

export type EverythingMode = 'stdio' | 'sse' | 'streamableHttp';

/** server-everything in one of its HTTP modes, on a free port. */
export async function startEverything(mode: Exclude<EverythingMode, 'stdio'>): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [EVERYTHING, mode], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  const running = track(child, port);
  await waitForPort(port, 15_000, child);
  return running;
}

/** The lean SDK-based echo server from test/fixtures (see its header for why). */
export async function startEchoServer(options: { stateless?: boolean; timeoutMs?: number } = {}): Promise<Running> {
  const port = await freePort();
  const args = [path.join(ROOT, 'test/fixtures/echoServer.ts'), '--port', String(port), ...(options.stateless ? ['--stateless'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const running = track(child, port);
  await waitForPort(port, options.timeoutMs ?? 15_000, child);
  return running;
}

export interface ProxyProcess extends Running {
  metricsPort: number;
  mcpUrl: string;
  metricsUrl: string;
}

/** The proxyrunner CLI exactly as users run it. */
export async function startProxy(args: string[], options: { env?: NodeJS.ProcessEnv; command?: string[]; path?: string } = {}): Promise<ProxyProcess> {
  const port = await freePort();
  const metricsPort = await freePort();
  const argv = [PROXYRUNNER, '--host', '127.0.0.1', '--metrics-host', '127.0.0.1', '--port', String(port), '--metrics-port', String(metricsPort), ...args];
  if (options.command) argv.push('--', ...options.command);
  const child = spawn(process.execPath, argv, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const running = track(child, port);
  // The proxy's own pid never changes (a heap re-size uses execve), so this is stable.
  try {
    await waitForPort(port, 20_000, child);
    await waitForPort(metricsPort, 5_000, child);
    // Ports open a moment before the start-up line is logged; tests read that line
    // (it is an info line: quieter log levels never print it).
    const quiet = /^(warn|error)$/.test(args[args.indexOf('--log-level') + 1] ?? '');
    for (let waited = 0; !quiet && !running.stderr().includes('"msg":"mcpfleet proxyrunner serving"'); waited += 20) {
      if (waited > 5_000) throw new Error('no start-up log line within 5 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (err) {
    await running.stop();
    throw new Error(`${(err as Error).message}\n${running.stderr()}`, { cause: err });
  }
  return {
    ...running,
    metricsPort,
    mcpUrl: `http://127.0.0.1:${port}${options.path ?? (args[args.indexOf('--proxy-mode') + 1] === 'sse' ? '/sse' : '/mcp')}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
  };
}

export const everythingStdioCommand = (): string[] => [process.execPath, EVERYTHING, 'stdio'];
