// The MCPTelemetryConfig schema: ToolHive's shape, with the checks the apiserver can make (CEL:
// a header is either plain or sensitive, a CA bundle excludes insecure, an endpoint needs a
// signal) and the rest in the operator's validate (configs/telemetry.ts).
import type { AnySchema, FreeformSchema, ObjectSchema } from '../schemaTypes.ts';
import type { CrdKind } from '../crdKind.ts';
import { configPrinterColumns, configStatusSchema } from '../configStatus.ts';
import { caBundleRefSchema } from '../mcpoidcconfig/schema.ts';
import { DNS_SUBDOMAIN } from '../schema.ts';
import {
  DEFAULT_SAMPLING_RATE,
  TELEMETRY_KIND,
  TELEMETRY_PLURAL,
  TELEMETRY_SHORT_NAMES,
  TELEMETRY_SINGULAR,
  type MCPTelemetryConfigSpec,
  type MCPTelemetryOTelConfig,
} from './types.ts';

const HEADER_NAME = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

/**
 * A map of strings (additionalProperties, which CEL can index): the schema types model maps as
 * free-form objects, so this one is cast; the apiserver gets a typed map.
 */
function stringMap(description: string): FreeformSchema {
  return { type: 'object', description, additionalProperties: { type: 'string', maxLength: 4096 }, maxProperties: 64 } as unknown as FreeformSchema;
}

const openTelemetry: ObjectSchema<MCPTelemetryOTelConfig> = {
  type: 'object',
  description: 'Where and how the proxies export OpenTelemetry traces (OTLP).',
  properties: {
    enabled: { type: 'boolean', description: 'Export telemetry at all.', default: false },
    endpoint: {
      type: 'string',
      description: 'The OTLP/HTTP endpoint, host:port (https, or http with insecure) or a URL; /v1/traces is appended to a bare endpoint.',
      maxLength: 2048,
    },
    insecure: { type: 'boolean', description: 'Plain HTTP to an endpoint given as host:port.', default: false },
    headers: stringMap('Headers sent with every export (not secret: they appear in the proxy pod spec). Use sensitiveHeaders for credentials.'),
    sensitiveHeaders: {
      type: 'array',
      description: 'Headers whose values come from Secrets, as environment variables of the proxy (never in its arguments or in this object).',
      items: {
        type: 'object',
        description: 'One header and the Secret key holding its value.',
        required: { name: true, secretKeyRef: true },
        properties: {
          name: { type: 'string', description: 'The header name (e.g. Authorization).', pattern: HEADER_NAME, maxLength: 256 },
          secretKeyRef: {
            type: 'object',
            description: 'A Secret key in this namespace.',
            required: { name: true, key: true },
            properties: {
              name: { type: 'string', description: 'Name of the Secret.', pattern: DNS_SUBDOMAIN, maxLength: 253 },
              key: { type: 'string', description: 'The key holding the value.', pattern: '^[-._a-zA-Z0-9]+$', maxLength: 253 },
            },
          },
        },
      },
      maxItems: 16,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    },
    resourceAttributes: stringMap(
      'Resource attributes added to every span (e.g. deployment.environment.name); service.name is set per MCPServer in telemetryConfigRef.',
    ),
    metrics: {
      type: 'object',
      description: "OTLP metrics: the proxy's Prometheus metrics (same names and meaning) exported over OTLP/HTTP as well.",
      properties: { enabled: { type: 'boolean', description: 'Export the metrics over OTLP (every 60s, cumulative).', default: false } },
    },
    tracing: {
      type: 'object',
      description: 'OTLP traces: one server span per MCP request and one client span for its upstream call.',
      properties: {
        enabled: { type: 'boolean', description: 'Export traces.', default: false },
        samplingRate: {
          type: 'string',
          description: `Share of new traces sampled, 0..1 (a sampled parent from the client is always followed). Default ${DEFAULT_SAMPLING_RATE}.`,
          pattern: '^(0(\\.\\d+)?|1(\\.0+)?)$',
          default: DEFAULT_SAMPLING_RATE,
        },
      },
    },
    useLegacyAttributes: { type: 'boolean', description: 'Accepted for ToolHive compatibility and ignored: the proxy emits no legacy attribute names.' },
    caBundleRef: caBundleRefSchema('CA certificates (PEM) trusted for the endpoint, from a ConfigMap mounted into the proxy (in addition to the system CAs).'),
  },
  'x-kubernetes-validations': [
    {
      rule: '!has(self.headers) || !has(self.sensitiveHeaders) || self.sensitiveHeaders.all(sh, !(sh.name in self.headers))',
      message: 'a header name cannot appear in both headers and sensitiveHeaders',
    },
    {
      rule: '!has(self.caBundleRef) || !has(self.insecure) || !self.insecure',
      message: 'caBundleRef and insecure are mutually exclusive',
    },
    {
      rule: "!has(self.endpoint) || self.endpoint == '' || (has(self.tracing) && has(self.tracing.enabled) && self.tracing.enabled) || (has(self.metrics) && has(self.metrics.enabled) && self.metrics.enabled)",
      message: 'endpoint requires at least one of tracing or metrics to be enabled',
    },
  ],
};

export const telemetrySpecSchema: ObjectSchema<MCPTelemetryConfigSpec> = {
  type: 'object',
  description: 'Telemetry settings shared by the MCPServers that name this config in spec.telemetryConfigRef (each adds its own service name).',
  properties: {
    openTelemetry,
    prometheus: {
      type: 'object',
      description: 'Prometheus metrics. Accepted for ToolHive compatibility: the mcpfleet proxy always serves /metrics on its metrics port.',
      properties: { enabled: { type: 'boolean', description: 'Serve Prometheus metrics (always on in mcpfleet).', default: false } },
    },
  },
};

export const TELEMETRY_CRD: CrdKind = {
  kind: TELEMETRY_KIND,
  plural: TELEMETRY_PLURAL,
  singular: TELEMETRY_SINGULAR,
  shortNames: TELEMETRY_SHORT_NAMES,
  description:
    'MCPTelemetryConfig says where the mcpfleet proxies send OpenTelemetry traces of MCP requests. MCPServers in the same namespace use it ' +
    'through spec.telemetryConfigRef; a change rolls exactly their proxies.',
  spec: telemetrySpecSchema as unknown as AnySchema,
  status: configStatusSchema(TELEMETRY_KIND) as unknown as AnySchema,
  specRequired: false,
  printerColumns: configPrinterColumns([
    { name: 'Endpoint', type: 'string', jsonPath: '.spec.openTelemetry.endpoint', description: 'The OTLP endpoint.' },
    { name: 'Tracing', type: 'boolean', jsonPath: '.spec.openTelemetry.tracing.enabled', description: 'Traces exported.' },
  ]),
};
