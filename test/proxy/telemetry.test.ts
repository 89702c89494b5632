// OpenTelemetry tracing end to end, against a real Jaeger v2 (built from Go modules into the test
// cache: test/telemetry/jaeger.sh) receiving OTLP from the real proxyrunner CLI, with the official
// SDK client sending a W3C traceparent and a real MCP server (test/fixtures/traceEchoServer.ts)
// reporting the context each call reached it with. For every upstream kind the test uses and both
// client-facing modes it asserts, from Jaeger's query API: the span names and MCP attributes, the
// server span's parent (the client's span) and the client span's parent (the server span), the
// resource, and at the upstream that the trace id continued (header on the transparent
// streamable-HTTP path, params._meta on the message path, and the header as well when that
// upstream is HTTP). The same over OTLP/gRPC (--otel-protocol grpc) to Jaeger's gRPC receiver and
// over OTLP/HTTP with JSON bodies (--otel-protocol http/json). The upstream client span carries
// what describes the call (method, request id, where it went, outcome), not the request's other
// MCP attributes, which are on the server span.
// Then: with tracing off no OpenTelemetry
// module is loaded; an unreachable endpoint costs requests nothing and is counted.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startJaeger, tag, type Jaeger, type JaegerSpan } from '../support/jaeger.ts';
import { eventually, scrape } from '../support/metrics.ts';
import { freePort, ROOT, startProxy, track, waitForPort, type ProxyProcess, type Running } from '../support/processes.ts';
import { spawn } from 'node:child_process';

jest.setTimeout(120_000);

const TRACE_ECHO = path.join(ROOT, 'test/fixtures/traceEchoServer.ts');
const MODULE_LOG = path.join(ROOT, 'test/support/moduleLog.ts');

async function startTraceEchoHttp(): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [TRACE_ECHO, '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const running = track(child, port);
  await waitForPort(port, 15_000, child);
  return running;
}

interface Traced {
  client: Client;
  traceId: string;
  parentSpanId: string;
  sessionId: string | undefined;
  close(): Promise<void>;
}

/** An SDK client whose every HTTP request carries one W3C traceparent (its own "span"). */
async function tracedClient(url: string): Promise<Traced> {
  const traceId = randomBytes(16).toString('hex');
  const parentSpanId = randomBytes(8).toString('hex');
  const requestInit = { headers: { traceparent: `00-${traceId}-${parentSpanId}-01` } };
  const transport = url.endsWith('/sse')
    ? new SSEClientTransport(new URL(url), { requestInit })
    : new StreamableHTTPClientTransport(new URL(url), { requestInit });
  const client = new Client({ name: 'mcpfleet-telemetry-test', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    traceId,
    parentSpanId,
    sessionId: transport instanceof StreamableHTTPClientTransport ? transport.sessionId : undefined,
    async close() {
      if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession();
      await client.close();
    },
  };
}

const parentOf = (span: JaegerSpan): string | undefined => span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

// Started by the first test that needs it (the last two do not).
let jaegerStarted: Promise<Jaeger> | undefined;
let jaeger: Jaeger;
afterAll(async () => {
  if (jaegerStarted) await (await jaegerStarted).stop();
});

type Upstream = 'stdio' | 'streamable-http';
type Mode = 'streamable-http' | 'sse';
const CASES: [Upstream, Mode][] = [
  ['stdio', 'streamable-http'],
  ['streamable-http', 'streamable-http'], // the transparent path
  ['stdio', 'sse'],
  ['streamable-http', 'sse'],
];

describe.each(CASES)('tracing: upstream %s, clients see %s', (transport, mode) => {
  const service = `mcp-${transport}-${mode}-${randomBytes(3).toString('hex')}`;
  let upstream: Running | undefined;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    jaeger = await (jaegerStarted ??= startJaeger());
    const args = [
      '--transport',
      transport,
      '--proxy-mode',
      mode,
      '--otel-endpoint',
      jaeger.otlpHttp,
      '--otel-sampling-rate',
      '1',
      '--otel-service-name',
      service,
      '--otel-resource-attributes',
      'deployment.environment.name=test',
    ];
    const options = { path: mode === 'sse' ? '/sse' : '/mcp', env: { POD_NAME: 'fetch-0', POD_NAMESPACE: 'team-a' } };
    if (transport === 'stdio') {
      proxy = await startProxy(args, { ...options, command: [process.execPath, TRACE_ECHO] });
    } else {
      upstream = await startTraceEchoHttp();
      proxy = await startProxy([...args, '--target-url', `http://127.0.0.1:${upstream.port}/mcp`], options);
    }
  }, 1_800_000);

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.stop();
  });

  it("continues the client's trace through a server span and an upstream client span, with MCP attributes", async () => {
    const traced = await tracedClient(proxy.mcpUrl);
    const result = await traced.client.callTool({ name: 'trace-context', arguments: {} });
    const seen = JSON.parse((result.content as { text: string }[])[0]?.text ?? '{}') as { metaTraceparent: string | null; headerTraceparent: string | null };
    await traced.close();

    // At the upstream: the same trace, with the proxy's span as the parent.
    const upstreamContext = transport === 'streamable-http' && mode === 'streamable-http' ? seen.headerTraceparent : seen.metaTraceparent;
    expect(upstreamContext).toMatch(new RegExp(`^00-${traced.traceId}-[0-9a-f]{16}-01$`));
    const upstreamParent = (upstreamContext as string).split('-')[2];
    expect(upstreamParent).not.toBe(traced.parentSpanId);
    // An HTTP upstream behind the message path gets the same context as a traceparent header too.
    if (transport === 'streamable-http' && mode === 'sse') expect(seen.headerTraceparent).toBe(seen.metaTraceparent);

    const traces = await jaeger.waitForTraces(service, (found) =>
      found.some((t) => t.traceID === traced.traceId && t.spans.filter((s) => s.operationName === 'tools/call trace-context').length === 2),
    );
    const trace = traces.find((t) => t.traceID === traced.traceId)!;
    const calls = trace.spans.filter((s) => s.operationName === 'tools/call trace-context');
    const server = calls.find((s) => tag(s, 'span.kind') === 'server')!;
    const client = calls.find((s) => tag(s, 'span.kind') === 'client')!;
    expect(server).toBeDefined();
    expect(client).toBeDefined();
    // Parent/child: client's span → proxy server span → proxy client span → upstream.
    expect(parentOf(server)).toBe(traced.parentSpanId);
    expect(parentOf(client)).toBe(server.spanID);
    expect(upstreamParent).toBe(client.spanID);

    for (const span of [server, client]) {
      expect(tag(span, 'mcp.method.name')).toBe('tools/call');
      expect(tag(span, 'jsonrpc.request.id')).toMatch(/^\d+$/);
      // The legacy SSE transport answers the POST 202 (the response travels on the GET stream).
      expect(tag(span, 'http.response.status_code')).toBe(mode === 'sse' ? 202 : 200);
      expect(tag(span, 'error.type')).toBeUndefined();
    }
    expect(tag(client, 'jsonrpc.request.id')).toBe(tag(server, 'jsonrpc.request.id'));
    expect(tag(server, 'gen_ai.tool.name')).toBe('trace-context');
    expect(tag(server, 'gen_ai.operation.name')).toBe('execute_tool');
    expect(tag(server, 'jsonrpc.protocol.version')).toBe('2.0');
    expect(tag(server, 'mcp.protocol.version')).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(tag(server, 'network.transport')).toBe('tcp');
    expect(tag(server, 'network.protocol.name')).toBe('http');
    expect(tag(server, 'client.address')).toBe('127.0.0.1');
    // The upstream call's span says where it went, not again what the server span says of the request.
    expect(tag(client, 'network.transport')).toBe(transport === 'stdio' ? 'pipe' : 'tcp');
    if (transport === 'streamable-http') {
      expect(tag(client, 'server.address')).toBe('127.0.0.1');
      expect(tag(client, 'server.port')).toBe(upstream!.port);
    }
    for (const repeated of [
      'gen_ai.tool.name',
      'gen_ai.operation.name',
      'mcp.session.id',
      'mcp.protocol.version',
      'jsonrpc.protocol.version',
      'client.address',
    ])
      expect(tag(client, repeated)).toBeUndefined();
    if (mode === 'streamable-http') {
      // Hashed: correlates the session's spans without revealing its id.
      expect(tag(server, 'mcp.session.id')).toMatch(/^[0-9a-f]{32}$/);
      expect(tag(server, 'mcp.session.id')).not.toBe(traced.sessionId);
    }
    const processInfo = trace.processes[server.processID]!;
    expect(processInfo.serviceName).toBe(service);
    const resource = Object.fromEntries(processInfo.tags.map((t) => [t.key, t.value]));
    expect(resource).toMatchObject({ 'k8s.pod.name': 'fetch-0', 'k8s.namespace.name': 'team-a', 'deployment.environment.name': 'test' });

    // initialize got its spans too, in the same trace (the client sent the traceparent on every request).
    expect(trace.spans.some((s) => s.operationName === 'initialize' && tag(s, 'span.kind') === 'server')).toBe(true);
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_trace_spans_dropped_total')).toBe(0);
  });

  it('records a JSON-RPC error answer on the spans (message path; the transparent path passes answers unread)', async () => {
    const traced = await tracedClient(proxy.mcpUrl);
    // The server has no prompts: the SDK server answers -32601 (in a 200, or on the SSE stream).
    await expect(traced.client.listPrompts()).rejects.toThrow(/-32601|not found/i);
    await traced.close();
    const traces = await jaeger.waitForTraces(service, (found) =>
      found.some((t) => t.traceID === traced.traceId && t.spans.filter((s) => s.operationName === 'prompts/list').length === 2),
    );
    const spans = traces.find((t) => t.traceID === traced.traceId)!.spans.filter((s) => s.operationName === 'prompts/list');
    const transparent = transport === 'streamable-http' && mode === 'streamable-http';
    for (const span of spans) {
      expect(tag(span, 'http.response.status_code')).toBe(mode === 'sse' ? 202 : 200);
      expect(tag(span, 'error.type')).toBe(transparent ? undefined : '-32601');
      expect(tag(span, 'rpc.response.status_code')).toBe(transparent ? undefined : '-32601');
      expect(tag(span, 'otel.status_code')).toBe(transparent ? undefined : 'ERROR');
    }
  });
});

// The other two OTLP protocols, each to its Jaeger receiver (HTTP/JSON: the same port as HTTP/protobuf).
describe.each(['grpc', 'http/json'] as const)('tracing over --otel-protocol %s', (protocol) => {
  it("delivers the server and upstream client spans, with their parent/child links, to Jaeger's receiver", async () => {
    jaeger = await (jaegerStarted ??= startJaeger());
    const service = `mcp-${protocol.replace('/', '-')}-${randomBytes(3).toString('hex')}`;
    // gRPC: host:port with --otel-insecure, plain gRPC (h2c) to the receiver on 4317's stand-in port.
    const endpoint = protocol === 'grpc' ? ['--otel-insecure', '--otel-endpoint', jaeger.otlpGrpc] : ['--otel-endpoint', jaeger.otlpHttp];
    const args = ['--transport', 'stdio', '--otel-protocol', protocol, ...endpoint, '--otel-sampling-rate', '1', '--otel-service-name', service];
    // The module log shows which exporter ran (Jaeger accepts protobuf and JSON alike on one port).
    const proxy = await startProxy(args, { command: [process.execPath, TRACE_ECHO], env: { NODE_OPTIONS: `--import=${MODULE_LOG}` } });
    try {
      const traced = await tracedClient(proxy.mcpUrl);
      const result = await traced.client.callTool({ name: 'trace-context', arguments: {} });
      const seen = JSON.parse((result.content as { text: string }[])[0]?.text ?? '{}') as { metaTraceparent: string | null };
      await traced.close();
      const traces = await jaeger.waitForTraces(service, (found) =>
        found.some((t) => t.traceID === traced.traceId && t.spans.filter((s) => s.operationName === 'tools/call trace-context').length === 2),
      );
      const calls = traces.find((t) => t.traceID === traced.traceId)!.spans.filter((s) => s.operationName === 'tools/call trace-context');
      const server = calls.find((s) => tag(s, 'span.kind') === 'server')!;
      const client = calls.find((s) => tag(s, 'span.kind') === 'client')!;
      expect(parentOf(server)).toBe(traced.parentSpanId);
      expect(parentOf(client)).toBe(server.spanID);
      expect(seen.metaTraceparent).toBe(`00-${traced.traceId}-${client.spanID}-01`);
      for (const span of [server, client]) {
        expect(tag(span, 'mcp.method.name')).toBe('tools/call');
        expect(tag(span, 'jsonrpc.request.id')).toMatch(/^\d+$/);
        expect(tag(span, 'http.response.status_code')).toBe(200);
      }
      expect(tag(server, 'gen_ai.tool.name')).toBe('trace-context');
      expect(tag(server, 'mcp.session.id')).toMatch(/^[0-9a-f]{32}$/);
      expect(tag(client, 'network.transport')).toBe('pipe');
      expect(tag(client, 'gen_ai.tool.name')).toBeUndefined();
      await eventually(async () => {
        const metrics = await scrape(proxy.metricsUrl);
        expect(metrics.value('mcpfleet_proxy_trace_spans_exported_total')).toBeGreaterThanOrEqual(2);
        expect(metrics.value('mcpfleet_proxy_trace_spans_dropped_total')).toBe(0);
      }, 10_000);
      const loaded = proxy.stderr();
      // The gRPC export plumbing is loaded for gRPC only (the OTLP/HTTP plumbing is loaded either way: the gRPC one reads its environment configuration from it).
      expect(loaded.includes('/@opentelemetry/otlp-grpc-exporter-base/')).toBe(protocol === 'grpc');
      expect(loaded.includes('/@opentelemetry/otlp-exporter-base/')).toBe(true);
    } finally {
      await proxy.stop();
    }
  });
});

describe('tracing off', () => {
  it('loads no OpenTelemetry module (and with tracing on, it does: the control)', async () => {
    const env = { NODE_OPTIONS: `--import=${MODULE_LOG}` };
    const off = await startProxy(['--transport', 'stdio'], { command: [process.execPath, TRACE_ECHO], env });
    const dead = await freePort(); // the control needs an endpoint, not a receiver
    const on = await startProxy(['--transport', 'stdio', '--otel-endpoint', `http://127.0.0.1:${dead}`, '--otel-service-name', 'mcp-module-control'], {
      command: [process.execPath, TRACE_ECHO],
      env,
    });
    try {
      for (const proxy of [off, on]) {
        const traced = await tracedClient(proxy.mcpUrl);
        await traced.client.callTool({ name: 'trace-context', arguments: {} });
        await traced.close();
      }
      // With tracing off nothing of OpenTelemetry is loaded, not even the API (prom-client's index
      // would require it for exemplars; common/promClient.ts does not load the index). With it
      // on, the SDK and the exporter base are.
      const sdkModules = (stderr: string): string[] =>
        stderr.split('\n').filter((line) => line.startsWith('otel-module-loaded ') && !line.includes('/@opentelemetry/api/'));
      expect(
        off
          .stderr()
          .split('\n')
          .filter((line) => line.startsWith('otel-module-loaded ')),
      ).toEqual([]);
      expect(sdkModules(on.stderr()).some((line) => line.includes('/@opentelemetry/sdk-trace/'))).toBe(true);
      expect(sdkModules(on.stderr()).some((line) => line.includes('/@opentelemetry/otlp-exporter-base/'))).toBe(true);
      expect((await scrape(off.metricsUrl)).has('mcpfleet_proxy_trace_spans_dropped_total')).toBe(false);
    } finally {
      await off.stop();
      await on.stop();
    }
  });
});

describe('an unreachable OTLP endpoint', () => {
  it('costs requests nothing; the spans are dropped and counted', async () => {
    const dead = await freePort(); // nothing listens there
    const proxy = await startProxy(
      ['--transport', 'stdio', '--otel-endpoint', `http://127.0.0.1:${dead}`, '--otel-sampling-rate', '1', '--otel-service-name', 'mcp-dead-endpoint'],
      { command: [process.execPath, TRACE_ECHO] },
    );
    try {
      const traced = await tracedClient(proxy.mcpUrl);
      for (let i = 0; i < 5; i++) {
        const result = await traced.client.callTool({ name: 'trace-context', arguments: {} });
        expect(result.isError).toBeFalsy();
      }
      await traced.close();
      await eventually(async () => {
        const metrics = await scrape(proxy.metricsUrl);
        expect(metrics.value('mcpfleet_proxy_trace_spans_dropped_total', { reason: 'export_failed' })).toBeGreaterThanOrEqual(10);
        expect(metrics.value('mcpfleet_proxy_trace_spans_exported_total')).toBe(0);
      }, 30_000);
    } finally {
      await proxy.stop();
    }
  });
});
