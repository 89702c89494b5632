// The prom-client → OTLP mapping on a real prom-client registry: kinds, names, attributes, and
// histogram buckets turned from cumulative (le) into per-bucket counts with +Inf implicit.
import { describe, expect, it } from '@jest/globals';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { Counter, Gauge, Histogram as PromHistogram, Registry, Summary } from 'prom-client';
import { promToOtlp, type PromMetric } from './promToOtlp.ts';

const T0: [number, number] = [1, 0];
const T1: [number, number] = [2, 0];

describe('promToOtlp', () => {
  it('maps counters to monotonic sums, gauges to gauges, histograms to per-bucket counts; skips summaries', async () => {
    const registry = new Registry();
    new Counter({ name: 'c_total', help: 'a counter', labelNames: ['reason'], registers: [registry] }).inc({ reason: 'x' }, 3);
    new Gauge({ name: 'g', help: 'a gauge', registers: [registry] }).set(7);
    const h = new PromHistogram({ name: 'h_seconds', help: 'a histogram', labelNames: ['m'], buckets: [1, 5], registers: [registry] });
    for (const v of [0.5, 2, 3, 9]) h.observe({ m: 'a' }, v);
    h.observe({ m: 'b' }, 4);
    new Summary({ name: 's', help: 'a summary', registers: [registry] }).observe(1);

    const out = promToOtlp((await registry.getMetricsAsJSON()) as unknown as PromMetric[], T0, T1);
    expect(out.map((m) => [m.descriptor.name, m.dataPointType])).toEqual([
      ['c_total', DataPointType.SUM],
      ['g', DataPointType.GAUGE],
      ['h_seconds', DataPointType.HISTOGRAM],
    ]);
    const [c, g, hist] = out;
    expect(c).toMatchObject({ isMonotonic: true, descriptor: { description: 'a counter' } });
    expect(c?.dataPoints).toEqual([{ startTime: T0, endTime: T1, attributes: { reason: 'x' }, value: 3 }]);
    expect(g?.dataPoints[0]?.value).toBe(7);
    const byLabel = new Map<unknown, unknown>((hist?.dataPoints ?? []).map((p) => [p.attributes['m'], p.value]));
    expect(byLabel.get('a')).toEqual({ buckets: { boundaries: [1, 5], counts: [1, 2, 1] }, sum: 14.5, count: 4 });
    expect(byLabel.get('b')).toEqual({ buckets: { boundaries: [1, 5], counts: [0, 1, 0] }, sum: 4, count: 1 });
  });
});
