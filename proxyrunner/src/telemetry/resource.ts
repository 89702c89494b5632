// The OpenTelemetry resource the proxy's traces and OTLP metrics share: the SDK's defaults
// (telemetry.sdk.*), the MCPServer as service.name, this build as service.version, and the
// configured attributes (k8s.pod.name, k8s.namespace.name, --otel-resource-attributes).
// Imported only by the telemetry modules, which load only when telemetry is configured.
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { VERSION } from '../version.ts';
import type { TelemetryConfig } from './config.ts';

export function proxyResource(config: Pick<TelemetryConfig, 'serviceName' | 'resourceAttributes'>): Resource {
  return defaultResource().merge(
    resourceFromAttributes({
      'service.name': config.serviceName,
      'service.version': VERSION,
      'telemetry.distro.name': 'mcpfleet',
      ...config.resourceAttributes,
    }),
  );
}
