import { describe, expect, it } from '@jest/globals';
import { SessionRegistry, type CloseReason } from './sessions.ts';

function registry(options: { maxSessions?: number; idleTimeoutMs?: number } = {}) {
  let now = 1_000;
  const closed: [string, CloseReason][] = [];
  let created = 0;
  const reg = new SessionRegistry<{ n: number }>({
    maxSessions: options.maxSessions ?? 100,
    idleTimeoutMs: options.idleTimeoutMs ?? 1_000,
    now: () => now,
    onCreated: () => created++,
    onClosed: (s, reason) => closed.push([s.id, reason]),
  });
  return { reg, closed, created: () => created, advance: (ms: number) => (now += ms) };
}

describe('SessionRegistry', () => {
  it('counts exactly: add, re-add, remove once', () => {
    const { reg, closed, created } = registry();
    reg.add('a', { n: 1 });
    reg.add('a', { n: 2 });
    reg.add('b', { n: 3 });
    expect(reg.size).toBe(2);
    expect(created()).toBe(2);
    expect(reg.remove('a', 'client_delete')).toBe(true);
    expect(reg.remove('a', 'upstream_not_found')).toBe(false);
    expect(closed).toEqual([['a', 'client_delete']]);
    expect(reg.size).toBe(1);
  });

  it('evicts the least recently used at the cap', () => {
    const { reg, closed } = registry({ maxSessions: 3 });
    for (const id of ['a', 'b', 'c']) reg.add(id, { n: 0 });
    reg.touch(reg.get('a')!);
    reg.add('d', { n: 0 });
    expect(closed).toEqual([['b', 'evicted']]);
    expect([...['a', 'b', 'c', 'd']].filter((id) => reg.has(id))).toEqual(['a', 'c', 'd']);
    expect(reg.size).toBe(3);
  });

  it('sweeps idle sessions but never busy ones', () => {
    const { reg, closed, advance } = registry({ idleTimeoutMs: 1_000 });
    reg.add('idle', { n: 0 });
    const busy = reg.add('busy', { n: 0 });
    const release = reg.acquire(busy);
    advance(500);
    reg.add('young', { n: 0 });
    advance(600);
    expect(reg.sweep()).toBe(1);
    expect(closed).toEqual([['idle', 'idle_timeout']]);
    release();
    release(); // idempotent
    expect(busy.busy).toBe(0);
    advance(1_100);
    reg.sweep();
    expect(closed.map(([id]) => id)).toEqual(['idle', 'young', 'busy']);
    expect(reg.size).toBe(0);
  });

  it('a release refreshes the idle clock', () => {
    const { reg, advance } = registry({ idleTimeoutMs: 1_000 });
    const s = reg.add('s', { n: 0 });
    const release = reg.acquire(s);
    advance(5_000);
    release();
    advance(900);
    reg.sweep();
    expect(reg.has('s')).toBe(true);
  });

  it('closeAll reports every session with the given reason', () => {
    const { reg, closed } = registry();
    reg.add('a', { n: 0 });
    reg.add('b', { n: 0 });
    reg.closeAll('upstream_closed');
    expect(closed).toEqual([
      ['a', 'upstream_closed'],
      ['b', 'upstream_closed'],
    ]);
    expect(reg.size).toBe(0);
  });

  it('holds its size flat under heavy churn', () => {
    const { reg } = registry({ maxSessions: 1_000 });
    for (let i = 0; i < 100_000; i++) {
      reg.add(`s${i}`, { n: i });
      if (i % 2 === 0) reg.remove(`s${i}`, 'client_delete');
    }
    expect(reg.size).toBe(1_000);
  });
});
