// The recorder on its own: the sampler's decision (an unsampled span records nothing but still
// carries a context to propagate) and the attribute limits.
import { describe, expect, it } from '@jest/globals';
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { AlwaysOnSampler } from '@opentelemetry/sdk-trace';
import { PooledIdGenerator } from './ids.ts';
import { SpanRecorder, type RecordedSpan } from './recorder.ts';

describe('span recorder', () => {
  it('records sampled spans only; an unsampled one still carries a context to propagate', () => {
    const ended: RecordedSpan[] = [];
    const never = new SpanRecorder(
      { shouldSample: () => ({ decision: 0 }), toString: () => 'never' },
      new PooledIdGenerator(),
      { attributeCountLimit: 32, attributeValueLengthLimit: 1024 },
      (s) => ended.push(s),
    );
    const server = never.startServer('x', ROOT_CONTEXT);
    const client = never.startChild('x', SpanKind.CLIENT, server);
    expect(server.recording).toBe(false);
    expect(client.spanContext()).toMatchObject({ traceId: server.spanContext().traceId, traceFlags: 0 });
    expect(client.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
    client.setAttribute('a', 'b').end();
    server.end();
    expect(ended).toEqual([]);
    expect(client.attributes).toEqual({});
  });

  it('applies the attribute limits: a count, and a length for text', () => {
    const tight = new SpanRecorder(new AlwaysOnSampler(), new PooledIdGenerator(), { attributeCountLimit: 2, attributeValueLengthLimit: 4 }, () => {});
    const s = tight.startServer('x', ROOT_CONTEXT);
    s.setAttributes({ a: 'abcdefgh', b: 1, c: true });
    s.setAttribute('a', 'z');
    expect(s.attributes).toEqual({ a: 'z', b: 1 });
    expect(s.droppedAttributesCount).toBe(1);
    s.end();
    s.setAttribute('b', 2).setStatus({ code: 2 });
    expect(s.attributes['b']).toBe(1);
    expect(s.status.code).toBe(0);
    expect(s.endTime[0]).toBeGreaterThanOrEqual(s.startTime[0]);
  });
});
