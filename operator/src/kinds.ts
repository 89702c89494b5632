// The kinds the operator reads and writes, with their REST paths.
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type ObjectMeta } from './api/types.ts';

export interface KindInfo {
  kind: string;
  apiVersion: string;
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
}

function info(kind: string, group: string, version: string, plural: string): KindInfo {
  return { kind, apiVersion: group === '' ? version : `${group}/${version}`, group, version, plural };
}

export const MCPSERVER: KindInfo = info(KIND, GROUP, VERSION, PLURAL);
export const STATEFULSET = info('StatefulSet', 'apps', 'v1', 'statefulsets');
export const DEPLOYMENT = info('Deployment', 'apps', 'v1', 'deployments');
export const SERVICE = info('Service', '', 'v1', 'services');
export const SERVICEACCOUNT = info('ServiceAccount', '', 'v1', 'serviceaccounts');
export const ROLE = info('Role', 'rbac.authorization.k8s.io', 'v1', 'roles');
export const ROLEBINDING = info('RoleBinding', 'rbac.authorization.k8s.io', 'v1', 'rolebindings');
export const POD = info('Pod', '', 'v1', 'pods');
export const LEASE = info('Lease', 'coordination.k8s.io', 'v1', 'leases');

/** Every kind the operator creates for an MCPServer, in the order it applies them. */
export const CHILD_KINDS: readonly KindInfo[] = [SERVICEACCOUNT, ROLE, ROLEBINDING, SERVICE, STATEFULSET, DEPLOYMENT];

export function kindOf(apiVersion: string, kind: string): KindInfo | undefined {
  return [MCPSERVER, ...CHILD_KINDS, POD, LEASE].find((k) => k.apiVersion === apiVersion && k.kind === kind);
}

/** /api/v1/namespaces/ns/pods or /apis/apps/v1/statefulsets (namespace undefined: all). */
export function collectionPath(k: KindInfo, namespace: string | undefined): string {
  const prefix = k.group === '' ? `/api/${k.version}` : `/apis/${k.group}/${k.version}`;
  return namespace === undefined ? `${prefix}/${k.plural}` : `${prefix}/namespaces/${encodeURIComponent(namespace)}/${k.plural}`;
}

export function objectPath(k: KindInfo, namespace: string, name: string): string {
  return `${collectionPath(k, namespace)}/${encodeURIComponent(name)}`;
}

/** Any Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** A desired child: always namespaced, always with apiVersion and kind. */
export interface DesiredObject extends KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & { namespace: string };
}

export function keyOf(namespace: string | undefined, name: string): string {
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}

export const MCPSERVER_API_VERSION = API_VERSION;
