import { describe, expect, it } from '@jest/globals';
import { pickPod, type PodView } from './podAttach.ts';

const pod = (name: string, opts: { phase?: string; running?: boolean; deleting?: boolean; started?: string; container?: string } = {}): PodView => ({
  metadata: { name, ...(opts.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
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

describe('pickPod', () => {
  it('takes the newest running pod whose container runs', () => {
    const chosen = pickPod([pod('old', { started: '2026-01-01T00:00:00Z' }), pod('new', { started: '2026-02-01T00:00:00Z' })], 'mcp');
    expect(chosen?.metadata.name).toBe('new');
  });
  it('skips terminating, pending, crashing pods and other containers', () => {
    const pods = [
      pod('terminating', { deleting: true, started: '2026-03-01T00:00:00Z' }),
      pod('pending', { phase: 'Pending' }),
      pod('crashing', { running: false }),
      pod('sidecar-only', { container: 'other' }),
    ];
    expect(pickPod(pods, 'mcp')).toBeUndefined();
    expect(pickPod([...pods, pod('good')], 'mcp')?.metadata.name).toBe('good');
  });
});
