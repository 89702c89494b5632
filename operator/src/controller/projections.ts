// What the caches keep of each object: everything the operator reads, nothing else.
// managedFields (often the largest part of an object) are never read; pods shrink to
// their identity and the status fields that status computation looks at.
import type { KubeObject } from '../../../common/kube/kinds.ts';
import { CONFIG_HASH_ANNOTATION } from '../builders/meta.ts';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export function stripMeta<T extends KubeObject>(obj: T): T {
  const metadata = { ...obj.metadata };
  delete metadata.managedFields;
  if (metadata.annotations?.[LAST_APPLIED] !== undefined) {
    const annotations = { ...metadata.annotations };
    delete annotations[LAST_APPLIED];
    metadata.annotations = annotations;
  }
  return { ...obj, metadata };
}

interface ConditionJson {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** A Deployment condition that says its rollout failed or is stuck. */
export function isDeploymentFailure(c: { type: string; status: string }): boolean {
  return (c.type === 'ReplicaFailure' && c.status === 'True') || (c.type === 'Progressing' && c.status === 'False');
}

/**
 * Owned objects as the operator reads them: metadata and spec for drift, and of the
 * controllers' status only a Deployment's failure conditions (if any), without timestamps. Their
 * status churns with every pod transition (replicas, observedGeneration, lastUpdateTime)
 * and readiness is judged from the pods, so dropping it keeps those updates from looking
 * like changes (see sameForOperator).
 */
export function slimChild(kind: string): <T extends KubeObject>(obj: T) => T {
  return <T extends KubeObject>(obj: T): T => {
    const stripped = stripMeta(obj) as T & { status?: { conditions?: ConditionJson[] } };
    if (stripped.status === undefined) return stripped;
    const { status, ...rest } = stripped;
    if (kind !== 'Deployment') return rest as T;
    const conditions = (status.conditions ?? [])
      .filter(isDeploymentFailure)
      .map((c) => ({ type: c.type, status: c.status, ...(c.reason && { reason: c.reason }), ...(c.message && { message: c.message }) }));
    return { ...rest, status: { conditions } } as unknown as T;
  };
}

/**
 * True when two versions of a (transformed) object differ only in resourceVersion: an
 * update the operator has nothing to do about. Runs for every update event, most of them pod
 * and controller status churn, so it compares in place (sameJson) rather than serialising both.
 */
export function sameForOperator(a: KubeObject, b: KubeObject): boolean {
  const withoutVersion = (o: KubeObject): KubeObject => ({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
  return sameJson(withoutVersion(a), withoutVersion(b));
}

/**
 * Equality of two JSON values as JSON.stringify sees them (a property whose value is undefined
 * is absent), whatever the order of their keys. About 3x faster than comparing two
 * JSON.stringify strings, and than util.isDeepStrictEqual, on a cached pod.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let keys = 0;
  for (const k in x) {
    if (x[k] === undefined) continue;
    keys++;
    if (!sameJson(x[k], y[k])) return false;
  }
  for (const k in y) if (y[k] !== undefined) keys--;
  return keys === 0;
}

interface PodJson extends KubeObject {
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: ContainerStatusJson[];
    initContainerStatuses?: ContainerStatusJson[];
  };
}

interface ContainerStatusJson {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string }; running?: unknown; terminated?: { reason?: string; exitCode?: number } };
}

function slimContainer(cs: ContainerStatusJson): ContainerStatusJson {
  const waiting = cs.state?.waiting;
  return {
    name: cs.name,
    ...(cs.ready !== undefined && { ready: cs.ready }),
    ...(cs.restartCount !== undefined && { restartCount: cs.restartCount }),
    ...(waiting !== undefined && {
      state: { waiting: { ...(waiting.reason && { reason: waiting.reason }), ...(waiting.message && { message: waiting.message }) } },
    }),
  };
}

export function slimPod<T extends KubeObject>(obj: T): T {
  const pod = obj as PodJson;
  const m = pod.metadata;
  const hash = m.annotations?.[CONFIG_HASH_ANNOTATION];
  const s = pod.status ?? {};
  const slim: PodJson = {
    apiVersion: pod.apiVersion ?? 'v1',
    kind: pod.kind ?? 'Pod',
    metadata: {
      name: m.name,
      ...(m.namespace !== undefined && { namespace: m.namespace }),
      ...(m.uid !== undefined && { uid: m.uid }),
      ...(m.resourceVersion !== undefined && { resourceVersion: m.resourceVersion }),
      ...(m.deletionTimestamp !== undefined && m.deletionTimestamp !== null && { deletionTimestamp: m.deletionTimestamp }),
      ...(m.labels !== undefined && { labels: m.labels }),
      ...(hash !== undefined && { annotations: { [CONFIG_HASH_ANNOTATION]: hash } }),
    },
    status: {
      ...(s.phase !== undefined && { phase: s.phase }),
      ...(s.reason !== undefined && { reason: s.reason }),
      ...(s.message !== undefined && { message: s.message }),
      conditions: (s.conditions ?? [])
        .filter((c) => c.type === 'Ready' || c.type === 'PodScheduled')
        .map((c) => ({ type: c.type, status: c.status, ...(c.reason && { reason: c.reason }), ...(c.message && { message: c.message }) })),
      ...(s.containerStatuses && { containerStatuses: s.containerStatuses.map(slimContainer) }),
      ...(s.initContainerStatuses && { initContainerStatuses: s.initContainerStatuses.map(slimContainer) }),
    },
  };
  return slim as unknown as T;
}
