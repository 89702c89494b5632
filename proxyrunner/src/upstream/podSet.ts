// Which pods a stdio proxy in attach mode should be attached to, from the pods the API lists
// (pure: no I/O; upstream/attachedPods.ts does the attaching). Each attached pod is one
// process: its own stdin/stdout, its own sessions.
// Rules:
//   - a pod is usable while it is Running, not terminating (no deletionTimestamp) and the
//     container runs (not waiting in a crash loop, not terminated);
//   - a pod is known by name AND uid: a pod re-created under the same name (a StatefulSet's
//     ordinal) is a new pod, so it never inherits the sessions of the old process;
//   - at most `max` pods (--attach-max-pods) are attached: the ones attached already stay
//     while usable (attaching to a newer pod must not end working sessions), free places go
//     to the newest usable pods (start time, then name, so every call agrees).
import type { KubeObject } from '../../../common/kube/kinds.ts';

/** The fields of a Pod that choosing one reads (JSON as the apiserver sends it). */
export interface PodView extends KubeObject {
  status?: {
    phase?: string;
    startTime?: string;
    containerStatuses?: { name: string; state?: { running?: unknown; waiting?: unknown; terminated?: unknown } }[];
  };
}

/** One pod to be attached to. */
export interface PodTarget {
  /** "name@uid" (name alone if the API gave no uid): what sessions are counted on. */
  key: string;
  /** The pod's name, for the attach URL. */
  name: string;
}

export function podKey(pod: PodView): string {
  const uid = pod.metadata.uid;
  return uid ? `${pod.metadata.name}@${uid}` : pod.metadata.name;
}

/** Running, not terminating, container running. */
export function usable(pod: PodView, container: string): boolean {
  if (pod.metadata.deletionTimestamp || pod.status?.phase !== 'Running') return false;
  return pod.status.containerStatuses?.find((c) => c.name === container)?.state?.running !== undefined;
}

const started = (pod: PodView): number => new Date(pod.status?.startTime ?? 0).getTime() || 0;

/** The usable pods, newest first (ties by name). */
export function usablePods(pods: Iterable<PodView>, container: string): PodView[] {
  return [...pods]
    .filter((pod) => usable(pod, container))
    .sort((a, b) => started(b) - started(a) || (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
}

/** The pods to be attached to now, given those attached (by key) and the cap. */
export function desiredAttaches(pods: Iterable<PodView>, container: string, attached: ReadonlySet<string>, max: number): PodTarget[] {
  const candidates = usablePods(pods, container).map((pod) => ({ key: podKey(pod), name: pod.metadata.name }));
  const kept = candidates.filter((t) => attached.has(t.key)).slice(0, max);
  const added = candidates.filter((t) => !attached.has(t.key)).slice(0, Math.max(0, max - kept.length));
  return [...kept, ...added];
}

/** What changes: attaches to open (new targets) and to close (keys no longer wanted). */
export function attachChanges(desired: readonly PodTarget[], attached: ReadonlySet<string>): { open: PodTarget[]; close: string[] } {
  const wanted = new Set(desired.map((t) => t.key));
  return { open: desired.filter((t) => !attached.has(t.key)), close: [...attached].filter((key) => !wanted.has(key)) };
}
