// The transparent path's sessions when they are shared by a fleet of replicas
// (`--session-storage redis`): the Redis table (store.ts) is the truth; the local
// SessionRegistry is only a cache of the sessions this replica has seen, dropped silently
// (never counted) when the fleet closes one or the cache's own bounds push it out.
// Counting follows the store: a replica counts a create or a close only when its own
// atomic call made it, so each session is counted once in the fleet and sum() over the
// replicas of created_total and closed_total{reason} is exact.
// While the store is down nothing is decided locally: session requests and initialize are
// refused 503 (counted as `session_store_unavailable`), closes the proxy decided are queued
// (bounded) and applied when Redis is back, the proxy reports not ready.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { CloseReason, Session, SessionRegistry } from '../sessions.ts';
import type { SessionStore } from './store.ts';
import type { StoreMetrics } from './storeMetrics.ts';

export interface FleetSessionData {
  /** When this replica last refreshed the session's idle clock in the store (ms). */
  refreshedAt: number;
  /** The session's pin in the store ('' if none): where it is routed (backends/pin.ts). */
  pin: string;
}

export type Lookup<T> = { kind: 'found'; session: Session<T> } | { kind: 'unknown' } | { kind: 'unavailable' };

export interface FleetDeps<T extends FleetSessionData> {
  store: SessionStore;
  /** Local cache; its own create/close callbacks must not count. */
  registry: SessionRegistry<T>;
  metrics: ProxyMetrics;
  storeMetrics: StoreMetrics;
  log: Logger;
  idleTimeoutMs: number;
  newData: () => T;
  /** Best-effort DELETE upstream of a session the proxy ended (idle, evicted). */
  endUpstream: (id: string) => void;
  now?: () => number;
}

const MAX_PENDING_CLOSES = 10_000;
/** A pending removal that is not counted: it undoes a create whose outcome the store never confirmed. */
const UNCOUNTED = 'uncounted';

/** A close the store has not confirmed: why, and the token its first attempt carried. */
interface PendingClose {
  reason: CloseReason | typeof UNCOUNTED;
  token: string;
}
const SWEEP_BATCH = 500;

export class FleetSessions<T extends FleetSessionData> {
  readonly #deps: FleetDeps<T>;
  readonly #now: () => number;
  readonly #refreshMs: number;
  /** Closes the store has not confirmed yet (UNCOUNTED: a create of unknown outcome to undo). */
  readonly #pending = new Map<string, PendingClose>();
  /** Close tokens: unique per close of this process (a random prefix, then a sequence). */
  readonly #tokenPrefix = randomBytes(9).toString('base64url');
  #tokens = 0;
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(deps: FleetDeps<T>) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    // Coarse refresh: a session's idle clock in Redis is written at most this often per replica.
    this.#refreshMs = Math.max(100, Math.min(5_000, Math.floor(deps.idleTimeoutMs / 4)));
    deps.store.onClosed((id) => deps.registry.remove(id, 'client_delete')); // local copy only: the cache's callbacks do not count
    deps.store.onStateChange((up) => {
      deps.storeMetrics.setUp(up);
      if (up) void this.#flushPending().then(() => this.#reconcileCache());
    });
  }

  get ready(): boolean {
    return this.#deps.store.up;
  }

  /** The upstream issued `id` on an initialize: record it in the fleet. False if the store could not (caller answers 503). */
  async created(id: string, pin = ''): Promise<boolean> {
    const { store, registry, metrics } = this.#deps;
    const now = this.#now();
    const evicted = await this.#timed('create', () => store.create(id, now, pin));
    if (evicted === 'failed') {
      // The outcome is unknown: the script may have run and only its reply been lost. The
      // client gets a 503 and never learns `id`, so a table entry would be a ghost that
      // nobody counted; remove it on reconnect, uncounted (nor is its creation counted).
      this.#queue(id, UNCOUNTED, this.#token());
      return false;
    }
    if (evicted !== undefined) {
      metrics.sessionCreated();
      for (const gone of evicted) this.#counted(gone, 'evicted');
    }
    const data = this.#deps.newData();
    data.refreshedAt = now;
    data.pin = pin;
    registry.add(id, data);
    return true;
  }

  /** The session's pin as the store has it now (another replica may have moved it); undefined if gone or the store failed. */
  async currentPin(id: string): Promise<string | undefined> {
    const known = await this.#timed('touch', () => this.#deps.store.touch(id, this.#now()));
    if (typeof known !== 'string') return undefined;
    const local = this.#deps.registry.get(id);
    if (local) local.data.pin = known;
    return known;
  }

  /** The session moved (replay recovery): store its new pin for every replica. False if it is gone or the store failed. */
  async repinned(id: string, pin: string): Promise<boolean> {
    const local = this.#deps.registry.get(id);
    if (local) local.data.pin = pin;
    return (await this.#timed('touch', () => this.#deps.store.repin(id, pin))) === true;
  }

  /** A request carries `id`: the local copy (refreshed coarsely in the store) or the fleet's. */
  async lookup(id: string): Promise<Lookup<T>> {
    const { store, registry } = this.#deps;
    if (!store.up) return { kind: 'unavailable' };
    const now = this.#now();
    const local = registry.get(id);
    if (local && now - local.data.refreshedAt < this.#refreshMs) return { kind: 'found', session: local };
    const known = await this.#timed('touch', () => store.touch(id, now));
    if (known === 'failed') return { kind: 'unavailable' };
    if (known === false) {
      if (local) registry.remove(id, 'client_delete'); // closed elsewhere and the message was missed
      return { kind: 'unknown' };
    }
    if (local) {
      local.data.refreshedAt = now;
      local.data.pin = known; // another replica may have moved it (replay recovery)
      return { kind: 'found', session: local };
    }
    const data = this.#deps.newData();
    data.refreshedAt = now;
    data.pin = known;
    return { kind: 'found', session: registry.add(id, data) };
  }

  /** The session ended (client DELETE, upstream forgot it): close it in the fleet, counted once. */
  async ended(id: string, reason: CloseReason): Promise<void> {
    this.#deps.registry.remove(id, reason);
    const token = this.#token();
    const removed = await this.#timed('remove', () => this.#deps.store.remove(id, token));
    // Failed: the removal may have happened and only its reply been lost; the retry carries the
    // same token, so the store tells whether this close removed it and it is counted once.
    if (removed === 'failed') this.#queue(id, reason, token);
    else if (removed) this.#deps.metrics.sessionClosed(reason);
  }

  /** Periodic: refresh sessions busy here (open streams), then end the fleet's idle ones. */
  startSweeper(): void {
    if (this.#timer) return;
    const every = Math.min(30_000, Math.max(250, Math.floor(this.#deps.idleTimeoutMs / 10)));
    this.#timer = setInterval(() => void this.sweep(), every);
    this.#timer.unref();
  }

  stopSweeper(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async sweep(): Promise<void> {
    const { store, registry } = this.#deps;
    if (this.#sweeping || !store.up) return;
    this.#sweeping = true;
    try {
      const now = this.#now();
      for (const session of registry.busySessions()) {
        if (now - session.data.refreshedAt < this.#refreshMs) continue;
        const touched = await this.#timed('touch', () => store.touch(session.id, now));
        if (typeof touched === 'string') session.data.refreshedAt = now;
      }
      const idle = await this.#timed('sweep', () => store.sweep(now - this.#deps.idleTimeoutMs, SWEEP_BATCH));
      if (idle !== 'failed') for (const id of idle) this.#counted(id, 'idle_timeout');
    } finally {
      this.#sweeping = false;
    }
  }

  /** This replica's store call removed `id` from the fleet: count it, drop the copy, free it upstream. */
  #counted(id: string, reason: CloseReason): void {
    this.#deps.metrics.sessionClosed(reason);
    this.#deps.registry.remove(id, reason);
    this.#deps.endUpstream(id);
  }

  #token(): string {
    return `${this.#tokenPrefix}.${++this.#tokens}`;
  }

  #queue(id: string, reason: CloseReason | typeof UNCOUNTED, token: string): void {
    if (this.#pending.size >= MAX_PENDING_CLOSES) {
      this.#deps.log.warn('session store down and the close backlog is full; idle expiry will end this session', { reason });
      return;
    }
    this.#pending.set(id, { reason, token });
  }

  async #flushPending(): Promise<void> {
    for (const [id, { reason, token }] of [...this.#pending]) {
      const removed = await this.#timed('remove', () => this.#deps.store.remove(id, token));
      if (removed === 'failed') return; // down again: the rest waits for the next reconnect
      this.#pending.delete(id);
      if (removed && reason !== UNCOUNTED) this.#deps.metrics.sessionClosed(reason);
    }
  }

  /**
   * Back in touch with the store (subscription confirmed): drops every local copy the fleet no
   * longer holds. Closes published while this replica was cut off were missed; any published
   * from now on arrive. Never counted: the replica that closed them counted them.
   */
  async #reconcileCache(): Promise<void> {
    const ids = [...this.#deps.registry.ids()];
    for (let at = 0; at < ids.length; at += SWEEP_BATCH) {
      const batch = ids.slice(at, at + SWEEP_BATCH);
      const held = await this.#timed('check', () => this.#deps.store.existing(batch));
      if (held === 'failed') return; // down again: the next reconnect checks again
      batch.forEach((id, i) => {
        if (!held[i]) this.#deps.registry.remove(id, 'client_delete');
      });
    }
  }

  async #timed<R>(op: string, call: () => Promise<R>): Promise<R | 'failed'> {
    const stop = this.#deps.storeMetrics.startTimer(op);
    try {
      const result = await call();
      stop();
      return result;
    } catch (err) {
      stop();
      this.#deps.storeMetrics.error(op);
      this.#deps.log.warn('session store call failed', { op, err: err as Error });
      return 'failed';
    }
  }
}
