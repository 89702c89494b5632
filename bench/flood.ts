// bench:flood — the proxyrunner at --memory-limit 128Mi against what a hostile client or
// upstream can throw at it, over each transport:
//   streams   N concurrent GET streams held open (1k, 2k, 5k, 10k by default);
//   messages  one tool result of S MiB (1, 16, 64, 256 by default) from the upstream.
// Each step prints the proxy's RSS peak (VmHWM from /proc, reset before the step), how
// many clients were admitted or refused and what the refused ones were answered, and
// whether the proxy served a normal session (initialize → tools/call → DELETE, or the
// legacy SSE equivalent) right after. The goal: no abort, RSS peak under the limit in
// every step, every refusal a clear answer.
//
//   npm run bench:flood -- [--streams 1000,2000,5000,10000] [--sizes 1,16,64,256]
//                          [--transports stdio,sse,streamable-http,streamable-http/sse-clients]
//                          [--memory-limit 128Mi] [--proxy-args "..."] [--json out.json]
//
// MCPFLEET_PROXYRUNNER=/path/to/main.js runs another build (a before/after comparison).
//
// Loopback only. Upstreams run as their own processes (test/fixtures), so the load
// generator's sockets and theirs draw on separate file-descriptor limits.
import http from 'node:http';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { INIT_PARAMS, McpHttpClient, toolCall } from '../test/support/mcpHttp.ts';
import { LegacySseClient } from '../test/support/legacySseClient.ts';
import { scrape } from '../test/support/metrics.ts';
import { ROOT, startProxy, track, type ProxyProcess, type Running } from '../test/support/processes.ts';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '1000,2000,5000,10000' },
    sizes: { type: 'string', default: '1,16,64,256' },
    transports: { type: 'string', default: 'stdio,sse,streamable-http,streamable-http/sse-clients' },
    'memory-limit': { type: 'string', default: '128Mi' },
    'proxy-args': { type: 'string', default: '' },
    json: { type: 'string' },
  },
});
const MiB = 2 ** 20;
const STEP_TIMEOUT_MS = 60_000;

interface Setup {
  name: string;
  /** Upstream fixture kind (its own process), or none for stdio. */
  upstream: 'sse' | 'streamable-json' | 'streamable-sse' | undefined;
  proxyArgs: (url: string | undefined) => string[];
  clients: 'streamable' | 'legacy';
  /** GET /mcp needs a session first (the message path checks it; the pass-through does not). */
  getNeedsSession: boolean;
}

const BIG_STDIO = [process.execPath, path.join(ROOT, 'test/fixtures/bigStdioServer.ts')];
const SETUPS: Record<string, Setup> = {
  stdio: { name: 'stdio', upstream: undefined, proxyArgs: () => ['--transport', 'stdio'], clients: 'streamable', getNeedsSession: true },
  sse: {
    name: 'sse',
    upstream: 'sse',
    proxyArgs: (url) => ['--transport', 'sse', '--target-url', url as string],
    clients: 'streamable',
    getNeedsSession: true,
  },
  'streamable-http': {
    name: 'streamable-http (pass-through)',
    upstream: 'streamable-sse',
    proxyArgs: (url) => ['--transport', 'streamable-http', '--target-url', url as string],
    clients: 'streamable',
    getNeedsSession: false,
  },
  'streamable-http/sse-clients': {
    name: 'streamable-http, legacy SSE clients',
    upstream: 'streamable-json',
    proxyArgs: (url) => ['--transport', 'streamable-http', '--target-url', url as string, '--proxy-mode', 'sse'],
    clients: 'legacy',
    getNeedsSession: false,
  },
};

interface Row {
  transport: string;
  step: string;
  rssPeakMiB: number;
  admitted: number;
  refused: number;
  answers: string;
  servesAfter: boolean;
  alive: boolean;
}

// ---------------------------------------------------------------- processes and memory

async function startUpstream(kind: NonNullable<Setup['upstream']>): Promise<{ running: Running; url: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'test/fixtures/hugeUpstream.ts'), '--kind', kind], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').once('data', (line: string) => resolve(line.trim()));
    child.once('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
  });
  return { running: track(child, Number(new URL(url).port)), url };
}

const status = (pid: number, field: string): number =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
/** Resets VmHWM (the kernel's peak-RSS mark) so the next read is this step's peak. */
const resetPeak = (pid: number): void => writeFileSync(`/proc/${pid}/clear_refs`, '5');
const alive = (proxy: ProxyProcess): boolean => proxy.child.exitCode === null && proxy.child.signalCode === null;

async function metric(proxy: ProxyProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  return (await scrape(proxy.metricsUrl)).value(name, labels) ?? NaN;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return true;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

// ---------------------------------------------------------------- clients

interface Outcome {
  /** HTTP status, or an error code when there was no answer. */
  answer: string;
  detail: string;
  close(): void;
}

/** Opens a GET stream; settles once headers arrive (200) or a refusal's body has. */
function openGet(url: string, sessionId: string | undefined): Promise<Outcome> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (sessionId) headers['mcp-session-id'] = sessionId;
    const timer = setTimeout(() => {
      req.destroy();
      resolve({ answer: 'timeout', detail: '', close: () => {} });
    }, STEP_TIMEOUT_MS);
    const req = http.get(url, { headers, agent: false }, (res) => {
      if (res.statusCode === 200) {
        clearTimeout(timer);
        res.on('error', () => {});
        resolve({ answer: '200', detail: '', close: () => req.destroy() });
        return;
      }
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body = (body + c).slice(0, 300)));
      res.on('end', () => {
        clearTimeout(timer);
        let detail = body;
        try {
          detail = (JSON.parse(body) as { error: { message: string } }).error.message;
        } catch {
          // not JSON-RPC
        }
        resolve({ answer: `${res.statusCode}${res.headers['retry-after'] ? ` Retry-After: ${res.headers['retry-after']}` : ''}`, detail, close: () => {} });
      });
      res.on('error', () => {});
    });
    req.on('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      resolve({ answer: err.code ?? err.message, detail: '', close: () => {} });
    });
  });
}

/** POSTs and counts the answer's bytes without holding them (a pass-through answer may be huge). */
function postCounting(url: string, body: string, sessionId: string): Promise<{ status: number; bytes: number; head: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId },
      },
      (res) => {
        let bytes = 0;
        let head = '';
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (head.length < 400) head += chunk.subarray(0, 400).toString('utf8');
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, head }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A normal session, start to end; true when every answer was right. */
async function servesNormally(proxy: ProxyProcess, setup: Setup): Promise<boolean> {
  try {
    if (setup.clients === 'legacy') {
      const client = new LegacySseClient();
      try {
        await client.open(proxy.mcpUrl);
        if (!('result' in (await client.call(1, 'initialize', INIT_PARAMS)))) return false;
        await client.notify({ jsonrpc: '2.0', method: 'notifications/initialized' });
        const echo = await client.call(2, 'tools/call', { name: 'echo', arguments: { message: 'ok' } });
        return JSON.stringify(echo).includes('Echo: ok');
      } finally {
        client.close();
      }
    }
    const client = new McpHttpClient(proxy.mcpUrl, new http.Agent({ keepAlive: false }));
    const session = await client.initialize();
    const echo = await client.request('POST', toolCall(2, 'echo', { message: 'ok' }), session);
    const done = await client.request('DELETE', undefined, session);
    return echo.body.includes('Echo: ok') && done.status === 200;
  } catch {
    return false;
  }
}

function summarise(outcomes: Outcome[]): { admitted: number; refused: number; answers: string } {
  const groups = new Map<string, { count: number; detail: string }>();
  for (const o of outcomes) {
    const group = groups.get(o.answer) ?? { count: 0, detail: o.detail };
    group.count++;
    groups.set(o.answer, group);
  }
  const admitted = groups.get('200')?.count ?? 0;
  const answers = [...groups.entries()]
    .filter(([answer]) => answer !== '200')
    .sort((a, b) => b[1].count - a[1].count)
    .map(([answer, g]) => `${g.count}× ${answer}${g.detail ? ` "${g.detail.slice(0, 110)}"` : ''}`)
    .join('; ');
  return { admitted, refused: outcomes.length - admitted, answers: answers || '—' };
}

// ---------------------------------------------------------------- steps

async function streamStep(proxy: ProxyProcess, setup: Setup, n: number): Promise<Row> {
  const pid = proxy.child.pid as number;
  const maxStreams = await metric(proxy, 'mcpfleet_proxy_budget_limit', { resource: 'streams' });
  // Sessions for the streams the proxy can admit (refused GETs never reach a session).
  const sessions: string[] = [];
  if (setup.getNeedsSession) {
    const client = new McpHttpClient(proxy.mcpUrl, new http.Agent({ keepAlive: true, maxSockets: 50 }));
    // A build without the budget (a before run) exposes no limit: sessions for the first 1,000.
    const want = Math.min(n, Number.isFinite(maxStreams) ? maxStreams + 50 : 1000);
    for (let i = 0; i < want; i += 50) {
      const made = await Promise.all(Array.from({ length: Math.min(50, want - i) }, () => client.initialize().catch(() => undefined)));
      sessions.push(...made.filter((id): id is string => id !== undefined));
    }
  }
  resetPeak(pid);
  const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => openGet(proxy.mcpUrl, sessions.length ? sessions[i % sessions.length] : undefined)));
  await new Promise((r) => setTimeout(r, 1_000));
  const rssPeakMiB = alive(proxy) ? status(pid, 'VmHWM') : NaN;
  for (const o of outcomes) o.close();
  await until(async () => (await metric(proxy, 'mcpfleet_proxy_streams_open')) === 0, 20_000);
  if (sessions.length) {
    const client = new McpHttpClient(proxy.mcpUrl, new http.Agent({ keepAlive: true, maxSockets: 50 }));
    for (let i = 0; i < sessions.length; i += 50)
      await Promise.all(sessions.slice(i, i + 50).map((id) => client.request('DELETE', undefined, id).catch(() => undefined)));
  }
  return {
    transport: setup.name,
    step: `${n} GET streams`,
    rssPeakMiB,
    ...summarise(outcomes),
    servesAfter: await servesNormally(proxy, setup),
    alive: alive(proxy),
  };
}

async function messageStep(proxy: ProxyProcess, setup: Setup, mib: number): Promise<Row> {
  const pid = proxy.child.pid as number;
  resetPeak(pid);
  let answer: string;
  let admitted = 0;
  try {
    if (setup.clients === 'legacy') {
      const client = new LegacySseClient();
      try {
        await client.open(proxy.mcpUrl);
        await client.call(1, 'initialize', INIT_PARAMS);
        await client.notify({ jsonrpc: '2.0', method: 'notifications/initialized' });
        const reply = await Promise.race([
          client.call(2, 'tools/call', { name: 'big', arguments: { bytes: mib * MiB } }),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 60 s')), STEP_TIMEOUT_MS)),
        ]);
        const error = (reply as { error?: { message: string } }).error;
        answer = error ? `JSON-RPC error "${error.message}"` : `result (${JSON.stringify(reply).length} bytes)`;
        admitted = error ? 0 : 1;
      } finally {
        client.close();
      }
    } else {
      const client = new McpHttpClient(proxy.mcpUrl, new http.Agent({ keepAlive: false }));
      const session = await client.initialize();
      const res = await postCounting(proxy.mcpUrl, toolCall(2, 'big', { bytes: mib * MiB }), session);
      const error = /"error":\{"code":(-?\d+),"message":"([^"]*)"/.exec(res.head);
      answer =
        error && res.bytes < 4096
          ? `HTTP ${res.status}, JSON-RPC error "${error[2]}"`
          : `HTTP ${res.status}, result streamed (${(res.bytes / MiB).toFixed(1)} MiB)`;
      admitted = error && res.bytes < 4096 ? 0 : 1;
      await client.request('DELETE', undefined, session).catch(() => undefined);
    }
  } catch (err) {
    answer = `failed: ${(err as Error).message}`;
  }
  const rssPeakMiB = alive(proxy) ? status(pid, 'VmHWM') : NaN;
  return {
    transport: setup.name,
    step: `${mib} MiB result`,
    rssPeakMiB,
    admitted,
    refused: 1 - admitted,
    answers: answer,
    servesAfter: await servesNormally(proxy, setup),
    alive: alive(proxy),
  };
}

// ---------------------------------------------------------------- main

async function runSetup(setup: Setup, streams: number[], sizes: number[]): Promise<Row[]> {
  const upstream = setup.upstream ? await startUpstream(setup.upstream) : undefined;
  const extra = values['proxy-args'] ? values['proxy-args'].split(' ') : [];
  const proxy = await startProxy([...setup.proxyArgs(upstream?.url), '--memory-limit', values['memory-limit'], '--log-level', 'error', ...extra], {
    command: setup.upstream ? undefined : BIG_STDIO,
  });
  const rows: Row[] = [];
  try {
    const idle = status(proxy.child.pid as number, 'VmRSS');
    console.log(`\n== ${setup.name}: idle RSS ${idle.toFixed(1)} MiB`);
    for (const [kind, list] of [
      ['streams', streams],
      ['sizes', sizes],
    ] as const) {
      for (const value of list) {
        if (!alive(proxy)) break;
        const row = kind === 'streams' ? await streamStep(proxy, setup, value) : await messageStep(proxy, setup, value);
        rows.push(row);
        console.log(
          `  ${row.step.padEnd(16)} rss peak ${row.rssPeakMiB.toFixed(1).padStart(6)} MiB  admitted ${String(row.admitted).padStart(5)}  refused ${String(row.refused).padStart(5)}  serves after: ${row.servesAfter ? 'yes' : 'NO'}${row.alive ? '' : '  PROXY DIED'}\n      ${row.answers}`,
        );
      }
    }
    if (!alive(proxy)) console.log(`  proxy exited: ${proxy.stderr().slice(-2000)}`);
  } finally {
    await proxy.stop();
    await upstream?.running.stop();
  }
  return rows;
}

async function main(): Promise<void> {
  const streams = values.streams ? values.streams.split(',').filter(Boolean).map(Number) : [];
  const sizes = values.sizes ? values.sizes.split(',').filter(Boolean).map(Number) : [];
  console.log(
    `bench:flood  proxy --memory-limit ${values['memory-limit']}${values['proxy-args'] ? ` ${values['proxy-args']}` : ''}; streams ${streams.join(', ')}; results of ${sizes.join(', ')} MiB`,
  );
  const rows: Row[] = [];
  for (const name of values.transports.split(',')) {
    const setup = SETUPS[name];
    if (!setup) throw new Error(`unknown transport ${name} (known: ${Object.keys(SETUPS).join(', ')})`);
    rows.push(...(await runSetup(setup, streams, sizes)));
  }
  console.log('\n| transport | step | RSS peak | admitted | refused | what refused clients got | serves after |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.transport} | ${r.step} | ${Number.isNaN(r.rssPeakMiB) ? 'died' : `${r.rssPeakMiB.toFixed(1)} MiB`} | ${r.admitted} | ${r.refused} | ${r.answers.replaceAll('|', '\\|')} | ${r.servesAfter ? 'yes' : 'no'} |`,
    );
  }
  if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2));
  const worst = Math.max(...rows.map((r) => (Number.isNaN(r.rssPeakMiB) ? Infinity : r.rssPeakMiB)));
  console.log(`\nworst RSS peak ${worst.toFixed(1)} MiB; every step served after: ${rows.every((r) => r.servesAfter && r.alive) ? 'yes' : 'NO'}`);
}

await main();
