// OTLP metrics end to end, against a real Jaeger v2 (an OpenTelemetry Collector distribution,
// built from Go modules into the test cache by test/telemetry/jaeger.sh) whose metrics pipeline
// takes OTLP/HTTP from the real proxyrunner CLI and serves what it received through the
// Collector's prometheus exporter. After real MCP traffic (SDK clients, a real stdio server) the
// counters, gauges and histograms Jaeger received must be the proxy's own /metrics: same names,
// types and values. Then: the last values are exported at shutdown (interval 1h, so only the
// shutdown export can carry them); an unreachable endpoint costs requests nothing and the failed
// exports are counted. (With --otel-metrics-enabled off nothing of OpenTelemetry is loaded:
// test/proxy/telemetry.test.ts.)
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startJaeger, type Jaeger } from '../support/jaeger.ts';
import { eventually, scrape, Scrape } from '../support/metrics.ts';
import { freePort, ROOT, startProxy } from '../support/processes.ts';

jest.setTimeout(120_000);

const TRACE_ECHO = path.join(ROOT, 'test/fixtures/traceEchoServer.ts');
const SESSIONS = 3;
const CALLS = 2;

let jaeger: Jaeger;
beforeAll(async () => {
  jaeger = await startJaeger({ metrics: true });
}, 1_800_000);
afterAll(async () => {
  await jaeger?.stop();
});

/** SESSIONS sessions, each CALLS tools/call, each ended with DELETE. */
async function traffic(mcpUrl: string): Promise<void> {
  for (let s = 0; s < SESSIONS; s++) {
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl));
    const client = new Client({ name: 'mcpfleet-otel-metrics-test', version: '1.0.0' });
    await client.connect(transport);
    for (let c = 0; c < CALLS; c++) expect((await client.callTool({ name: 'trace-context', arguments: {} })).isError).toBeFalsy();
    await transport.terminateSession();
    await client.close();
  }
}

/** What Jaeger's prometheus exporter serves for one service (job = service.name). */
async function received(service: string): Promise<Scrape> {
  const all = await scrape(jaeger.prometheusUrl as string);
  const mine = all.text
    .split('\n')
    .filter((line) => line.startsWith('#') || line.includes(`job="${service}"`))
    .join('\n');
  return new Scrape(mine);
}

const typeOf = (s: Scrape, name: string): string | undefined => new RegExp(`^# TYPE ${name} (\\w+)$`, 'm').exec(s.text)?.[1];

describe('OTLP metrics into a real Jaeger v2 (Collector prometheus exporter)', () => {
  it('mirrors the Prometheus counters, gauges and histograms with the same names, types and values', async () => {
    const service = `mcp-metrics-${randomBytes(3).toString('hex')}`;
    const proxy = await startProxy(
      [
        '--transport',
        'stdio',
        '--otel-endpoint',
        jaeger.otlpHttp,
        '--otel-tracing-enabled=false',
        '--otel-metrics-enabled',
        '--otel-metrics-interval',
        '1s',
        '--otel-service-name',
        service,
      ],
      { command: [process.execPath, TRACE_ECHO] },
    );
    try {
      await traffic(proxy.mcpUrl);
      const own = await scrape(proxy.metricsUrl);
      expect(own.value('mcpfleet_proxy_sessions_created_total')).toBe(SESSIONS);
      const call = { method: 'POST', rpc_method: 'tools/call' };
      expect(own.value('mcpfleet_proxy_request_duration_seconds_count', call)).toBe(SESSIONS * CALLS);
      const got = await eventually(async () => {
        const s = await received(service);
        expect(s.value('mcpfleet_proxy_sessions_created_total')).toBe(SESSIONS);
        expect(s.value('mcpfleet_proxy_request_duration_seconds_count', call)).toBe(SESSIONS * CALLS);
        return s;
      }, 30_000);
      // Types as the Prometheus ones.
      expect(typeOf(got, 'mcpfleet_proxy_sessions_created_total')).toBe('counter');
      expect(typeOf(got, 'mcpfleet_proxy_sessions_active')).toBe('gauge');
      expect(typeOf(got, 'mcpfleet_proxy_request_duration_seconds')).toBe('histogram');
      // Values: labelled counters, the gauge, every histogram bucket, sum and count.
      for (const reason of ['client_delete', 'idle_timeout']) {
        expect(got.value('mcpfleet_proxy_sessions_closed_total', { reason })).toBe(own.value('mcpfleet_proxy_sessions_closed_total', { reason }));
      }
      expect(got.value('mcpfleet_proxy_sessions_closed_total', { reason: 'client_delete' })).toBe(SESSIONS);
      expect(got.value('mcpfleet_proxy_sessions_active')).toBe(0);
      expect(got.value('mcpfleet_proxy_requests_total', { method: 'POST', status: '200', rpc_method: 'tools/call' })).toBe(SESSIONS * CALLS);
      for (const le of ['0.0005', '0.005', '0.05', '0.5', '5', '60', '+Inf']) {
        expect([le, got.value('mcpfleet_proxy_request_duration_seconds_bucket', { ...call, le })]).toEqual([
          le,
          own.value('mcpfleet_proxy_request_duration_seconds_bucket', { ...call, le }),
        ]);
      }
      expect(got.value('mcpfleet_proxy_request_duration_seconds_sum', call)).toBeCloseTo(
        own.value('mcpfleet_proxy_request_duration_seconds_sum', call) as number,
        9,
      );
      // Every export so far succeeded.
      const after = await scrape(proxy.metricsUrl);
      expect(after.value('mcpfleet_proxy_otlp_metric_exports_total', { result: 'success' })).toBeGreaterThanOrEqual(1);
      expect(after.value('mcpfleet_proxy_otlp_metric_exports_total', { result: 'failed' })).toBe(0);
    } finally {
      await proxy.stop();
    }
  });

  it('exports the last values at shutdown (interval 1h: no periodic export carries them)', async () => {
    const service = `mcp-metrics-stop-${randomBytes(3).toString('hex')}`;
    const proxy = await startProxy(
      [
        '--transport',
        'stdio',
        '--otel-endpoint',
        jaeger.otlpHttp,
        '--otel-tracing-enabled=false',
        '--otel-metrics-enabled',
        '--otel-metrics-interval',
        '1h',
        '--otel-service-name',
        service,
      ],
      { command: [process.execPath, TRACE_ECHO] },
    );
    try {
      await traffic(proxy.mcpUrl);
      expect((await received(service)).value('mcpfleet_proxy_sessions_created_total')).toBeUndefined();
    } finally {
      await proxy.stop();
    }
    const got = await eventually(async () => {
      const s = await received(service);
      expect(s.value('mcpfleet_proxy_sessions_created_total')).toBe(SESSIONS);
      return s;
    }, 30_000);
    expect(got.value('mcpfleet_proxy_sessions_closed_total', { reason: 'client_delete' })).toBe(SESSIONS);
  });
});

describe('an unreachable OTLP metrics endpoint', () => {
  it('costs requests nothing; the failed exports are counted', async () => {
    const dead = await freePort(); // nothing listens there
    const proxy = await startProxy(
      [
        '--transport',
        'stdio',
        '--otel-endpoint',
        `http://127.0.0.1:${dead}`,
        '--otel-tracing-enabled=false',
        '--otel-metrics-enabled',
        '--otel-metrics-interval',
        '1s',
      ],
      { command: [process.execPath, TRACE_ECHO] },
    );
    try {
      await traffic(proxy.mcpUrl);
      await eventually(async () => {
        const metrics = await scrape(proxy.metricsUrl);
        expect(metrics.value('mcpfleet_proxy_otlp_metric_exports_total', { result: 'failed' })).toBeGreaterThanOrEqual(2);
        expect(metrics.value('mcpfleet_proxy_otlp_metric_exports_total', { result: 'success' })).toBe(0);
        expect(metrics.value('mcpfleet_proxy_sessions_created_total')).toBe(SESSIONS);
      }, 30_000);
    } finally {
      await proxy.stop();
    }
  });
});
