// OTLP metrics mirroring the Prometheus ones, for users without Prometheus. Loaded only with
// --otel-metrics-enabled and --otel-endpoint (app.ts imports it lazily: with it off, nothing of
// the metrics SDK is in the process). No call site is instrumented twice: a MetricProducer reads
// prom-client's registry at each export (promToOtlp.ts maps it), so the OTLP metrics have the
// Prometheus names, help, labels and values by construction. A PeriodicExportingMetricReader
// exports every --otel-metrics-interval over OTLP/HTTP (protobuf), cumulative.
// Invariants: an export never blocks or fails a request (it runs on a timer, off the request
// path; the exporter's own timeout bounds it); every export's outcome is counted
// (`mcpfleet_proxy_otlp_metric_exports_total{result}`), failures logged at most once a minute;
// shutdown makes one last export within the time it is given, and never throws.
import { fs } from '../../../common/builtins.ts';
import tls from 'node:tls';
import { ExportResultCode, millisToHrTime, type ExportResult } from '@opentelemetry/core';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type CollectionResult,
  type MetricProducer,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { Counter, type Registry } from '../../../common/promClient.ts';
import type { Logger } from '../../../common/log.ts';
import { VERSION } from '../version.ts';
import type { MetricsExportConfig } from './config.ts';
import { proxyResource } from './resource.ts';
import { promToOtlp, type PromMetric } from './promToOtlp.ts';

export interface MetricsExport {
  /** One last export, then stop; resolves within `timeoutMs` whatever the endpoint does. */
  shutdown(timeoutMs: number): Promise<void>;
}

export interface MetricsExportDeps {
  registry: Registry;
  log: Logger;
  /** Tests only: replaces the OTLP/HTTP exporter. */
  exporter?: PushMetricExporter;
}

const RESULTS = ['success', 'failed'] as const;

export async function startMetricsExport(config: MetricsExportConfig, deps: MetricsExportDeps): Promise<MetricsExport> {
  const exports = new Counter({
    name: 'mcpfleet_proxy_otlp_metric_exports_total',
    help: 'OTLP metric exports by result (success, failed: the endpoint refused it, was unreachable or timed out).',
    labelNames: ['result'],
    registers: [deps.registry],
  });
  for (const result of RESULTS) exports.inc({ result }, 0);

  let lastFailureLog = 0;
  const exporter = new CountingExporter(deps.exporter ?? (await createExporter(config)), (result) => {
    if (result.code === ExportResultCode.SUCCESS) {
      exports.inc({ result: 'success' });
      return;
    }
    exports.inc({ result: 'failed' });
    const now = Date.now();
    if (now - lastFailureLog > 60_000) {
      lastFailureLog = now;
      deps.log.warn('OTLP metric export failed (counted; logged at most once a minute)', { err: result.error });
    }
  });
  const resource = proxyResource(config);
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: config.intervalMs,
    exportTimeoutMillis: Math.min(10_000, config.intervalMs),
    metricProducers: [new PromRegistryProducer(deps.registry, resource)],
  });
  // The provider carries the resource; it has no instruments of its own.
  const provider = new MeterProvider({ resource, readers: [reader] });

  return {
    async shutdown(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs).unref()));
      const done = provider.shutdown({ timeoutMillis: timeoutMs }).catch((err: unknown) => {
        deps.log.warn('OTLP metrics: last export at shutdown failed', { err });
      });
      await Promise.race([done, late]);
      clearTimeout(timer);
    },
  };
}

/** The prom-client registry as a source of OTLP metric data, cumulative since the process start. */
class PromRegistryProducer implements MetricProducer {
  #registry: Registry;
  #resource: ResourceMetrics['resource'];
  #startTime = millisToHrTime(performance.timeOrigin);

  constructor(registry: Registry, resource: ResourceMetrics['resource']) {
    this.#registry = registry;
    this.#resource = resource;
  }

  async collect(): Promise<CollectionResult> {
    const snapshot = (await this.#registry.getMetricsAsJSON()) as unknown as PromMetric[];
    const metrics = promToOtlp(snapshot, this.#startTime, millisToHrTime(Date.now()));
    return {
      resourceMetrics: { resource: this.#resource, scopeMetrics: [{ scope: { name: 'mcpfleet-proxyrunner', version: VERSION }, metrics }] },
      errors: [],
    };
  }
}

async function createExporter(config: MetricsExportConfig): Promise<PushMetricExporter> {
  const ca = config.caFile ? fs.readFileSync(config.caFile, 'utf8') : undefined;
  const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-proto');
  return new OTLPMetricExporter({
    url: config.metricsUrl.href,
    headers: config.headers,
    timeoutMillis: Math.min(10_000, config.intervalMs),
    httpAgentOptions: { keepAlive: true, ...(ca ? { ca: [...tls.rootCertificates, ca] } : {}) },
  });
}

/** Reports every export's outcome, once, whatever the inner exporter does. */
class CountingExporter implements PushMetricExporter {
  #inner: PushMetricExporter;
  #report: (result: ExportResult) => void;

  constructor(inner: PushMetricExporter, report: (result: ExportResult) => void) {
    this.#inner = inner;
    this.#report = report;
  }

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    let answered = false;
    const finish = (result: ExportResult): void => {
      if (answered) return;
      answered = true;
      this.#report(result);
      done(result);
    };
    try {
      this.#inner.export(metrics, finish);
    } catch (err) {
      finish({ code: ExportResultCode.FAILED, error: err as Error });
    }
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }
}
