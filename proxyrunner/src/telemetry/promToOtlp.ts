// Pure mapping of prom-client's registry snapshot (`registry.getMetricsAsJSON()`) to OTLP metric
// data, so the OTLP metrics are the Prometheus ones: same names (counters keep `_total`), same
// help text, same labels as attributes, same values. Counters become monotonic cumulative sums,
// gauges gauges, histograms cumulative explicit-bucket histograms (prom-client's cumulative `le`
// buckets turned into per-bucket counts, +Inf implicit). Summaries have no OTLP equivalent in the
// SDK and are left out (the proxy defines none). Cumulative since `startTime` (the process start):
// every export carries the whole state, so a lost export loses nothing.
import type { HrTime } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';
import { ValueType } from '@opentelemetry/api';

type Labels = Partial<Record<string, string | number>>;
/** One metric of `registry.getMetricsAsJSON()` (histogram values carry metricName `_bucket`/`_sum`/`_count`). */
export interface PromMetric {
  name: string;
  help: string;
  type: string;
  values: { value: number; labels: Labels; metricName?: string }[];
}

const attributesOf = (labels: Labels | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(labels ?? {}).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])));

/** A stable key of a label set (sorted), to group a histogram's _bucket/_sum/_count series. */
const seriesKey = (labels: Record<string, string>): string => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export function promToOtlp(metrics: readonly PromMetric[], startTime: HrTime, endTime: HrTime): MetricData[] {
  const out: MetricData[] = [];
  for (const metric of metrics) {
    const descriptor = { name: metric.name, description: metric.help, unit: '', valueType: ValueType.DOUBLE };
    const point = <T>(labels: Labels | undefined, value: T): DataPoint<T> => ({ startTime, endTime, attributes: attributesOf(labels), value });
    switch (metric.type) {
      case 'counter':
        out.push({
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints: metric.values.map((v) => point(v.labels, v.value)),
        });
        break;
      case 'gauge':
        out.push({
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.GAUGE,
          dataPoints: metric.values.map((v) => point(v.labels, v.value)),
        });
        break;
      case 'histogram':
        out.push({
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: histogramPoints(metric).map(([labels, value]) => point(labels, value)),
        });
        break;
      default: // summary: no OTLP data point type in the SDK
        break;
    }
  }
  return out;
}

function histogramPoints(metric: PromMetric): [Record<string, string>, Histogram][] {
  const series = new Map<string, { labels: Record<string, string>; le: [number, number][]; sum: number; count: number }>();
  for (const v of metric.values) {
    const { le, ...rest } = attributesOf(v.labels);
    const key = seriesKey(rest);
    let s = series.get(key);
    if (!s) series.set(key, (s = { labels: rest, le: [], sum: 0, count: 0 }));
    const name = v.metricName;
    if (name === `${metric.name}_bucket` && le !== undefined) s.le.push([le === '+Inf' ? Infinity : Number(le), v.value]);
    else if (name === `${metric.name}_sum`) s.sum = v.value;
    else if (name === `${metric.name}_count`) s.count = v.value;
  }
  return [...series.values()].map((s) => {
    const sorted = s.le.sort(([a], [b]) => a - b);
    const boundaries = sorted.filter(([bound]) => bound !== Infinity).map(([bound]) => bound);
    // Cumulative counts (≤ le) to per-bucket counts; the last bucket is (last boundary, +Inf].
    const counts: number[] = [];
    let below = 0;
    for (const [, cumulative] of sorted.filter(([bound]) => bound !== Infinity)) {
      counts.push(cumulative - below);
      below = cumulative;
    }
    counts.push(s.count - below);
    return [s.labels, { buckets: { boundaries, counts }, sum: s.sum, count: s.count }];
  });
}
