import { describe, expect, it } from '@jest/globals';
import { attachChanges, desiredAttaches, podKey, usablePods, type PodView } from './podSet.ts';

const pod = (
  name: string,
  opts: { phase?: string; running?: boolean; deleting?: boolean; started?: string; container?: string; uid?: string } = {},
): PodView => ({
  metadata: { name, uid: opts.uid ?? `uid-${name}`, ...(opts.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  status: {
    phase: opts.phase ?? 'Running',
    startTime: opts.started ?? '2026-01-01T00:00:00Z',
    containerStatuses: [
      {
        name: opts.container ?? 'mcp',
        state: opts.running === false ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: { startedAt: '2026-01-01T00:00:00Z' } },
      },
    ],
  },
});

const names = (pods: { name?: string; metadata?: { name: string } }[]): string[] => pods.map((p) => p.name ?? p.metadata?.name ?? '?');

describe('usablePods', () => {
  it('keeps running pods whose container runs, newest first, ties by name', () => {
    const pods = [
      pod('b', { started: '2026-01-01T00:00:00Z' }),
      pod('new', { started: '2026-02-01T00:00:00Z' }),
      pod('a', { started: '2026-01-01T00:00:00Z' }),
    ];
    expect(names(usablePods(pods, 'mcp'))).toEqual(['new', 'a', 'b']);
  });
  it('skips terminating, pending, crashing pods and other containers', () => {
    const pods = [
      pod('terminating', { deleting: true, started: '2026-03-01T00:00:00Z' }),
      pod('pending', { phase: 'Pending' }),
      pod('crashing', { running: false }),
      pod('sidecar-only', { container: 'other' }),
    ];
    expect(usablePods(pods, 'mcp')).toEqual([]);
    expect(names(usablePods([...pods, pod('good')], 'mcp'))).toEqual(['good']);
  });
});

describe('desiredAttaches (pod set → attaches)', () => {
  const three = [pod('mcp-0'), pod('mcp-1'), pod('mcp-2')];

  it('one attach per usable pod up to the cap; with cap 1 the newest pod (the single-pod rule)', () => {
    expect(names(desiredAttaches(three, 'mcp', new Set(), 3))).toEqual(['mcp-0', 'mcp-1', 'mcp-2']);
    expect(desiredAttaches(three, 'mcp', new Set(), 3).map((t) => t.key)).toEqual(['mcp-0@uid-mcp-0', 'mcp-1@uid-mcp-1', 'mcp-2@uid-mcp-2']);
    expect(names(desiredAttaches([...three, pod('late', { started: '2026-05-01T00:00:00Z' })], 'mcp', new Set(), 1))).toEqual(['late']);
  });

  it('keeps the pods attached already while they are usable, even when newer ones appear (no session ends for nothing)', () => {
    const attached = new Set(['mcp-2@uid-mcp-2']);
    const pods = [...three, pod('newer', { started: '2026-05-01T00:00:00Z' })];
    expect(names(desiredAttaches(pods, 'mcp', attached, 1))).toEqual(['mcp-2']);
    expect(names(desiredAttaches(pods, 'mcp', attached, 2))).toEqual(['mcp-2', 'newer']);
  });

  it('a pod re-created under the same name is a new pod: the old attach closes, the new one opens', () => {
    const attached = new Set(['mcp-0@uid-old']);
    const desired = desiredAttaches([pod('mcp-0', { uid: 'uid-new' })], 'mcp', attached, 3);
    expect(attachChanges(desired, attached)).toEqual({ open: [{ key: 'mcp-0@uid-new', name: 'mcp-0' }], close: ['mcp-0@uid-old'] });
  });

  it('detaches from a pod that is deleted, terminating or crashing, and from nothing else', () => {
    const attached = new Set(three.map(podKey));
    const pods = [pod('mcp-0'), pod('mcp-1', { deleting: true })]; // mcp-2 deleted
    const desired = desiredAttaches(pods, 'mcp', attached, 3);
    expect(attachChanges(desired, attached)).toEqual({ open: [], close: ['mcp-1@uid-mcp-1', 'mcp-2@uid-mcp-2'] });
    const crashing = desiredAttaches([pod('mcp-0', { running: false }), pod('mcp-1'), pod('mcp-2')], 'mcp', attached, 3);
    expect(attachChanges(crashing, attached).close).toEqual(['mcp-0@uid-mcp-0']);
  });

  it('a pod without a uid is known by its name', () => {
    expect(podKey({ metadata: { name: 'x' } })).toBe('x');
  });
});
