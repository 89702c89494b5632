// Kubernetes objects as JSON, the built-in kinds the operator and the proxyrunner read and
// write, and their REST paths. Domain-free: the MCPServer kind is declared in
// operator/src/kinds.ts from the API types.

export interface KindInfo {
  kind: string;
  apiVersion: string;
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
}

export function kindInfo(kind: string, group: string, version: string, plural: string): KindInfo {
  return { kind, apiVersion: group === '' ? version : `${group}/${version}`, group, version, plural };
}

export const STATEFULSET = kindInfo('StatefulSet', 'apps', 'v1', 'statefulsets');
export const DEPLOYMENT = kindInfo('Deployment', 'apps', 'v1', 'deployments');
export const SERVICE = kindInfo('Service', '', 'v1', 'services');
export const CONFIGMAP = kindInfo('ConfigMap', '', 'v1', 'configmaps');
export const SERVICEACCOUNT = kindInfo('ServiceAccount', '', 'v1', 'serviceaccounts');
export const ROLE = kindInfo('Role', 'rbac.authorization.k8s.io', 'v1', 'roles');
export const ROLEBINDING = kindInfo('RoleBinding', 'rbac.authorization.k8s.io', 'v1', 'rolebindings');
export const POD = kindInfo('Pod', '', 'v1', 'pods');
export const LEASE = kindInfo('Lease', 'coordination.k8s.io', 'v1', 'leases');
export const ENDPOINTSLICE = kindInfo('EndpointSlice', 'discovery.k8s.io', 'v1', 'endpointslices');

/** /api/v1/namespaces/ns/pods or /apis/apps/v1/statefulsets (namespace undefined: all). */
export function collectionPath(k: KindInfo, namespace: string | undefined): string {
  const prefix = k.group === '' ? `/api/${k.version}` : `/apis/${k.group}/${k.version}`;
  return namespace === undefined ? `${prefix}/${k.plural}` : `${prefix}/namespaces/${encodeURIComponent(namespace)}/${k.plural}`;
}

export function objectPath(k: KindInfo, namespace: string, name: string): string {
  return `${collectionPath(k, namespace)}/${encodeURIComponent(name)}`;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** ObjectMeta as it arrives in JSON from the apiserver (timestamps are strings). */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: unknown[];
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

/** A namespaced object's identity: what a reconcile is asked to do (controller-runtime's reconcile.Request). */
export interface ObjectKey {
  namespace: string;
  name: string;
}

/** "namespace/name": an ObjectKey as a map key and in logs. */
export function keyString(key: ObjectKey): string {
  return keyOf(key.namespace, key.name);
}

export function keyOf(namespace: string | undefined, name: string): string {
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}
