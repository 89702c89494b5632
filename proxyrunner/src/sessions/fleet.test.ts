// FleetSessions against an in-memory store whose calls can fail after taking effect, as a Redis
// call does when the connection drops between the script and its reply. The fleet suite
// (test/proxy/fleet.test.ts) kills a real Redis under load and saw the fleet gauge end at 1
// with every counter exact: a create of unknown outcome left a table entry nobody counted; and
// later client_delete one short of the sessions closed: a close whose reply was lost was
// retried on reconnect, found the session gone, and so was never counted.
import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { SessionRegistry, type CloseReason } from '../sessions.ts';
import { FleetSessions, type FleetSessionData } from './fleet.ts';
import type { SessionStore } from './store.ts';
import type { StoreMetrics } from './storeMetrics.ts';

/** A store table in memory; `loseNextReply` makes the next create or remove take effect, then reject. */
class MemoryStore implements SessionStore {
  readonly table = new Map<string, string>();
  /** Which close token removed each session (the Redis store keeps these for a minute). */
  readonly removedBy = new Map<string, string>();
  up = true;
  loseNextReply = false;
  #stateListeners: ((up: boolean) => void)[] = [];

  create(id: string, _now: number, pin = ''): Promise<string[] | undefined> {
    if (!this.up) return Promise.reject(new Error('store down'));
    const existed = this.table.has(id);
    this.table.set(id, pin);
    if (this.loseNextReply) {
      this.loseNextReply = false;
      this.setUp(false);
      return Promise.reject(new Error('connection lost before the reply'));
    }
    return Promise.resolve(existed ? undefined : []);
  }
  touch(id: string): Promise<string | false> {
    return this.up ? Promise.resolve(this.table.get(id) ?? false) : Promise.reject(new Error('store down'));
  }
  repin(id: string, pin: string): Promise<boolean> {
    if (!this.table.has(id)) return Promise.resolve(false);
    this.table.set(id, pin);
    return Promise.resolve(true);
  }
  remove(id: string, token: string): Promise<boolean> {
    if (!this.up) return Promise.reject(new Error('store down'));
    const removed = this.table.delete(id);
    if (removed) this.removedBy.set(id, token);
    if (this.loseNextReply) {
      this.loseNextReply = false;
      this.setUp(false);
      return Promise.reject(new Error('connection lost before the reply'));
    }
    return Promise.resolve(removed || this.removedBy.get(id) === token);
  }
  sweep(): Promise<string[]> {
    return Promise.resolve([]);
  }
  count(): Promise<number> {
    return Promise.resolve(this.table.size);
  }
  existing(ids: readonly string[]): Promise<boolean[]> {
    return Promise.resolve(ids.map((id) => this.table.has(id)));
  }
  ownGauge(): Promise<boolean> {
    return Promise.resolve(true);
  }
  onClosed(): void {}
  onStateChange(listener: (up: boolean) => void): void {
    this.#stateListeners.push(listener);
  }
  setUp(up: boolean): void {
    this.up = up;
    for (const l of this.#stateListeners) l(up);
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function fleetOn(store: MemoryStore): { fleet: FleetSessions<FleetSessionData>; counts: { created: number; closed: CloseReason[] } } {
  const counts = { created: 0, closed: [] as CloseReason[] };
  const metrics = { sessionCreated: () => counts.created++, sessionClosed: (r: CloseReason) => counts.closed.push(r) } as unknown as ProxyMetrics;
  const storeMetrics: StoreMetrics = { startTimer: () => () => {}, error: () => {}, setUp: () => {} };
  const fleet = new FleetSessions<FleetSessionData>({
    store,
    registry: new SessionRegistry<FleetSessionData>({ maxSessions: 100, idleTimeoutMs: 60_000 }),
    metrics,
    storeMetrics,
    log: silentLogger,
    idleTimeoutMs: 60_000,
    newData: () => ({ refreshedAt: 0, pin: '' }),
    endUpstream: () => {},
  });
  return { fleet, counts };
}

/** Lets the reconnect handler's store calls run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('FleetSessions: a create whose reply was lost', () => {
  it('is refused, then undone on reconnect without counting either its creation or its removal', async () => {
    const store = new MemoryStore();
    const { fleet, counts } = fleetOn(store);
    store.loseNextReply = true;
    expect(await fleet.created('ghost')).toBe(false); // the caller answers 503; the client never learns the ID
    expect(store.table.has('ghost')).toBe(true); // but the script ran
    store.setUp(true);
    await settle();
    await settle();
    expect(store.table.size).toBe(0); // without the undo the fleet gauge would count a ghost until idle expiry
    expect(counts).toEqual({ created: 0, closed: [] });
  });

  it('a close queued while the store was down is still counted once when it returns', async () => {
    const store = new MemoryStore();
    const { fleet, counts } = fleetOn(store);
    expect(await fleet.created('real')).toBe(true);
    store.setUp(false);
    await fleet.ended('real', 'client_delete');
    expect(store.table.has('real')).toBe(true);
    store.setUp(true);
    await settle();
    await settle();
    expect(store.table.size).toBe(0);
    expect(counts).toEqual({ created: 1, closed: ['client_delete'] });
  });

  it('a close whose reply was lost is counted once when the store returns, and only by the close that removed it', async () => {
    const store = new MemoryStore();
    const { fleet, counts } = fleetOn(store);
    const other = fleetOn(store);
    expect(await fleet.created('lost')).toBe(true);
    store.loseNextReply = true;
    await fleet.ended('lost', 'client_delete'); // removed in the store, but this replica never heard so
    expect(store.table.has('lost')).toBe(false);
    expect(counts.closed).toEqual([]);
    await other.fleet.ended('lost', 'client_delete'); // another replica closing it too: already gone, not its close
    store.setUp(true);
    await settle();
    await settle();
    expect(counts).toEqual({ created: 1, closed: ['client_delete'] }); // without the token: closed []
    expect(other.counts.closed).toEqual([]);
  });
});
