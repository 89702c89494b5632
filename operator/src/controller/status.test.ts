import { describe, expect, it } from '@jest/globals';
import { httpSpec, sseSpec, stdioSpec, stored, withoutReplicas } from '../../../test/support/mcpServers.ts';
import type { MCPServer, MCPServerSpec } from '../api/types.ts';
import { desiredObjects } from '../builders/desired.ts';
import { CONFIG_HASH_ANNOTATION } from '../builders/meta.ts';
import type { DesiredObject, KubeObject } from '../../../common/kube/kinds.ts';
import { computeStatus, PENDING_STATUS_INTERVAL_MS, statusEqual, statusWriteDelay, type ApplyError, type Observation, type PodView } from './status.ts';

const NOW = '2026-02-02T10:00:00Z';

function hashOf(obj: DesiredObject): string {
  return (obj['spec'] as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations[CONFIG_HASH_ANNOTATION] as string;
}

interface World {
  mcp: MCPServer;
  desired: DesiredObject[];
  objects: Map<string, KubeObject>;
  backendPods: PodView[];
  proxyPods: PodView[];
  applyErrors: ApplyError[];
}

function pod(name: string, hash: string, opts: { ready?: boolean; terminating?: boolean; waiting?: string; unschedulable?: boolean } = {}): PodView {
  const ready = opts.ready ?? true;
  return {
    metadata: { name, namespace: 'team-a', annotations: { [CONFIG_HASH_ANNOTATION]: hash }, ...(opts.terminating && { deletionTimestamp: NOW }) },
    status: {
      phase: ready ? 'Running' : 'Pending',
      conditions: [
        { type: 'Ready', status: ready ? 'True' : 'False' },
        ...(opts.unschedulable ? [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' }] : []),
      ],
      ...(opts.waiting && {
        containerStatuses: [
          { name: 'mcp', ready: false, restartCount: 3, image: '', imageID: '', state: { waiting: { reason: opts.waiting, message: 'back-off' } } },
        ],
      }),
    },
  };
}

/** Everything exists, rolled out and ready. */
function healthy(spec: MCPServerSpec): World {
  const mcp = stored('web', spec);
  const desired = desiredObjects(mcp, { proxyrunnerImage: 'p:1' });
  const objects = new Map<string, KubeObject>();
  const replicas = mcp.spec.replicas ?? 1;
  for (const d of desired) {
    const o = structuredClone(d) as KubeObject;
    o.metadata.generation = 1;
    if (d.kind === 'StatefulSet')
      o['status'] = { observedGeneration: 1, replicas: 1, readyReplicas: 1, updatedReplicas: 1, currentRevision: 'r1', updateRevision: 'r1' };
    if (d.kind === 'Deployment')
      o['status'] = { observedGeneration: 1, replicas, readyReplicas: replicas, updatedReplicas: replicas, availableReplicas: replicas };
    objects.set(`${d.kind}/${d.metadata.name}`, o);
  }
  const sts = desired.find((d) => d.kind === 'StatefulSet') as DesiredObject;
  const deploy = desired.find((d) => d.kind === 'Deployment') as DesiredObject;
  return {
    mcp,
    desired,
    objects,
    backendPods: [pod('mcp-web-0', hashOf(sts))],
    proxyPods: Array.from({ length: replicas }, (_, i) => pod(`mcp-web-proxy-${i}`, hashOf(deploy))),
    applyErrors: [],
  };
}

function observe(w: World): Observation {
  return {
    mcp: w.mcp,
    desired: w.desired,
    observed: (d) => w.objects.get(`${d.kind}/${d.metadata.name}`),
    backendPods: w.backendPods,
    proxyPods: w.proxyPods,
    applyErrors: w.applyErrors,
    now: NOW,
  };
}

function condition(w: World, type: string): { status: string; reason: string; message: string } | undefined {
  return computeStatus(observe(w)).conditions?.find((c) => c.type === type);
}

describe('computeStatus', () => {
  it('is Ready with the URL, readyReplicas and observedGeneration when everything is up', () => {
    for (const [spec, url] of [
      [stdioSpec, 'http://mcp-web-proxy.team-a.svc.cluster.local:8080/mcp'],
      [httpSpec, 'http://mcp-web-proxy.team-a.svc.cluster.local:8080/mcp'],
      [sseSpec, 'http://mcp-web-proxy.team-a.svc.cluster.local:8080/sse'],
    ] as const) {
      const w = healthy(spec);
      const s = computeStatus(observe(w));
      expect(s).toMatchObject({ phase: 'Ready', url, readyReplicas: spec.replicas ?? 1, observedGeneration: 1 });
      expect(s.conditions?.map((c) => [c.type, c.status])).toEqual([
        ['Ready', 'True'],
        ['Available', 'True'],
        ['ChildrenApplied', 'True'],
        ['BackendHealthy', 'True'],
        ['ProxyHealthy', 'True'],
      ]);
      for (const c of s.conditions ?? []) expect(c).toMatchObject({ lastTransitionTime: NOW, observedGeneration: 1 });
    }
  });

  it('never says Ready while a child is missing', () => {
    for (const kind of ['StatefulSet/mcp-web', 'Service/mcp-web', 'Service/mcp-web-proxy', 'Deployment/mcp-web-proxy']) {
      const w = healthy(httpSpec);
      w.objects.delete(kind);
      const s = computeStatus(observe(w));
      expect(s.phase).toBe('Pending');
      expect(condition(w, 'Ready')).toMatchObject({ status: 'False', reason: 'ChildMissing' });
      expect(condition(w, 'Ready')?.message).toContain(kind.replace('/', ' '));
    }
    const w = healthy(stdioSpec);
    w.objects.delete('RoleBinding/mcp-web-proxy');
    expect(computeStatus(observe(w)).phase).toBe('Pending');
  });

  it('does not count terminating pods in readyReplicas', () => {
    const w = healthy(httpSpec);
    const hash = w.proxyPods[0]?.metadata.annotations?.[CONFIG_HASH_ANNOTATION] as string;
    w.proxyPods.push(pod('old-1', hash, { terminating: true }), pod('old-2', hash, { terminating: true }));
    expect(computeStatus(observe(w))).toMatchObject({ phase: 'Ready', readyReplicas: 2 });
  });

  it('is Pending (rolling out, still Available) while old pods serve and new ones are not ready', () => {
    const w = healthy(httpSpec);
    w.proxyPods = [pod('old-0', 'previous'), pod('old-1', 'previous')];
    expect(computeStatus(observe(w)).phase).toBe('Pending');
    expect(condition(w, 'Available')?.status).toBe('True');
    expect(condition(w, 'Ready')).toMatchObject({ status: 'False', reason: 'RollingOut' });
  });

  it("is Ready from the pods' own evidence while the controllers' status still lags behind them", () => {
    const w = healthy(httpSpec);
    const sts = w.objects.get('StatefulSet/mcp-web') as KubeObject;
    sts.metadata.generation = 2;
    sts['status'] = { observedGeneration: 1, replicas: 1, currentRevision: 'r1', updateRevision: 'r2' };
    (w.objects.get('Deployment/mcp-web-proxy') as KubeObject)['status'] = {};
    expect(computeStatus(observe(w)).phase).toBe('Ready');
  });

  it('is Pending while a pod of the previous template is still active, even if a current one is ready', () => {
    const w = healthy(httpSpec);
    const previous = pod('mcp-web-0-old', 'previous');
    w.backendPods.push(previous);
    expect(condition(w, 'Ready')).toMatchObject({ status: 'False', reason: 'RollingOut' });
    w.backendPods = w.backendPods.filter((p) => p !== previous);
    w.proxyPods.push(pod('old-proxy', 'previous'));
    expect(condition(w, 'Ready')).toMatchObject({ status: 'False', reason: 'RollingOut' });
  });

  it('says where to look when the backend pod does not exist at all (e.g. refused by Pod Security)', () => {
    const w = healthy(httpSpec);
    w.backendPods = [];
    const s = computeStatus(observe(w));
    expect(s.phase).toBe('Pending');
    expect(s.message).toContain('kubectl describe statefulset mcp-web');
  });

  it("reports an unschedulable backend as Pending with the scheduler's message", () => {
    const w = healthy(httpSpec);
    w.backendPods = [pod('mcp-web-0', 'h', { ready: false, unschedulable: true })];
    const s = computeStatus(observe(w));
    expect(s.phase).toBe('Pending');
    expect(condition(w, 'Available')).toMatchObject({ status: 'False', reason: 'BackendNotReady' });
    expect(s.message).toContain('0/1 nodes are available');
  });

  it('is Failed, with a condition per failure class, when pods crash or an apply fails', () => {
    const crash = healthy(httpSpec);
    crash.backendPods = [pod('mcp-web-0', 'h', { ready: false, waiting: 'CrashLoopBackOff' })];
    expect(computeStatus(observe(crash)).phase).toBe('Failed');
    expect(condition(crash, 'BackendHealthy')).toMatchObject({ status: 'False', reason: 'CrashLoopBackOff' });
    expect(condition(crash, 'ProxyHealthy')?.status).toBe('True');

    const pull = healthy(httpSpec);
    pull.proxyPods = [pod('p', 'h', { ready: false, waiting: 'ImagePullBackOff' })];
    expect(condition(pull, 'ProxyHealthy')).toMatchObject({ status: 'False', reason: 'ImagePullBackOff' });
    expect(computeStatus(observe(pull)).phase).toBe('Failed');

    const rejected = healthy(httpSpec);
    (rejected.objects.get('Deployment/mcp-web-proxy') as KubeObject)['status'] = {
      observedGeneration: 1,
      conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'pods "x" is forbidden: violates PodSecurity' }],
    };
    expect(condition(rejected, 'ProxyHealthy')).toMatchObject({ status: 'False', reason: 'FailedCreate' });

    const apply = healthy(httpSpec);
    apply.applyErrors = [{ object: 'Deployment mcp-web-proxy', reason: 'Forbidden', message: 'not allowed' }];
    const s = computeStatus(observe(apply));
    expect(s).toMatchObject({ phase: 'Failed', message: 'Deployment mcp-web-proxy: not allowed' });
    expect(condition(apply, 'ChildrenApplied')).toMatchObject({ status: 'False', reason: 'Forbidden' });
  });

  it('replicas unset: ready against what the Deployment was scaled to (an HPA), not a fixed count', () => {
    const unscaled = withoutReplicas(httpSpec);
    const w = healthy(unscaled);
    const deploy = [...w.objects.values()].find((o) => o.kind === 'Deployment') as KubeObject & { spec: { replicas?: number } };
    deploy.spec.replicas = 3; // the autoscaler's choice
    expect(condition(w, 'Ready')).toMatchObject({ status: 'False', reason: 'RollingOut', message: 'proxy: 1/3 updated replicas ready' });
    w.proxyPods = [0, 1, 2].map(() => structuredClone(w.proxyPods[0]) as (typeof w.proxyPods)[number]);
    w.proxyPods.forEach((p, i) => (p.metadata.name = `mcp-web-proxy-${i}`));
    expect(computeStatus(observe(w))).toMatchObject({ phase: 'Ready', readyReplicas: 3 });
  });

  it('is Stopped when replicas is 0', () => {
    const w = healthy({ ...httpSpec, replicas: 0 });
    w.proxyPods = [];
    w.backendPods = [];
    const s = computeStatus(observe(w));
    expect(s).toMatchObject({ phase: 'Stopped', readyReplicas: 0 });
    expect(condition(w, 'Ready')).toMatchObject({ status: 'False', reason: 'Stopped' });
  });

  it('is Terminating while the MCPServer is being deleted', () => {
    const w = healthy(httpSpec);
    w.mcp.metadata.deletionTimestamp = NOW;
    expect(computeStatus(observe(w)).phase).toBe('Terminating');
    expect(condition(w, 'Ready')).toMatchObject({ status: 'False', reason: 'Terminating' });
  });

  it('keeps lastTransitionTime of conditions whose status did not change, so a recomputation is equal', () => {
    const w = healthy(httpSpec);
    const first = computeStatus(observe(w));
    w.mcp.status = first;
    const again = computeStatus({ ...observe(w), now: '2030-01-01T00:00:00Z' });
    expect(statusEqual(first, again)).toBe(true);
    w.proxyPods = [];
    const changed = computeStatus({ ...observe(w), now: '2030-01-01T00:00:00Z' });
    expect(statusEqual(first, changed)).toBe(false);
    expect(changed.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe('2030-01-01T00:00:00Z');
    expect(changed.conditions?.find((c) => c.type === 'ChildrenApplied')?.lastTransitionTime).toBe(NOW);
  });

  it('reports the generation it computed for', () => {
    const w = healthy(httpSpec);
    w.mcp.metadata.generation = 7;
    expect(computeStatus(observe(w)).observedGeneration).toBe(7);
  });
});

describe('statusWriteDelay', () => {
  const status = (phase: 'Pending' | 'Ready' | 'Failed', message: string, observedGeneration = 1) => ({ phase, message, observedGeneration, conditions: [] });
  const t0 = 1_000_000;

  it('writes phase changes, new generations and first statuses other than Pending at once', () => {
    expect(statusWriteDelay(undefined, status('Ready', 'a'), undefined, t0)).toBe(0);
    expect(statusWriteDelay(undefined, status('Failed', 'a'), undefined, t0)).toBe(0);
    expect(statusWriteDelay(status('Pending', 'a'), status('Ready', 'b'), t0, t0 + 1)).toBe(0);
    expect(statusWriteDelay(status('Pending', 'a'), status('Failed', 'b'), t0, t0 + 1)).toBe(0);
    expect(statusWriteDelay(status('Ready', 'a'), status('Pending', 'b'), t0, t0 + 1)).toBe(0);
    expect(statusWriteDelay(status('Pending', 'a', 1), status('Pending', 'b', 2), t0, t0 + 1)).toBe(0);
    // Not written by this process yet (a restart): no pacing to go by.
    expect(statusWriteDelay(status('Pending', 'a'), status('Pending', 'b'), undefined, t0)).toBe(0);
  });

  it("holds a new server's first Pending status for one interval from when it was first held", () => {
    expect(statusWriteDelay(undefined, status('Pending', 'a'), undefined, t0)).toBe(PENDING_STATUS_INTERVAL_MS);
    expect(statusWriteDelay(undefined, status('Pending', 'b'), t0, t0 + 1_500)).toBe(PENDING_STATUS_INTERVAL_MS - 1_500);
    expect(statusWriteDelay(undefined, status('Pending', 'b'), t0, t0 + PENDING_STATUS_INTERVAL_MS)).toBe(0);
    // Ready within the hold: one write, at once.
    expect(statusWriteDelay(undefined, status('Ready', 'c'), t0, t0 + 1_500)).toBe(0);
  });

  it('paces Pending-to-Pending rewrites to one per interval', () => {
    expect(statusWriteDelay(status('Pending', 'a'), status('Pending', 'b'), t0, t0 + 1_500)).toBe(PENDING_STATUS_INTERVAL_MS - 1_500);
    expect(statusWriteDelay(status('Pending', 'a'), status('Pending', 'b'), t0, t0 + PENDING_STATUS_INTERVAL_MS)).toBe(0);
  });
});
