// MCPServer status as a pure function of what is observed: the owned objects in the cache,
// the pods behind them (terminating pods excluded), and the errors of the last apply.
// It never reports Ready while a desired child is missing or not yet rolled out.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { resolveSpec, type Condition, type ConditionStatus, type MCPServer, type MCPServerStatus, type Phase } from '../api/types.ts';
import { CONFIG_HASH_ANNOTATION, serverUrl } from '../builders/meta.ts';
import type { DesiredObject, KubeObject } from '../../../common/kube/kinds.ts';
import { isDeploymentFailure } from './projections.ts';
import type { RefVerdict } from '../configs/resolve.ts';

/** A pod as the cache keeps it (see projections.ts): JSON, timestamps as strings. */
export type PodView = Omit<V1Pod, 'metadata'> & { metadata: KubeObject['metadata'] };

type DeploymentView = Omit<V1Deployment, 'metadata'> & { metadata: KubeObject['metadata'] };

export interface ApplyError {
  /** "StatefulSet mcp-x" */
  object: string;
  /** The apiserver's reason (Forbidden, Invalid, Conflict, ...) or a transport error class. */
  reason: string;
  message: string;
}

export interface Observation {
  mcp: MCPServer;
  /** What the builders want to exist. */
  desired: readonly DesiredObject[];
  /** The observed counterpart of each desired object (undefined: missing). */
  observed: (desired: DesiredObject) => KubeObject | undefined;
  backendPods: readonly PodView[];
  proxyPods: readonly PodView[];
  applyErrors: readonly ApplyError[];
  /** One verdict per config the MCPServer references (configs/resolve.ts); none: no references. */
  refs?: readonly RefVerdict[];
  /** RFC 3339, for lastTransitionTime of conditions that change now. */
  now: string;
}

export const CONDITION_TYPES = ['Ready', 'Available', 'ChildrenApplied', 'BackendHealthy', 'ProxyHealthy'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

/** Container waiting reasons that mean the pod will not come up by itself. */
const FAILING_REASONS = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'ErrImageNeverPull',
]);

export function isTerminating(pod: PodView): boolean {
  return pod.metadata.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null;
}

export function isPodReady(pod: PodView): boolean {
  return pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function podHash(pod: PodView): string | undefined {
  return pod.metadata.annotations?.[CONFIG_HASH_ANNOTATION];
}

function templateHash(obj: DesiredObject | undefined): string | undefined {
  const spec = obj?.['spec'] as { template?: { metadata?: { annotations?: Record<string, string> } } } | undefined;
  return spec?.template?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
}

interface Problem {
  reason: string;
  message: string;
}

/** The first reason a set of pods cannot run, if any. */
export function podFailure(pods: readonly PodView[]): Problem | undefined {
  for (const pod of pods) {
    if (isTerminating(pod)) continue;
    const name = pod.metadata.name;
    if (pod.status?.phase === 'Failed') {
      return { reason: pod.status.reason ?? 'PodFailed', message: `pod ${name} failed${pod.status.message ? `: ${pod.status.message}` : ''}` };
    }
    for (const cs of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      const waiting = cs.state?.waiting;
      if (waiting?.reason !== undefined && FAILING_REASONS.has(waiting.reason)) {
        return { reason: waiting.reason, message: `container ${cs.name} of pod ${name}: ${waiting.message ?? waiting.reason}` };
      }
    }
  }
  return undefined;
}

/** Why pods are not up yet (not a failure): unschedulable, waiting, ... */
function podPending(pods: readonly PodView[]): string | undefined {
  for (const pod of pods) {
    if (isTerminating(pod) || isPodReady(pod)) continue;
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (scheduled?.status === 'False') return `pod ${pod.metadata.name} is not scheduled: ${scheduled.message ?? scheduled.reason ?? 'pending'}`;
    // Deliberately without the pod's phase: every distinct message is a status write.
    return `pod ${pod.metadata.name} is not ready yet`;
  }
  return undefined;
}

function describe(obj: DesiredObject): string {
  return `${obj.kind} ${obj.metadata.name}`;
}

interface Verdict {
  ok: boolean;
  reason: string;
  message: string;
}

export function computeStatus(observation: Observation): MCPServerStatus {
  const { mcp } = observation;
  const spec = resolveSpec(mcp.spec);
  const generation = mcp.metadata.generation ?? 0;
  const stopped = spec.replicas === 0;

  const desiredSts = observation.desired.find((d) => d.kind === 'StatefulSet');
  const desiredDeploy = observation.desired.find((d) => d.kind === 'Deployment');
  const deploy = (desiredDeploy && observation.observed(desiredDeploy)) as DeploymentView | undefined;
  const missing = observation.desired.filter((d) => observation.observed(d) === undefined).map(describe);

  // replicas unset: whatever the Deployment was scaled to (an HPA decides), 1 until it is read.
  const wantedProxies = spec.replicas ?? deploy?.spec?.replicas ?? 1;
  const activeProxy = observation.proxyPods.filter((p) => !isTerminating(p));
  const activeBackend = observation.backendPods.filter((p) => !isTerminating(p));
  const readyReplicas = activeProxy.filter(isPodReady).length;
  const proxyHash = templateHash(desiredDeploy);
  const backendHash = templateHash(desiredSts);
  const readyCurrentProxy = activeProxy.filter((p) => isPodReady(p) && podHash(p) === proxyHash).length;
  const readyBackend = activeBackend.filter(isPodReady).length;
  const readyCurrentBackend = activeBackend.filter((p) => isPodReady(p) && podHash(p) === backendHash).length;

  // --- failure classes
  const applied: Verdict =
    observation.applyErrors.length === 0
      ? { ok: true, reason: 'Applied', message: `all ${observation.desired.length} owned objects are as specified` }
      : {
          ok: false,
          reason: observation.applyErrors[0]?.reason ?? 'ApplyFailed',
          message: observation.applyErrors.map((e) => `${e.object}: ${e.message}`).join('; '),
        };
  const backendProblem = podFailure(observation.backendPods);
  const backend: Verdict = backendProblem ? { ok: false, ...backendProblem } : { ok: true, reason: 'NoFailures', message: 'no MCP server pod is failing' };
  const deployFailure = (deploy?.status?.conditions ?? []).find(isDeploymentFailure);
  const proxyProblem: Problem | undefined =
    podFailure(observation.proxyPods) ??
    (deployFailure
      ? { reason: deployFailure.reason ?? deployFailure.type, message: `Deployment ${deploy?.metadata.name}: ${deployFailure.message ?? ''}` }
      : undefined);
  const proxy: Verdict = proxyProblem ? { ok: false, ...proxyProblem } : { ok: true, reason: 'NoFailures', message: 'no proxy pod is failing' };

  // --- readiness of each side
  // A rollout is judged from the pods themselves: each carries the hash of the template it
  // was made from, so "every active pod is ready and current" is the rollout's end. The
  // controllers' own status (updatedReplicas, currentRevision) says the same thing later:
  // under load kube-controller-manager's status updates trail the pods by tens of seconds
  // (measured with 1,000 MCPServers), and waiting for them only delays a true Ready.
  const staleBackend = activeBackend.some((p) => podHash(p) !== backendHash);
  const staleProxy = activeProxy.some((p) => podHash(p) !== proxyHash);

  let available: Verdict;
  if (stopped) available = { ok: false, reason: 'Stopped', message: 'replicas is 0' };
  else if (missing.length > 0) available = { ok: false, reason: 'ChildMissing', message: `missing: ${missing.join(', ')}` };
  else if (readyBackend < 1)
    available = {
      ok: false,
      reason: 'BackendNotReady',
      message:
        podPending(observation.backendPods) ??
        (activeBackend.length === 0
          ? `no MCP server pod exists yet; if this persists, \`kubectl describe statefulset ${desiredSts?.metadata.name ?? ''}\` shows why it cannot be created`
          : 'the MCP server pod is not ready'),
    };
  else if (readyReplicas < 1)
    available = {
      ok: false,
      reason: 'ProxyNotReady',
      message: podPending(observation.proxyPods) ?? (activeProxy.length === 0 ? 'no proxy pod exists yet' : 'no proxy pod is ready'),
    };
  else available = { ok: true, reason: 'Serving', message: `${readyReplicas} proxy replica(s) serving` };

  let ready: Verdict;
  if (!available.ok) ready = available;
  else if (staleBackend || readyCurrentBackend < 1) ready = { ok: false, reason: 'RollingOut', message: 'the MCP server StatefulSet is rolling out' };
  else if (staleProxy || readyCurrentProxy < wantedProxies || activeProxy.length !== wantedProxies)
    ready = { ok: false, reason: 'RollingOut', message: `proxy: ${readyCurrentProxy}/${wantedProxies} updated replicas ready` };
  else ready = { ok: true, reason: 'Ready', message: `serving with ${readyReplicas} proxy replica(s)` };

  // A missing or invalid config: the proxy is held at its last good version, and this is why it is not Ready.
  const brokenRef = (observation.refs ?? []).find((r) => !r.ok);
  if (brokenRef !== undefined) ready = { ok: false, reason: brokenRef.reason, message: brokenRef.message };

  const terminating = mcp.metadata.deletionTimestamp !== undefined && mcp.metadata.deletionTimestamp !== null;
  if (terminating) ready = { ok: false, reason: 'Terminating', message: 'the MCPServer is being deleted' };

  const failed = !applied.ok || !backend.ok || !proxy.ok || brokenRef !== undefined;
  let phase: Phase;
  if (terminating) phase = 'Terminating';
  else if (failed) phase = 'Failed';
  else if (stopped) phase = 'Stopped';
  else if (ready.ok) phase = 'Ready';
  else phase = 'Pending';

  const previous = mcp.status?.conditions ?? [];
  const cond = (type: string, v: Verdict): Condition => {
    const status: ConditionStatus = v.ok ? 'True' : 'False';
    const before = previous.find((c) => c.type === type);
    return {
      type,
      status,
      reason: v.reason,
      message: v.message,
      lastTransitionTime: before?.status === status ? before.lastTransitionTime : observation.now,
      observedGeneration: generation,
    };
  };
  const conditions = [
    cond('Ready', ready),
    cond('Available', available),
    cond('ChildrenApplied', applied),
    cond('BackendHealthy', backend),
    cond('ProxyHealthy', proxy),
    ...(observation.refs ?? []).map((r) => cond(r.type, r)),
  ];
  const firstProblem = [...(brokenRef ? [brokenRef] : []), applied, backend, proxy].find((v) => !v.ok);
  const message = phase === 'Failed' && firstProblem ? firstProblem.message : ready.message;

  return {
    phase,
    message,
    url: serverUrl(mcp, spec.proxyPort, spec.proxyMode),
    readyReplicas,
    observedGeneration: generation,
    conditions,
  };
}

/** Whether two statuses say the same (lastTransitionTime is carried over, so exact compare). */
export function statusEqual(a: MCPServerStatus | undefined, b: MCPServerStatus): boolean {
  return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));
}

function normalize(s: MCPServerStatus | undefined): unknown {
  if (s === undefined) return undefined;
  return {
    phase: s.phase,
    message: s.message,
    url: s.url,
    readyReplicas: s.readyReplicas,
    observedGeneration: s.observedGeneration,
    conditions: (s.conditions ?? []).map((c) => ({
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      lastTransitionTime: c.lastTransitionTime,
      observedGeneration: c.observedGeneration,
    })),
  };
}

/** While an MCPServer stays Pending, its status is rewritten at most this often. */
export const PENDING_STATUS_INTERVAL_MS = 5_000;

/**
 * How long to hold back a status write (0: write now). A server on its way up passes
 * through several Pending messages (no pod yet, backend not ready, proxy not ready) within
 * seconds; each would be a write for every watcher to receive. Those in-between messages are
 * coalesced: while the phase stays Pending for the same generation, at most one write per
 * interval, and the latest message lands when it ends. A phase change (Ready, Failed, ...)
 * or a new generation is written at once.
 *
 * A new MCPServer's first status, if Pending, waits one interval too (`lastWriteMs` is then
 * when its first status was held back, undefined the first time): a server whose pods come up
 * within it gets one status write (Ready) instead of two, and its first reconcile ends after
 * the applies instead of one more round trip. Measured with bench:operator --compare, that
 * round trip made the operator's first reconciles, not the control plane, the pace of a batch.
 */
export function statusWriteDelay(previous: MCPServerStatus | undefined, next: MCPServerStatus, lastWriteMs: number | undefined, nowMs: number): number {
  if (previous === undefined && next.phase === 'Pending') return Math.max(0, (lastWriteMs ?? nowMs) + PENDING_STATUS_INTERVAL_MS - nowMs);
  if (previous?.phase !== 'Pending' || next.phase !== 'Pending') return 0;
  if (previous.observedGeneration !== next.observedGeneration || lastWriteMs === undefined) return 0;
  return Math.max(0, lastWriteMs + PENDING_STATUS_INTERVAL_MS - nowMs);
}
