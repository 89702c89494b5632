// MCPTelemetryConfig as a config kind: an MCPServer's telemetryConfigRef plus the config become the
// proxy's --otel-* flags (common/contract/proxyrunner.ts), with what the pod needs for them:
//   - sensitiveHeaders: each value reaches the proxy as MCPFLEET_OTEL_HEADER_<i> from its Secret
//     (secretKeyRef; the operator never reads it, so it is in no arg, log or status), named by
//     --otel-headers-from-env;
//   - caBundleRef: the ConfigMap mounted read-only, named by --otel-ca-file;
//   - resource: service.name = telemetryConfigRef.serviceName or the MCPServer's name,
//     k8s.namespace.name, and k8s.pod.name from the downward API (POD_NAME).
// Every setting is in the pod template and the config's hash annotates it, so a change rolls
// exactly the proxies that use this config: the proxy reads its flags at start.
// openTelemetry.metrics.enabled adds --otel-metrics-enabled (the Prometheus metrics mirrored over
// OTLP); tracing.enabled false with metrics on gives --otel-tracing-enabled=false.
// Both off (or openTelemetry.enabled false, or no endpoint): no flag at all, and the proxy loads
// nothing of OpenTelemetry.
import type { V1EnvVarSource, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { kindInfo } from '../../../common/kube/kinds.ts';
import type { TelemetryOptions } from '../../../common/contract/proxyrunner.ts';
import { DEFAULT_CA_BUNDLE_KEY } from '../api/mcpoidcconfig/types.ts';
import { DEFAULT_SAMPLING_RATE, TELEMETRY_KIND, TELEMETRY_PLURAL, type MCPTelemetryConfigSpec } from '../api/mcptelemetryconfig/types.ts';
import { GROUP, VERSION, type MCPServer } from '../api/types.ts';
import type { ConfigKind, ConfigObject, ProxyContribution } from './configKind.ts';
import { configHash } from './resolve.ts';

/** The proxy pod template annotation that carries the MCPTelemetryConfig's hash. */
export const TELEMETRY_HASH_ANNOTATION = `${GROUP}/${TELEMETRY_PLURAL.replace(/s$/, '')}-hash`;
export const TELEMETRY_CA_PATH = '/etc/mcpfleet/otel-ca';
const CA_VOLUME = 'otel-ca-bundle';
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const SAMPLING_RATE = /^(0(\.\d+)?|1(\.0+)?)$/;

function stringMapProblems(field: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${field} must be a map of strings`];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => (typeof v === 'string' ? [] : [`${field}.${k} must be a string`]));
}

/** The CRD's CEL and patterns again (objects stored before them), and what CEL cannot see. */
export function validateTelemetrySpec(spec: MCPTelemetryConfigSpec): string[] {
  const otel = spec.openTelemetry;
  if (otel === undefined) return [];
  const problems = [
    ...stringMapProblems('openTelemetry.headers', otel.headers),
    ...stringMapProblems('openTelemetry.resourceAttributes', otel.resourceAttributes),
  ];
  for (const name of Object.keys(otel.headers ?? {})) if (!HEADER_NAME.test(name)) problems.push(`openTelemetry.headers: "${name}" is not a header name`);
  for (const [i, header] of (otel.sensitiveHeaders ?? []).entries()) {
    if (!HEADER_NAME.test(header.name ?? '')) problems.push(`openTelemetry.sensitiveHeaders[${i}].name is not a header name`);
    if (!header.secretKeyRef?.name || !header.secretKeyRef.key) problems.push(`openTelemetry.sensitiveHeaders[${i}].secretKeyRef needs name and key`);
    if (otel.headers !== undefined && header.name in otel.headers) problems.push(`header "${header.name}" appears in both headers and sensitiveHeaders`);
  }
  if (otel.endpoint) {
    if (!otel.tracing?.enabled && !otel.metrics?.enabled) problems.push('endpoint requires at least one of tracing or metrics to be enabled');
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(otel.endpoint) ? otel.endpoint : `http://${otel.endpoint}`;
    try {
      const protocol = new URL(url).protocol;
      if (protocol !== 'http:' && protocol !== 'https:') problems.push('openTelemetry.endpoint must be host:port or an http(s) URL');
    } catch {
      problems.push(`openTelemetry.endpoint "${otel.endpoint}" is neither host:port nor a URL`);
    }
  }
  const rate = otel.tracing?.samplingRate;
  if (rate !== undefined && !SAMPLING_RATE.test(rate)) problems.push(`openTelemetry.tracing.samplingRate "${rate}" is not a number from 0 to 1`);
  if (otel.caBundleRef !== undefined && otel.insecure) problems.push('openTelemetry.caBundleRef cannot be specified when insecure is true');
  return problems;
}

export function telemetryContribution(config: ConfigObject<MCPTelemetryConfigSpec>, mcp: MCPServer): ProxyContribution {
  const ref = mcp.spec.telemetryConfigRef;
  const otel = config.spec.openTelemetry;
  const tracingEnabled = otel?.tracing?.enabled === true;
  const metricsEnabled = otel?.metrics?.enabled === true;
  if (ref === undefined || otel === undefined || !otel.enabled || (!tracingEnabled && !metricsEnabled) || !otel.endpoint) return {};
  const volumes: V1Volume[] = [];
  const volumeMounts: V1VolumeMount[] = [];
  const ca = otel.caBundleRef?.configMapRef;
  if (ca !== undefined) {
    const key = ca.key ?? DEFAULT_CA_BUNDLE_KEY;
    volumes.push({ name: CA_VOLUME, configMap: { name: ca.name, items: [{ key, path: key }] } });
    volumeMounts.push({ name: CA_VOLUME, mountPath: TELEMETRY_CA_PATH, readOnly: true });
  }
  const telemetry: TelemetryOptions<V1EnvVarSource> = {
    endpoint: otel.endpoint,
    ...(otel.insecure && { insecure: true }),
    ...(otel.headers !== undefined && { headers: otel.headers }),
    ...(otel.sensitiveHeaders !== undefined && {
      sensitiveHeaders: otel.sensitiveHeaders.map((h) => ({
        name: h.name,
        valueFrom: { secretKeyRef: { name: h.secretKeyRef.name, key: h.secretKeyRef.key } },
      })),
    }),
    ...(ca !== undefined && { caFile: `${TELEMETRY_CA_PATH}/${ca.key ?? DEFAULT_CA_BUNDLE_KEY}` }),
    ...(!tracingEnabled && { tracingEnabled: false }),
    ...(metricsEnabled && { metricsEnabled: true }),
    ...(tracingEnabled && { samplingRate: otel.tracing?.samplingRate ?? DEFAULT_SAMPLING_RATE }),
    serviceName: ref.serviceName ?? mcp.metadata.name,
    resourceAttributes: { ...otel.resourceAttributes, ...(mcp.metadata.namespace !== undefined && { 'k8s.namespace.name': mcp.metadata.namespace }) },
    podName: { valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  };
  return { options: { telemetry }, volumes, volumeMounts, podAnnotations: { [TELEMETRY_HASH_ANNOTATION]: configHash(config) } };
}

export const TELEMETRY_CONFIG_KIND: ConfigKind<MCPTelemetryConfigSpec> = {
  info: kindInfo(TELEMETRY_KIND, GROUP, VERSION, TELEMETRY_PLURAL),
  refCondition: 'TelemetryConfigRefValidated',
  reasonPrefix: 'TelemetryConfigRef',
  refField: 'spec.telemetryConfigRef',
  refName: (spec) => spec.telemetryConfigRef?.name,
  validate: validateTelemetrySpec,
  contribute: telemetryContribution,
};
