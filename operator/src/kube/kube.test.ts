// The operator's Kubernetes helpers on their own: backoff and Lease timestamps (no MCPServer
// in sight). The client and kubeconfig reader are tested where they live, in common/kube/.
import { describe, expect, it } from '@jest/globals';
import { Backoff, exponentialDelay } from './backoff.ts';
import { microTime } from './leader.ts';

describe('Backoff', () => {
  it('doubles up to the cap, jittered into the upper half, and resets', () => {
    const lo = new Backoff(100, 1000, () => 0);
    expect([1, 2, 3, 4, 5, 6].map(() => lo.next())).toEqual([50, 100, 200, 400, 500, 500]);
    const hi = new Backoff(100, 1000, () => 1);
    expect([1, 2, 3].map(() => hi.next())).toEqual([100, 200, 400]);
    hi.reset();
    expect(hi.next()).toBe(100);
    expect(exponentialDelay(1, 10, 100)).toBe(10);
    expect(exponentialDelay(5, 10, 100)).toBe(100);
  });
});

describe('microTime', () => {
  it('writes RFC 3339 with six fractional digits, as the apiserver expects for Lease times', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678000Z');
  });
});
