// common/promClient.ts against prom-client's own index: the same classes, and the same default
// metrics (names, types, help texts, order) as the index's collectDefaultMetrics, so taking
// prom-client file by file changes nothing a scrape or a dashboard sees. A prom-client upgrade
// that adds, renames or moves a default metric fails here.
import { describe, expect, it } from '@jest/globals';
import * as index from 'prom-client';
import { Counter, DEFAULT_COLLECTORS, Gauge, Histogram, Registry, collectDefaultMetrics } from './promClient.ts';

type Described = { name: string; type: string; help: string };
const describeAll = async (registry: index.Registry): Promise<Described[]> =>
  (await registry.getMetricsAsJSON()).map(({ name, type, help }) => ({ name, type: String(type), help }));

describe('prom-client file by file', () => {
  it('hands out the index’s own classes', () => {
    expect(Registry).toBe(index.Registry);
    expect(Counter).toBe(index.Counter);
    expect(Gauge).toBe(index.Gauge);
    expect(Histogram).toBe(index.Histogram);
  });

  it('registers the same default metrics as the index, in the same order', async () => {
    const ours = new Registry();
    const theirs = new index.Registry();
    collectDefaultMetrics(ours);
    index.collectDefaultMetrics({ register: theirs });
    const described = await describeAll(ours);
    expect(described).toEqual(await describeAll(theirs));
    expect(described.length).toBeGreaterThan(DEFAULT_COLLECTORS.length);
    expect(index.collectDefaultMetrics.metricsList).toEqual(['processCpuTotal', ...DEFAULT_COLLECTORS]);
  });

  it('counts process CPU time as the index does: user + system = total, growing', async () => {
    const registry = new Registry();
    collectDefaultMetrics(registry);
    const read = async (): Promise<{ user: number; system: number; total: number }> => {
      const metrics = await registry.getMetricsAsJSON();
      const value = (name: string): number => metrics.find((m) => m.name === name)?.values[0]?.value ?? Number.NaN;
      return {
        user: value('process_cpu_user_seconds_total'),
        system: value('process_cpu_system_seconds_total'),
        total: value('process_cpu_seconds_total'),
      };
    };
    const first = await read();
    const until = process.cpuUsage().user + 50_000;
    while (process.cpuUsage().user < until); // burn 50 ms of user CPU
    const second = await read();
    expect(second.user - first.user).toBeGreaterThanOrEqual(0.05);
    for (const sample of [first, second]) expect(sample.user + sample.system).toBeCloseTo(sample.total, 9);
  });
});
