import { describe, expect, it } from '@jest/globals';
import type { Backend } from './endpoints.ts';
import { BackendPool } from './pool.ts';

const backend = (key: string): Backend => ({ key, url: new URL(`http://${key}/mcp`) });

describe('BackendPool', () => {
  it('sends initialize to the backend with the fewest sessions and counts each session once', () => {
    const pool = new BackendPool();
    pool.update([backend('a:1'), backend('b:1'), backend('c:1')]);
    for (let i = 0; i < 6; i++) pool.pin(`s${i}`, (pool.leastSessions() as Backend).key);
    expect([...pool.counts().values()]).toEqual([2, 2, 2]);
    const moved = pool.sessionsOn('a:1')[0] as string;
    pool.pin(moved, 'b:1'); // moved (a recovery): counted on its new backend only
    pool.pin(moved, 'b:1'); // idempotent
    const dropped = pool.sessionsOn('c:1')[0] as string;
    pool.unpin(dropped);
    pool.unpin(dropped);
    expect(Object.fromEntries(pool.counts())).toEqual({ 'a:1': 1, 'b:1': 3, 'c:1': 1 });
    expect(pool.leastSessions()?.key).not.toBe('b:1');
  });

  it('reports each backend that leaves the ready set once, with its sessions', () => {
    const pool = new BackendPool();
    const gone: string[] = [];
    pool.onGone((key) => gone.push(key));
    expect(pool.synced).toBe(false);
    pool.update([backend('a:1'), backend('b:1')]);
    pool.pin('x', 'a:1');
    pool.pin('y', 'b:1');
    pool.update([backend('b:1')]);
    pool.update([backend('b:1')]);
    expect(gone).toEqual(['a:1']);
    expect(pool.sessionsOn('a:1')).toEqual(['x']);
    expect(pool.get('a:1')).toBeUndefined();
    expect(pool.leastSessions()?.key).toBe('b:1');
  });

  it('spreads stateless requests round-robin and has nothing to offer when empty', () => {
    const pool = new BackendPool();
    expect(pool.next()).toBeUndefined();
    expect(pool.leastSessions()).toBeUndefined();
    pool.update([backend('a:1'), backend('b:1'), backend('c:1')]);
    const picked = Array.from({ length: 6 }, () => pool.next()?.key);
    expect(new Set(picked.slice(0, 3)).size).toBe(3);
    expect(picked.slice(3)).toEqual(picked.slice(0, 3));
  });
});
