import { describe, expect, it } from '@jest/globals';
import { ByteBudget, DEFAULT_BUDGET_LIMIT_BYTES, deriveBudget } from './budget.ts';

const MiB = 2 ** 20;

describe('deriveBudget', () => {
  it('sizes every limit from 128Mi as the README states', () => {
    expect(deriveBudget(128 * MiB)).toEqual({
      limitBytes: 128 * MiB,
      maxConnections: 512,
      maxStreams: 341,
      maxMessageBytes: 4 * MiB,
      maxBodyBytes: 4 * MiB,
      bufferBytes: 32 * MiB,
    });
  });

  it('grows with the limit and falls back to a documented default without one', () => {
    const small = deriveBudget(128 * MiB);
    const large = deriveBudget(512 * MiB);
    expect(large.maxConnections).toBeGreaterThan(small.maxConnections);
    expect(large.maxStreams).toBeGreaterThan(small.maxStreams);
    expect(large.maxMessageBytes).toBe(16 * MiB);
    expect(deriveBudget(undefined)).toEqual(deriveBudget(DEFAULT_BUDGET_LIMIT_BYTES));
  });

  it('keeps a working floor under tiny limits and a ceiling on message size', () => {
    const tiny = deriveBudget(32 * MiB);
    expect(tiny.maxMessageBytes).toBeGreaterThanOrEqual(64 * 1024);
    expect(tiny.maxMessageBytes * 2).toBeLessThanOrEqual(tiny.bufferBytes);
    expect(deriveBudget(64 * 2 ** 30).maxMessageBytes).toBe(64 * MiB);
  });

  it('lets explicit values win, raising derived ones to fit them', () => {
    const raised = deriveBudget(128 * MiB, { maxBodyBytes: 16 * MiB });
    expect(raised.maxMessageBytes).toBe(16 * MiB);
    expect(raised.bufferBytes).toBe(32 * MiB);
    expect(deriveBudget(128 * MiB, { maxMessageBytes: 32 * MiB }).bufferBytes).toBe(64 * MiB);
    expect(deriveBudget(128 * MiB, { maxConnections: 5, maxStreams: 2 })).toMatchObject({ maxConnections: 5, maxStreams: 2 });
  });

  it('refuses explicit values that contradict each other', () => {
    expect(() => deriveBudget(128 * MiB, { maxBodyBytes: 8 * MiB, maxMessageBytes: 4 * MiB })).toThrow(/max-body-bytes/);
    expect(() => deriveBudget(128 * MiB, { maxMessageBytes: 8 * MiB, bufferBytes: 4 * MiB })).toThrow(/max-buffered-bytes/);
  });
});

describe('ByteBudget', () => {
  it('admits reservations up to its capacity and no further', () => {
    const budget = new ByteBudget(100);
    expect(budget.tryReserve(60)).toBe(true);
    expect(budget.tryReserve(50)).toBe(false);
    expect(budget.used).toBe(60);
    budget.release(60);
    expect(budget.tryReserve(100)).toBe(true);
    expect(budget.available).toBe(0);
  });

  it('accounts grow, shrink and return everything on close', () => {
    const budget = new ByteBudget(100);
    const a = budget.account();
    const b = budget.account();
    expect(a.resize(70)).toBe(true);
    expect(b.resize(40)).toBe(false);
    expect(b.held).toBe(0);
    expect(a.resize(20)).toBe(true);
    expect(b.resize(80)).toBe(true);
    expect(budget.used).toBe(100);
    a.close();
    b.close();
    expect(budget.used).toBe(0);
  });
});
