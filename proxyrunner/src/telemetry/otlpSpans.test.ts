// The span encoders against the SDK's own serializers, on real SDK spans: the protobuf body must
// equal ProtobufTraceSerializer's byte for byte, the JSON body JsonTraceSerializer's once parsed.
// The spans cover what the encoders branch on: every attribute type (64-bit and negative
// integers, doubles, arrays, byte arrays), remote and local parents, trace state, events, links,
// status messages, multi-byte text, and start times over the whole range of seconds.
import { describe, expect, it } from '@jest/globals';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type HrTime } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, TracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { PooledIdGenerator } from './ids.ts';
import { sharedAttributes, spanBatchEncoder, type SpanSource } from './otlpSpans.ts';
import { SpanRecorder, type RecordedSpan } from './recorder.ts';

function endedSpans(): { spans: ReadableSpan[]; source: SpanSource } {
  const ended: ReadableSpan[] = [];
  const collect: SpanProcessor = { onStart: () => {}, onEnd: (span) => void ended.push(span), forceFlush: async () => {}, shutdown: async () => {} };
  const resource = resourceFromAttributes({ 'service.name': 'mcp-fetch', 'k8s.namespace.name': 'tools', 'process.pid': 4242, 'weird key ü': 'värde ✓' });
  const provider = new TracerProvider({ resource, spanProcessors: [collect] });
  const scope = { name: 'mcpfleet-proxyrunner', version: '1.2.3' };
  const tracer = provider.getTracer(scope.name, scope.version);
  const remote = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('vendor=opaque,other=1'),
  });
  const server = tracer.startSpan('tools/call fetch', { kind: SpanKind.SERVER, startTime: [1_764_000_000, 999_999_999] }, remote);
  server.setAttributes({
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': 'fetch',
    'jsonrpc.request.id': '7',
    'client.port': 51_234,
    'big.int': 2 ** 40 + 3,
    'negative.int': -17,
    'min.int': -(2 ** 62),
    'a.double': 0.25,
    'a.bool': false,
    strings: ['a', 'ß', ''],
    numbers: [1, 2.5, -3],
    'long.text': 'x'.repeat(300),
  });
  server.addEvent('retry', { attempt: 2, reason: 'upstream_closed' }, [1_764_000_001, 5]);
  const client = tracer.startSpan(
    'tools/call fetch',
    { kind: SpanKind.CLIENT, links: [{ context: server.spanContext(), attributes: { why: 'replay' } }], startTime: [1_764_000_001, 0] },
    trace.setSpan(ROOT_CONTEXT, server),
  );
  client.setAttribute('server.address', '10.0.0.7').setAttribute('bytes', new Uint8Array([0, 1, 255]));
  client.setStatus({ code: SpanStatusCode.ERROR, message: 'Unknown tool: fetch — ✗' });
  client.end([1_764_000_001, 250_000_000]);
  server.setStatus({ code: SpanStatusCode.OK });
  server.end([1_764_000_002, 1]);
  // Times across the range the arithmetic splits: 0, below and above 2^16 and 2^32 seconds.
  const times: HrTime[] = [
    [0, 0],
    [65_535, 999_999_999],
    [65_536, 0],
    [4_294_967_295, 999_999_999],
    [9_999_999_999, 123_456_789],
  ];
  for (let i = 0; i < 40; i++) times.push([Math.floor(Math.random() * 2 ** 33), Math.floor(Math.random() * 1e9)]);
  for (const [i, start] of times.entries()) {
    const span = tracer.startSpan(`internal ${i}`, { startTime: start });
    span.end([start[0] + 1, start[1]]);
  }
  return { spans: ended, source: { resource, scope } };
}

describe('OTLP span encoding', () => {
  it('writes the protobuf body the SDK serializer writes, byte for byte, span by span', () => {
    const { spans, source } = endedSpans();
    const encoder = spanBatchEncoder('protobuf', source);
    for (const span of spans) expect(encoder.add(span)).toBeGreaterThan(0);
    expect(encoder.count).toBe(spans.length);
    const ours = Buffer.from(encoder.take());
    expect(ours.equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!))).toBe(true);
    // take() starts the next batch empty, and it encodes the same way.
    expect(encoder.count).toBe(0);
    expect(encoder.byteLength).toBe(0);
    encoder.add(spans[0]!);
    expect(Buffer.from(encoder.take()).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest([spans[0]!])!))).toBe(true);
  });

  it('grows past its first buffer without losing a byte', () => {
    const { spans, source } = endedSpans();
    const many = Array.from({ length: 600 }, (_, i) => spans[i % spans.length]!);
    const encoder = spanBatchEncoder('protobuf', source);
    for (const span of many) encoder.add(span);
    expect(Buffer.from(encoder.take()).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(many)!))).toBe(true);
  });

  it('writes the JSON body the SDK serializer writes', () => {
    const { spans, source } = endedSpans();
    const encoder = spanBatchEncoder('json', source);
    for (const span of spans) encoder.add(span);
    const body = encoder.take();
    const theirs = JsonTraceSerializer.serializeRequest(spans)!;
    expect(JSON.parse(Buffer.from(body).toString())).toEqual(JSON.parse(Buffer.from(theirs).toString()));
  });

  it('counts the bytes it holds', () => {
    const { spans, source } = endedSpans();
    for (const encoding of ['protobuf', 'json'] as const) {
      const encoder = spanBatchEncoder(encoding, source);
      let sum = 0;
      for (const span of spans) sum += encoder.add(span);
      expect(encoder.byteLength).toBe(sum);
      expect(encoder.take().length).toBeGreaterThanOrEqual(sum - 1);
    }
  });

  it("writes the proxy's own spans, shared attributes included, as the SDK writes the same span with all its attributes", () => {
    const { source } = endedSpans();
    const ended: RecordedSpan[] = [];
    const recorder = new SpanRecorder(new AlwaysOnSampler(), new PooledIdGenerator(), { attributeCountLimit: 32, attributeValueLengthLimit: 1024 }, (span) =>
      ended.push(span),
    );
    const remote = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
      isRemote: true,
    });
    const shared = sharedAttributes({ 'network.transport': 'tcp', 'server.port': 8080 });
    const server = recorder.startServer('tools/call echo', remote);
    const client = recorder.startChild('tools/call echo', SpanKind.CLIENT, server, shared);
    client.setAttributes({ 'mcp.method.name': 'tools/call', 'jsonrpc.request.id': '3', 'network.transport': 'ignored: shared' });
    client.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    client.end();
    server.setAttribute('http.response.status_code', 200);
    server.end();
    expect(ended).toEqual([client, server]);
    const asSdk = ended.map(
      (span) =>
        ({
          name: span.name,
          kind: span.kind,
          spanContext: () => span.spanContext(),
          parentSpanContext: span.parentSpanContext,
          startTime: span.startTime,
          endTime: span.endTime,
          attributes: { ...span.attributes, ...span.sharedAttributes?.attributes },
          droppedAttributesCount: span.droppedAttributesCount,
          events: span.events,
          droppedEventsCount: 0,
          links: span.links,
          droppedLinksCount: 0,
          status: span.status,
          resource: source.resource,
          instrumentationScope: source.scope,
          duration: [0, 0],
          ended: true,
        }) as unknown as ReadableSpan,
    );
    const encoder = spanBatchEncoder('protobuf', source);
    for (const span of ended) encoder.add(span);
    expect(Buffer.from(encoder.take()).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(asSdk)!))).toBe(true);
    const json = spanBatchEncoder('json', source);
    for (const span of ended) json.add(span);
    expect(JSON.parse(Buffer.from(json.take()).toString())).toEqual(JSON.parse(Buffer.from(JsonTraceSerializer.serializeRequest(asSdk)!).toString()));
    expect(client.attributes['network.transport']).toBeUndefined();
    expect(client.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(server.parentSpanContext).toMatchObject({ spanId: 'b7ad6b7169203331', isRemote: true });
  });
});
