// Telemetry settings from the --otel-* flags (the table is in common/contract/proxyrunner.ts):
// pure parsing and checks, no OpenTelemetry import. Tracing is on only with an endpoint and
// --otel-tracing-enabled (ToolHive's rule); when it is off, `parseTelemetryConfig` returns
// undefined and nothing of the SDK is ever loaded (app.ts imports telemetry/tracing.ts lazily).
// OTLP metrics (--otel-metrics-enabled, off by default) are a separate switch with the same endpoint,
// headers, CA and resource: `parseMetricsExportConfig` (undefined when off; then
// telemetry/metricsExport.ts is never imported either).
// Secret header values never come through argv: --otel-headers-from-env names environment
// variables (the operator fills them from Secrets), read here once.
import { UsageError, type Flags } from '../../../common/cli/flags.ts';

export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';
export type SessionIdMode = 'hashed' | 'omitted';

export interface TelemetryConfig {
  /** Full URL of the export: http(s)://host:port/v1/traces for HTTP, http(s)://host:port for gRPC. */
  tracesUrl: URL;
  protocol: OtlpProtocol;
  /** Plain (non-secret and secret) headers merged; never logged. */
  headers: Record<string, string>;
  /** Names of the headers (for logs: values are never shown). */
  headerNames: string[];
  caFile: string | undefined;
  samplingRate: number;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sessionId: SessionIdMode;
}

export const DEFAULT_SERVICE_NAME = 'mcpfleet-proxyrunner';

export interface MetricsExportConfig {
  /** http(s)://host:port/v1/metrics (OTLP/HTTP with protobuf bodies). */
  metricsUrl: URL;
  headers: Record<string, string>;
  caFile: string | undefined;
  intervalMs: number;
  serviceName: string;
  resourceAttributes: Record<string, string>;
}

/** undefined: tracing off (no endpoint, or --otel-tracing-enabled=false). */
export function parseTelemetryConfig(flags: Flags, env: NodeJS.ProcessEnv): TelemetryConfig | undefined {
  if (!flags.bool('otel-tracing-enabled')) return undefined;
  return parseOtlpCommon(flags, env);
}

/** undefined: OTLP metrics off (no endpoint, or no --otel-metrics-enabled). */
export function parseMetricsExportConfig(flags: Flags, env: NodeJS.ProcessEnv): MetricsExportConfig | undefined {
  if (!flags.bool('otel-metrics-enabled')) return undefined;
  const common = parseOtlpCommon(flags, env);
  if (!common) return undefined;
  // OTLP/HTTP receivers accept protobuf and JSON bodies alike, so with http/json traces the
  // metrics still go as protobuf to the same endpoint; gRPC has no /v1/metrics to go to.
  if (common.protocol === 'grpc') throw new UsageError('--otel-metrics-enabled exports over OTLP/HTTP only (--otel-protocol grpc is for traces)');
  const intervalMs = flags.duration('otel-metrics-interval');
  if (intervalMs < 1_000) throw new UsageError('--otel-metrics-interval must be at least 1s');
  return {
    metricsUrl: metricsUrl(common.tracesUrl),
    headers: common.headers,
    caFile: common.caFile,
    intervalMs,
    serviceName: common.serviceName,
    resourceAttributes: common.resourceAttributes,
  };
}

/** The traces URL's /v1/traces (added to a bare endpoint, or given) becomes /v1/metrics; another path is kept. */
export function metricsUrl(traces: URL): URL {
  const url = new URL(traces.href);
  if (url.pathname.endsWith('/v1/traces')) url.pathname = `${url.pathname.slice(0, -'/v1/traces'.length)}/v1/metrics`;
  return url;
}

function parseOtlpCommon(flags: Flags, env: NodeJS.ProcessEnv): TelemetryConfig | undefined {
  const endpoint = flags.string('otel-endpoint');
  if (!endpoint) return undefined;
  const protocol = flags.string('otel-protocol') as OtlpProtocol;
  const insecure = flags.bool('otel-insecure');
  const headers = keyValues('otel-headers', flags.string('otel-headers'));
  for (const [name, variable] of Object.entries(keyValues('otel-headers-from-env', flags.string('otel-headers-from-env')))) {
    const value = env[variable];
    if (value === undefined || value === '') throw new UsageError(`--otel-headers-from-env: ${name} comes from $${variable}, which is not set`);
    headers[name] = value;
  }
  for (const name of Object.keys(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new UsageError(`--otel-headers: "${name}" is not a header name`);
  }
  const resourceAttributes = keyValues('otel-resource-attributes', flags.string('otel-resource-attributes'));
  if (env['POD_NAME']) resourceAttributes['k8s.pod.name'] ??= env['POD_NAME'];
  if (env['POD_NAMESPACE']) resourceAttributes['k8s.namespace.name'] ??= env['POD_NAMESPACE'];
  return {
    tracesUrl: tracesUrl(endpoint, protocol, insecure),
    protocol,
    headers,
    headerNames: Object.keys(headers),
    caFile: flags.string('otel-ca-file') || undefined,
    samplingRate: samplingRate(flags.string('otel-sampling-rate') as string),
    serviceName: flags.string('otel-service-name') || DEFAULT_SERVICE_NAME,
    resourceAttributes,
    sessionId: flags.string('otel-session-id') as SessionIdMode,
  };
}

/** host:port gets http:// with --otel-insecure, else https://; HTTP exports go to /v1/traces unless a path is given. */
export function tracesUrl(endpoint: string, protocol: OtlpProtocol, insecure: boolean): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `${insecure ? 'http' : 'https'}://${endpoint}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`--otel-endpoint "${endpoint}" is neither host:port nor a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--otel-endpoint must be http or https (got ${url.protocol})`);
  if (protocol !== 'grpc' && (url.pathname === '/' || url.pathname === '')) url.pathname = '/v1/traces';
  return url;
}

export function samplingRate(text: string): number {
  const rate = Number(text);
  if (text.trim() === '' || !Number.isFinite(rate) || rate < 0 || rate > 1)
    throw new UsageError(`--otel-sampling-rate must be a number from 0 to 1 (got "${text}")`);
  return rate;
}

/** "a=1,b=2" → {a: '1', b: '2'}; values may contain "=" (base64), keys may not be empty. */
export function keyValues(flag: string, text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const at = part.indexOf('=');
    const key = at === -1 ? '' : part.slice(0, at).trim();
    if (!key) throw new UsageError(`--${flag}: "${part}" is not key=value`);
    try {
      out[key] = decodeURIComponent(part.slice(at + 1).trim());
    } catch {
      throw new UsageError(`--${flag}: the value of "${key}" is not valid percent-encoding`);
    }
  }
  return out;
}

/** For the start-up log: where, how, and header names only. */
export function describeTelemetry(config: TelemetryConfig | undefined, metrics?: MetricsExportConfig): Record<string, unknown> {
  const otlpMetrics = metrics ? { otlpMetrics: metrics.metricsUrl.href, otlpMetricsIntervalMs: metrics.intervalMs } : {};
  if (!config) return { tracing: 'off', ...otlpMetrics };
  return {
    ...otlpMetrics,
    tracing: `${config.protocol} ${config.tracesUrl.href}`,
    tracingSamplingRate: config.samplingRate,
    tracingServiceName: config.serviceName,
    tracingHeaders: config.headerNames.length > 0 ? config.headerNames.join(',') : undefined,
  };
}
