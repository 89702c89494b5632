// What the caches keep of each object, and which updates the operator can ignore.
import { describe, expect, it } from '@jest/globals';
import { CONFIG_HASH_ANNOTATION } from '../builders/meta.ts';
import type { KubeObject } from '../../../common/kube/kinds.ts';
import { sameForOperator, sameJson, slimChild, slimPod, stripMeta } from './projections.ts';

describe('cache transforms', () => {
  it('drop managedFields and last-applied-configuration', () => {
    const obj: KubeObject = {
      metadata: { name: 'x', managedFields: [{ manager: 'm' }], annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', keep: 'me' } },
      spec: { a: 1 },
    };
    expect(stripMeta(obj)).toEqual({ metadata: { name: 'x', annotations: { keep: 'me' } }, spec: { a: 1 } });
  });

  it('keep of a pod only what status computation reads', () => {
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p',
        namespace: 'n',
        uid: 'u',
        resourceVersion: '5',
        labels: { a: 'b' },
        annotations: { [CONFIG_HASH_ANNOTATION]: 'h', other: 'x' },
        managedFields: [{}],
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'r' }],
      },
      spec: { containers: [{ name: 'c', image: 'i' }] },
      status: {
        phase: 'Running',
        podIP: '1.2.3.4',
        conditions: [
          { type: 'Ready', status: 'True', lastTransitionTime: 't' },
          { type: 'Initialized', status: 'True' },
          { type: 'PodScheduled', status: 'True' },
        ],
        containerStatuses: [
          {
            name: 'c',
            ready: false,
            restartCount: 2,
            image: 'i',
            imageID: 'sha',
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'm' } },
            lastState: { terminated: { exitCode: 1 } },
          },
        ],
      },
    };
    expect(slimPod(pod)).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'n', uid: 'u', resourceVersion: '5', labels: { a: 'b' }, annotations: { [CONFIG_HASH_ANNOTATION]: 'h' } },
      status: {
        phase: 'Running',
        conditions: [
          { type: 'Ready', status: 'True' },
          { type: 'PodScheduled', status: 'True' },
        ],
        containerStatuses: [{ name: 'c', ready: false, restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff', message: 'm' } } }],
      },
    });
  });
});

describe('owned objects as the operator reads them', () => {
  const deployment = (rv: string, status: Record<string, unknown>): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', namespace: 'n', resourceVersion: rv, generation: 2, managedFields: [{ manager: 'm' }] },
    spec: { replicas: 1 },
    status,
  });
  const progressing = (reason: string, status = 'True') => ({ type: 'Progressing', status, reason, message: 'm', lastUpdateTime: `t-${reason}` });

  it('keep of a Deployment status only its failure conditions, without timestamps', () => {
    const slim = slimChild('Deployment')(
      deployment('1', {
        replicas: 1,
        readyReplicas: 1,
        conditions: [
          { type: 'Available', status: 'True' },
          progressing('ProgressDeadlineExceeded', 'False'),
          { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate' },
        ],
      }),
    );
    expect(slim).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: 'n', resourceVersion: '1', generation: 2 },
      spec: { replicas: 1 },
      status: {
        conditions: [
          { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'm' },
          { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate' },
        ],
      },
    });
    // A healthy rollout's conditions are churn: nothing is kept of them.
    expect(slimChild('Deployment')(deployment('1', { conditions: [progressing('NewReplicaSetAvailable')] })).status).toEqual({ conditions: [] });
    // Other kinds: no status at all (readiness comes from the pods).
    expect(slimChild('StatefulSet')({ metadata: { name: 's' }, spec: { replicas: 1 }, status: { readyReplicas: 1 } })).toEqual({
      metadata: { name: 's' },
      spec: { replicas: 1 },
    });
  });

  it('tell status churn from changes that matter', () => {
    const slim = slimChild('Deployment');
    const before = slim(deployment('1', { replicas: 0, conditions: [progressing('NewReplicaSetCreated')] }));
    const churn = slim(
      deployment('2', {
        replicas: 1,
        readyReplicas: 1,
        observedGeneration: 2,
        conditions: [progressing('NewReplicaSetAvailable'), { type: 'Available', status: 'True' }],
      }),
    );
    expect(sameForOperator(before, churn)).toBe(true);
    const stuck = slim(deployment('3', { conditions: [progressing('ProgressDeadlineExceeded', 'False')] }));
    expect(sameForOperator(churn, stuck)).toBe(false);
    const edited = { ...churn, metadata: { ...churn.metadata, resourceVersion: '4' }, spec: { replicas: 3 } };
    expect(sameForOperator(churn, edited)).toBe(false);
    const pod = (rv: string, ready: string): KubeObject =>
      slimPod({
        metadata: { name: 'p', resourceVersion: rv },
        spec: { nodeName: rv },
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready }] },
      });
    expect(sameForOperator(pod('1', 'False'), pod('2', 'False'))).toBe(true); // bound to a node: nothing we read
    expect(sameForOperator(pod('2', 'False'), pod('3', 'True'))).toBe(false);
  });

  it('compare JSON values as JSON.stringify would, whatever their key order', () => {
    const cases: [unknown, unknown, boolean][] = [
      [{ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 }, true],
      [{ a: 1, gone: undefined }, { a: 1 }, true],
      [{ a: 1 }, { a: 1, gone: undefined }, true],
      [{ a: 1 }, { a: 1, b: 2 }, false],
      [{ a: 1, b: 2 }, { a: 1 }, false],
      [{ a: [1, 2] }, { a: [2, 1] }, false],
      [{ a: [1] }, { a: { 0: 1 } }, false],
      [{ a: { b: { c: 1 } } }, { a: { b: { c: 2 } } }, false],
      [{ a: null }, { a: {} }, false],
      [{ a: '1' }, { a: 1 }, false],
      [[], [], true],
      [null, null, true],
    ];
    for (const [a, b, same] of cases) {
      expect(sameJson(a, b)).toBe(same);
      expect(sameJson(b, a)).toBe(same);
    }
  });
});
