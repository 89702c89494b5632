// bench:tracing — the CPU the tracing module (proxyrunner/src/telemetry/tracing.ts) adds per
// request, measured alone, in this process: begin() on a parsed tools/call, the response closes,
// the two spans end, and the span queue exports them over OTLP to a sink in another process
// (its CPU is not counted). bench:proxy --tracing measures the whole proxy, but on a shared,
// loaded machine its ratio swings more than the differences between variants; here every variant
// runs the same loop in one process, interleaved (the order reversed every run), so machine load
// hits them alike and the figures compare side by side.
//
// Variants (--variants, comma-separated):
//   none            the loop without tracing (fake exchanges, closes, yields): subtracted from the rest
//   http/protobuf   this tree's module, OTLP/HTTP protobuf (the default)
//   http/json       this tree's module, OTLP/HTTP JSON
//   base:<protocol> the module of another checkout (--baseline DIR, e.g. /work/main): before/after
//
//   npm run bench:tracing -- [--requests 20000] [--runs 3] [--variants none,http/protobuf,http/json]
//                            [--baseline DIR] [--inject header|meta] [--queue 8192] [--rate 2000]
//
// Requests are paced at --rate per second (0: as fast as the loop goes), with the event loop
// free in between for the exports, as in a serving proxy; unpaced, a loaded machine starves the
// export and the bounded queue drops spans.
//
// CPU per request = process CPU (user + system, process.cpuUsage) from the first begin() to the
// end of the flush at shutdown, over the requests; GC included (and shown apart: collections per
// 1,000 requests and their pause time per request, from the 'gc' performance entries). Spans dropped (queue full or export
// failed) are printed: a variant that drops spans does less work, so its figure does not count.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import path from 'node:path';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { silentLogger } from '../common/log.ts';
import type { Exchange } from '../proxyrunner/src/http/exchange.ts';
import type { RpcMessage } from '../proxyrunner/src/jsonrpc.ts';
import { tracesUrl, type OtlpProtocol, type TelemetryConfig } from '../proxyrunner/src/telemetry/config.ts';
import type { Tracing, TracingDeps } from '../proxyrunner/src/telemetry/tracing.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    runs: { type: 'string', default: '3' },
    variants: { type: 'string' },
    baseline: { type: 'string' },
    inject: { type: 'string', default: 'header' },
    queue: { type: 'string', default: '8192' },
    'yield-every': { type: 'string', default: '20' },
    rate: { type: 'string', default: '2000' },
    sink: { type: 'boolean', default: false },
  },
});

type StartTracing = (config: TelemetryConfig, deps: TracingDeps) => Promise<Tracing>;

interface Variant {
  label: string;
  protocol: OtlpProtocol | 'none';
  start: StartTracing | undefined;
}

/** The OTLP/HTTP endpoint, in its own process: accepts every export, discards it, counts; GET /stats reads and resets. */
async function runSink(): Promise<void> {
  let exports = 0;
  let bytes = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ exports, bytes }));
      exports = 0;
      bytes = 0;
      return;
    }
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf' }).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0)); // the bench ended
}

async function startSink(): Promise<{ url: string; stats(): Promise<{ exports: number; bytes: number }>; stop(): void }> {
  const child = spawn(process.execPath, [import.meta.filename, '--sink'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', () => reject(new Error('the sink exited')));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    stats: async () => (await (await fetch(`${url}/stats`)).json()) as { exports: number; bytes: number },
    stop: () => child.stdin.end(),
  };
}

async function main(): Promise<void> {
  const requests = Number(values.requests);
  const runs = Number(values.runs);
  const yieldEvery = Number(values['yield-every']);
  const rate = Number(values.rate);
  const inject = values.inject === 'meta' ? 'meta' : 'header';
  const own = ((await import('../proxyrunner/src/telemetry/tracing.ts')) as { startTracing: StartTracing }).startTracing;
  const baseline = values.baseline
    ? ((await import(path.resolve(values.baseline, 'proxyrunner/src/telemetry/tracing.ts'))) as { startTracing: StartTracing }).startTracing
    : undefined;
  const specs = (values.variants ?? `none,http/protobuf,http/json${baseline ? ',base:http/protobuf' : ''}`).split(',');
  const variants: Variant[] = specs.map((spec) => {
    const base = spec.startsWith('base:');
    const protocol = (base ? spec.slice('base:'.length) : spec) as Variant['protocol'];
    if (base && !baseline) throw new Error(`${spec} needs --baseline DIR`);
    return { label: spec, protocol, start: protocol === 'none' ? undefined : base ? baseline : own };
  });
  const sink = await startSink();
  console.log(
    `bench:tracing  ${requests} requests x ${runs} runs per variant, interleaved  inject=${inject}  queue=${values.queue}  load average ${loadAverage()}`,
  );
  const results = new Map<string, { us: number; dropped: number; bytesPerSpan: number; gcUs: number; gcPer1k: number }[]>(variants.map((v) => [v.label, []]));
  try {
    // Warm-up (JIT, module loading, the sink's connections): every variant once, not counted.
    for (const variant of variants) await measure(variant, Math.ceil(requests / 4));
    await sink.stats();
    for (let run = 0; run < runs; run++) {
      const ordered = run % 2 === 0 ? variants : [...variants].reverse();
      for (const variant of ordered) {
        const { us, dropped, spans, gcUs, gcPer1k } = await measure(variant, requests);
        const { bytes } = await sink.stats();
        results.get(variant.label)!.push({ us, dropped, bytesPerSpan: spans > 0 ? bytes / spans : 0, gcUs, gcPer1k });
      }
    }
  } finally {
    sink.stop();
  }

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const none = results.get('none');
  const floor = none ? median(none.map((r) => r.us)) : 0;
  const reference = variants.find((v) => v.protocol !== 'none')?.label;
  const added = (label: string): number => median(results.get(label)!.map((r) => r.us)) - floor;
  console.log(
    `\nCPU per request (µs), ${runs} runs; "added" = median minus none's median (${floor.toFixed(1)} µs)${reference ? `, ratio to ${reference}` : ''}`,
  );
  const summary: Record<string, unknown> = { load_average: loadAverage(), floor_us: Number(floor.toFixed(1)) };
  for (const variant of variants) {
    const rows = results.get(variant.label)!;
    const perRun = rows.map((r) => r.us.toFixed(1)).join(' / ');
    const gc = `GC ${median(rows.map((r) => r.gcPer1k)).toFixed(1)} per 1k req, ${median(rows.map((r) => r.gcUs)).toFixed(1)} µs/req`;
    if (variant.protocol === 'none') {
      console.log(`  ${variant.label.padEnd(20)} ${perRun}   ${gc}`);
      continue;
    }
    const ratio = reference ? added(variant.label) / added(reference) : 1;
    const dropped = rows.reduce((n, r) => n + r.dropped, 0);
    const bytes = median(rows.map((r) => r.bytesPerSpan));
    console.log(
      `  ${variant.label.padEnd(20)} ${perRun}   added ${added(variant.label).toFixed(1)}  x${ratio.toFixed(2)}   ${bytes.toFixed(0)} B/span on the wire   dropped ${dropped}   ${gc}`,
    );
    summary[variant.label] = {
      us_per_request: rows.map((r) => Number(r.us.toFixed(1))),
      added_us: Number(added(variant.label).toFixed(1)),
      ratio,
      bytes_per_span: Math.round(bytes),
      dropped,
      gc_us: Number(median(rows.map((r) => r.gcUs)).toFixed(1)),
    };
  }
  console.log('\n' + JSON.stringify(summary));

  async function measure(variant: Variant, count: number): Promise<{ us: number; dropped: number; spans: number; gcUs: number; gcPer1k: number }> {
    const registry = new Registry();
    const config: TelemetryConfig = {
      tracesUrl: tracesUrl(sink.url, variant.protocol === 'none' ? 'http/protobuf' : variant.protocol, true),
      protocol: variant.protocol === 'none' ? 'http/protobuf' : variant.protocol,
      headers: {},
      headerNames: [],
      caFile: undefined,
      samplingRate: 1,
      serviceName: 'bench',
      resourceAttributes: {},
      sessionId: 'hashed',
    };
    const deps: TracingDeps = {
      registry,
      log: silentLogger,
      maxQueuedSpans: Number(values.queue),
      upstream: { transport: 'streamable-http', target: new URL('http://127.0.0.1:9/mcp'), inject },
      upstreamResponseTimeoutMs: 300_000,
    };
    const tracing = variant.start ? await variant.start(config, deps) : undefined;
    globalThis.gc?.();
    const gcs = { count: 0, ms: 0 };
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        gcs.count++;
        gcs.ms += entry.duration;
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    const before = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      const fake = fakeExchange(i);
      tracing?.begin(fake.exchange);
      fake.exchange.observeResponse?.({ jsonrpc: '2.0', id: i, result: { content: [{ type: 'text', text: 'hi' }] } });
      fake.close();
      if (i % yieldEvery === 0) {
        // Paced (a proxy serves requests as they come, its export runs in between), else as fast as possible.
        const due = rate > 0 ? started + (i / rate) * 1_000 - performance.now() : 0;
        await (due >= 1 ? sleep(due) : yieldToLoop());
      }
    }
    await tracing?.shutdown(60_000);
    const cpu = process.cpuUsage(before);
    await yieldToLoop(); // the last GC entries
    observer.disconnect();
    const metric = async (name: string): Promise<number> => ((await registry.getSingleMetric(name)?.get())?.values ?? []).reduce((n, v) => n + v.value, 0);
    const dropped = await metric('mcpfleet_proxy_trace_spans_dropped_total');
    const exported = await metric('mcpfleet_proxy_trace_spans_exported_total');
    return { us: (cpu.user + cpu.system) / count, dropped, spans: exported, gcUs: (gcs.ms * 1_000) / count, gcPer1k: (gcs.count * 1_000) / count };
  }
}

const SESSIONS = Array.from({ length: 50 }, (_, i) => `bench-session-${i.toString().padStart(4, '0')}-0123456789abcdef`);

/** What the pipeline hands tracing for a parsed tools/call POST, answered 200. */
function fakeExchange(i: number): { exchange: Exchange; close(): void } {
  const closers: (() => void)[] = [];
  const sessionId = SESSIONS[i % SESSIONS.length] as string;
  const message = { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hello' } } } as RpcMessage;
  const exchange = {
    req: {
      headers: { 'content-type': 'application/json', 'mcp-protocol-version': '2025-06-18', 'mcp-session-id': sessionId },
      socket: { remoteAddress: '127.0.0.1', remotePort: 40_000 + (i % 1_000) },
      httpVersion: '1.1',
    },
    res: { headersSent: true, statusCode: 200 },
    sessionId,
    body: undefined,
    rpc: { messages: [message], batch: false, label: 'tools/call', isInitialize: false, errorId: i },
    rpcLabel: 'tools/call',
    principal: undefined,
    rewriteResponse: undefined,
    observeResponse: undefined,
    upstreamTrace: undefined,
    localAnswers: undefined,
    markStream() {},
    onClose(fn: () => void) {
      closers.push(fn);
    },
  } as unknown as Exchange;
  return { exchange, close: () => closers.forEach((fn) => fn()) };
}

function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
}

if (values.sink) await runSink();
else await main();
