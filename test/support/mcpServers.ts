// MCPServer objects for tests and benchmarks: as a user writes them (manifest) and as the
// apiserver returns them (with uid, generation and the CRD's defaults filled in). In test/,
// not operator/src/, so it never ships in dist/; the unit tests next to the sources import it
// from here.
import { API_VERSION, DEFAULTS, KIND, type MCPServer, type MCPServerSpec } from '../../operator/src/api/types.ts';

export function manifest(name: string, spec: MCPServerSpec, namespace?: string): MCPServer {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, ...(namespace !== undefined && { namespace }) },
    spec,
  };
}

/** What the apiserver would hand the operator: defaults applied, uid and generation set. */
export function stored(name: string, spec: MCPServerSpec, namespace = 'team-a', generation = 1): MCPServer {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace, uid: `uid-${name}`, generation, resourceVersion: '100', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { ...DEFAULTS, ...spec },
  };
}

export const stdioSpec: MCPServerSpec = { image: 'example/mcp-stdio:1', transport: 'stdio', args: ['stdio'] };
export const httpSpec: MCPServerSpec = { image: 'example/mcp-http:1', transport: 'streamable-http', mcpPort: 3001, replicas: 2 };
export const sseSpec: MCPServerSpec = { image: 'example/mcp-sse:1', transport: 'sse', mcpPort: 3001, proxyMode: 'sse' };

/** The spec without replicas: the proxy Deployment is left to an autoscaler. */
export function withoutReplicas(spec: MCPServerSpec): MCPServerSpec {
  const copy = structuredClone(spec);
  delete copy.replicas;
  return copy;
}
