// prom-client, taken file by file instead of through its index. The index also loads what no
// process of ours uses: the Pushgateway (http, https, zlib, url), the cluster aggregator
// (cluster, child_process, dgram, dns) and, through the CPU-time default metric,
// @opentelemetry/api for exemplars (52 modules). A proxyrunner idled at 72.7 MiB RSS through the
// index and at 66.2 MiB through these files (same build, median of three starts).
//
// What it exports is prom-client's own classes (the same module objects the index hands out, so
// registries and metrics mix freely with code that imports the index) and collectDefaultMetrics
// with the same metrics, names, help texts and order as prom-client's: its own collectors for
// everything but process CPU time, whose three counters are defined here without the exemplar
// branch. promClient.test.ts holds this list to the index's, so a prom-client upgrade that adds,
// renames or moves a default metric or a file fails there instead of silently changing /metrics.
// Invariant, kept by the lint config: code under common/, proxyrunner/src and operator/src takes
// prom-client's values from here (type imports from 'prom-client' are fine).
import type * as Prom from 'prom-client';

const load = process.getBuiltinModule('node:module').createRequire(import.meta.url);

export const Registry = load('prom-client/lib/registry') as typeof Prom.Registry;
export type Registry = Prom.Registry;
export const Counter = load('prom-client/lib/counter') as typeof Prom.Counter;
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge = load('prom-client/lib/gauge') as typeof Prom.Gauge;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Histogram = load('prom-client/lib/histogram') as typeof Prom.Histogram;
export type Histogram<T extends string = string> = Prom.Histogram<T>;
/** A labelled child of a Counter / Histogram (prom-client's Counter.Internal, Histogram.Internal). */
export type CounterChild = Prom.Counter.Internal;
export type HistogramChild<T extends string = string> = Prom.Histogram.Internal<T>;

/** One of prom-client's default-metric collectors (lib/metrics/*.js): registers its metrics. */
type Collector = (registry: Registry, config: { eventLoopMonitoringPrecision: number }) => void;

/** prom-client's default collectors after process CPU time, in its defaultMetrics.js order. */
export const DEFAULT_COLLECTORS = [
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  'eventLoopLag',
  'processResources',
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
  'gc',
] as const;

/** prom-client's process_cpu_* counters: user, system and both, advanced at each scrape. */
function processCpuTotal(registry: Registry): void {
  let last = process.cpuUsage();
  const registers = [registry];
  const user = new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'Total user CPU time spent in seconds.',
    registers,
    // This counter's collect sets all three, as prom-client's does.
    collect() {
      const now = process.cpuUsage();
      const userMicros = now.user - last.user;
      const systemMicros = now.system - last.system;
      last = now;
      user.inc(userMicros / 1e6);
      system.inc(systemMicros / 1e6);
      total.inc((userMicros + systemMicros) / 1e6);
    },
  });
  const system = new Counter({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.', registers });
  const total = new Counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', registers });
}

/** prom-client's collectDefaultMetrics({ register }) without @opentelemetry/api. */
export function collectDefaultMetrics(registry: Registry): void {
  const config = { eventLoopMonitoringPrecision: 10 };
  processCpuTotal(registry);
  for (const name of DEFAULT_COLLECTORS) (load(`prom-client/lib/metrics/${name}`) as Collector)(registry, config);
}
