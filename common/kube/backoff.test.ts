// Backoff: exponential, capped, jittered into the upper half, resettable.
import { describe, expect, it } from '@jest/globals';
import { Backoff, exponentialDelay } from './backoff.ts';

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
