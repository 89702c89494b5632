// MCPTelemetryConfig (group mcpfleet.dev): where the proxies of the MCPServers that reference it
// (spec.telemetryConfigRef) send OpenTelemetry traces, with ToolHive's v1beta1 kind, field names
// and meaning (openTelemetry.{enabled, endpoint, insecure, headers, sensitiveHeaders,
// resourceAttributes, tracing, metrics, caBundleRef}, prometheus.enabled), so a ToolHive manifest
// migrates by changing apiVersion. Each MCPServer names its own service in the reference.
//
// What differs, and why: openTelemetry.metrics.enabled exports the proxy's Prometheus metrics
// over OTLP (same names; ToolHive's OTLP metric names differ); prometheus.enabled is accepted and changes
// nothing (the proxy always serves /metrics on its metrics port, which the chart scrapes);
// useLegacyAttributes is accepted and ignored (the proxy only ever emitted the MCP semantic
// conventions' names, there are no legacy ones).
import type { ObjectMeta } from '../../../../common/kube/kinds.ts';
import type { ConfigStatus } from '../configStatus.ts';
import type { CABundleSource, SecretKeyRef } from '../mcpoidcconfig/types.ts';

export const TELEMETRY_KIND = 'MCPTelemetryConfig';
export const TELEMETRY_PLURAL = 'mcptelemetryconfigs';
export const TELEMETRY_SINGULAR = 'mcptelemetryconfig';
export const TELEMETRY_SHORT_NAMES = ['mcpotel'] as const;

/** ToolHive's default sampling rate for tracing.samplingRate. */
export const DEFAULT_SAMPLING_RATE = '0.05';

export interface SensitiveHeader {
  name: string;
  secretKeyRef: SecretKeyRef;
}

export interface MCPTelemetryOTelConfig {
  enabled?: boolean;
  endpoint?: string;
  insecure?: boolean;
  headers?: Record<string, string>;
  sensitiveHeaders?: SensitiveHeader[];
  resourceAttributes?: Record<string, string>;
  metrics?: { enabled?: boolean };
  tracing?: { enabled?: boolean; samplingRate?: string };
  useLegacyAttributes?: boolean;
  caBundleRef?: CABundleSource;
}

export interface MCPTelemetryConfigSpec {
  openTelemetry?: MCPTelemetryOTelConfig;
  prometheus?: { enabled?: boolean };
}

export interface MCPTelemetryConfig {
  apiVersion: string;
  kind: typeof TELEMETRY_KIND;
  metadata: ObjectMeta;
  spec: MCPTelemetryConfigSpec;
  status?: ConfigStatus;
}
