// A real Jaeger v2 (all-in-one: OTLP receiver, in-memory storage, query API) for the telemetry
// tests, built from Go modules by test/telemetry/jaeger.sh into the test cache (`make jaeger`;
// `make test` depends on it). Started per test file on free loopback ports with a config written
// here (its own telemetry off: no fixed 8888 port), stopped and its temp dir removed after.
// Jaeger v2 is an OpenTelemetry Collector distribution: with `metrics: true` it also runs a
// metrics pipeline (the same OTLP receiver → the Collector's prometheus exporter on a free
// loopback port), so the proxy's OTLP metrics can be read back in the Prometheus text format.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, ROOT, track, waitForPort, type Running } from './processes.ts';

export const JAEGER_SCRIPT = path.join(ROOT, 'test/telemetry/jaeger.sh');

let binary: string | undefined;

/** The jaeger binary (built on first use if `make jaeger` has not run: minutes). */
export function jaegerBinary(): string {
  if (binary) return binary;
  const run = spawnSync('bash', [JAEGER_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 1_800_000 });
  if (run.status !== 0) throw new Error(`${JAEGER_SCRIPT} failed (${run.status ?? run.signal}):\n${run.stderr}`);
  const last = run.stdout.trim().split('\n').pop();
  if (!last) throw new Error(`${JAEGER_SCRIPT} printed no path:\n${run.stderr}`);
  binary = last;
  return binary;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  tags: { key: string; type: string; value: string | number | boolean }[];
  processID: string;
}
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: { key: string; value: unknown }[] }>;
}

export interface Jaeger {
  /** OTLP/HTTP base URL (the proxy appends /v1/traces). */
  otlpHttp: string;
  /** OTLP/gRPC host:port. */
  otlpGrpc: string;
  queryUrl: string;
  /** With `metrics: true`: the Prometheus exporter's scrape URL (the OTLP metrics received). */
  prometheusUrl: string | undefined;
  traces(service: string): Promise<JaegerTrace[]>;
  /** Polls until `ready(traces)` holds (export is batched), at most timeoutMs. */
  waitForTraces(service: string, ready: (traces: JaegerTrace[]) => boolean, timeoutMs?: number): Promise<JaegerTrace[]>;
  stderr(): string;
  stop(): Promise<void>;
}

export async function startJaeger(options: { metrics?: boolean } = {}): Promise<Jaeger> {
  const bin = jaegerBinary();
  const [grpc, httpPort, query, queryGrpc, health, prometheus] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const metricsPipeline = options.metrics
    ? `
    metrics:
      receivers: [otlp]
      exporters: [prometheus]`
    : '';
  const metricsExporter = options.metrics
    ? `
  prometheus:
    endpoint: 127.0.0.1:${prometheus}`
    : '';
  const dir = mkdtempSync(path.join(tmpdir(), 'mcpfleet-jaeger-'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]${metricsPipeline}
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:${health}
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${query}
    grpc:
      endpoint: 127.0.0.1:${queryGrpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${grpc}
      http:
        endpoint: 127.0.0.1:${httpPort}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore${metricsExporter}
`,
  );
  const child = spawn(bin, ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const running: Running = track(child, query);
  try {
    await Promise.all([
      waitForPort(query, 60_000, child),
      waitForPort(httpPort, 60_000, child),
      waitForPort(grpc, 60_000, child),
      ...(options.metrics ? [waitForPort(prometheus, 60_000, child)] : []),
    ]);
  } catch (err) {
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n${running.stderr()}`, { cause: err });
  }
  const queryUrl = `http://127.0.0.1:${query}`;
  const traces = async (service: string): Promise<JaegerTrace[]> => {
    const res = await fetch(`${queryUrl}/api/traces?service=${encodeURIComponent(service)}&limit=100&lookback=1h`);
    if (res.status === 404 || res.status === 400) return []; // service not seen yet
    if (!res.ok) throw new Error(`Jaeger query answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { data: JaegerTrace[] | null };
    return body.data ?? [];
  };
  return {
    otlpHttp: `http://127.0.0.1:${httpPort}`,
    otlpGrpc: `127.0.0.1:${grpc}`,
    queryUrl,
    prometheusUrl: options.metrics ? `http://127.0.0.1:${prometheus}/metrics` : undefined,
    traces,
    async waitForTraces(service, ready, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = await traces(service);
        if (ready(found)) return found;
        if (Date.now() > deadline)
          throw new Error(`Jaeger: traces of ${service} not as expected after ${timeoutMs} ms: ${JSON.stringify(found).slice(0, 4000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    stderr: () => running.stderr(),
    async stop() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A span's tag value by key. */
export const tag = (span: JaegerSpan, key: string): unknown => span.tags.find((t) => t.key === key)?.value;
