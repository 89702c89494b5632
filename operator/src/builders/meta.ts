// Names, labels, annotations and owner references shared by every child object.
import { API_VERSION, KIND, type MCPServer, type OwnerReference } from '../api/types.ts';

export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_PART_OF = 'app.kubernetes.io/part-of';

export const APP_NAME = 'mcpserver';
export const MANAGED_BY = 'mcpfleet-operator';
export const PART_OF = 'mcpfleet';

/** sha256 of the pod template (before this annotation is added): a config change rolls the pods. */
export const CONFIG_HASH_ANNOTATION = 'mcpfleet.dev/config-hash';
/** sha256 of the whole object the operator last applied: an unchanged spec writes nothing. */
export const APPLIED_HASH_ANNOTATION = 'mcpfleet.dev/applied-hash';

/** Selects everything the operator made (server-side label selector of its informers). */
export const MANAGED_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;

export type Component = 'backend' | 'proxy';

/** The MCP server container in the backend pod (the proxyrunner attaches to it for stdio). */
export const BACKEND_CONTAINER = 'mcp';
export const PROXY_CONTAINER = 'proxyrunner';

export interface ChildNames {
  /** StatefulSet running the MCP server (pod <backend>-0) and, for HTTP transports, its Service. */
  backend: string;
  /** Deployment and Service of the proxyrunner; also its ServiceAccount, Role and RoleBinding (stdio). */
  proxy: string;
}

export function childNames(serverName: string): ChildNames {
  return { backend: `mcp-${serverName}`, proxy: `mcp-${serverName}-proxy` };
}

/** Immutable selector labels (never change them: Deployment/StatefulSet selectors are immutable). */
export function selectorLabels(serverName: string, component: Component): Record<string, string> {
  return { [LABEL_COMPONENT]: component, [LABEL_INSTANCE]: serverName, [LABEL_NAME]: APP_NAME };
}

export function labels(serverName: string, component: Component): Record<string, string> {
  return { ...selectorLabels(serverName, component), [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_PART_OF]: PART_OF };
}

/** k=v,k=v (sorted), as a label selector string. */
export function selectorString(selector: Record<string, string>): string {
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k]}`)
    .join(',');
}

export function ownerReference(mcp: MCPServer): OwnerReference {
  if (mcp.metadata.uid === undefined) throw new Error(`MCPServer ${mcp.metadata.name} has no uid`);
  return { apiVersion: API_VERSION, kind: KIND, name: mcp.metadata.name, uid: mcp.metadata.uid, controller: true, blockOwnerDeletion: true };
}

export function namespaceOf(mcp: MCPServer): string {
  const ns = mcp.metadata.namespace;
  if (ns === undefined || ns === '') throw new Error(`MCPServer ${mcp.metadata.name} has no namespace`);
  return ns;
}

/** The in-cluster URL clients use: the proxy Service, /mcp or /sse by proxyMode. */
export function serverUrl(mcp: MCPServer, proxyPort: number, proxyMode: string): string {
  const path = proxyMode === 'sse' ? '/sse' : '/mcp';
  return `http://${childNames(mcp.metadata.name).proxy}.${namespaceOf(mcp)}.svc.cluster.local:${proxyPort}${path}`;
}
