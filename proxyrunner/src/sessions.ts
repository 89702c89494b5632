// The one place that holds MCP sessions. A Map kept in least-recently-used order (a
// touch re-inserts the key) gives O(1) lookup, O(1) LRU eviction at the cap and an idle
// sweep that stops at the first live entry. Every removal goes through `remove`, which
// reports the reason, so counters and the live count cannot disagree.

export const CLOSE_REASONS = ['client_delete', 'upstream_not_found', 'idle_timeout', 'evicted', 'upstream_closed'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

export interface Session<T> {
  readonly id: string;
  readonly data: T;
  lastSeen: number;
  /** In-flight requests plus open streams; a busy session is never idle. */
  busy: number;
}

export interface RegistryOptions<T> {
  maxSessions: number;
  idleTimeoutMs: number;
  now?: () => number;
  onCreated?: (session: Session<T>) => void;
  onClosed?: (session: Session<T>, reason: CloseReason) => void;
}

export class SessionRegistry<T> {
  readonly #sessions = new Map<string, Session<T>>();
  readonly #options: RegistryOptions<T>;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RegistryOptions<T>) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#sessions.size;
  }

  has(id: string): boolean {
    return this.#sessions.has(id);
  }

  get(id: string): Session<T> | undefined {
    return this.#sessions.get(id);
  }

  /** Registers a session the upstream has issued. At the cap, the least recently used goes first. */
  add(id: string, data: T): Session<T> {
    const existing = this.#sessions.get(id);
    if (existing) {
      this.touch(existing);
      return existing;
    }
    while (this.#sessions.size >= this.#options.maxSessions) {
      const oldest = this.#sessions.values().next().value as Session<T>;
      this.remove(oldest.id, 'evicted');
    }
    const session: Session<T> = { id, data, lastSeen: this.#now(), busy: 0 };
    this.#sessions.set(id, session);
    this.#options.onCreated?.(session);
    return session;
  }

  /** Marks the session used now and moves it to the young end of the LRU order. */
  touch(session: Session<T>): void {
    session.lastSeen = this.#now();
    if (this.#sessions.get(session.id) === session) {
      this.#sessions.delete(session.id);
      this.#sessions.set(session.id, session);
    }
  }

  /** Pins the session while a request or stream is open; returns the release function. */
  acquire(session: Session<T>): () => void {
    session.busy++;
    this.touch(session);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      session.busy--;
      this.touch(session);
    };
  }

  /** Removes the session now; false if it was already gone (so a reason is counted once). */
  remove(id: string, reason: CloseReason): boolean {
    const session = this.#sessions.get(id);
    if (!session) return false;
    this.#sessions.delete(id);
    this.#options.onClosed?.(session, reason);
    return true;
  }

  /** Ends sessions idle past the timeout. Busy sessions are re-queued as young. */
  sweep(): number {
    const deadline = this.#now() - this.#options.idleTimeoutMs;
    let removed = 0;
    const requeue: Session<T>[] = [];
    for (const session of this.#sessions.values()) {
      if (session.lastSeen > deadline) break;
      if (session.busy > 0) {
        requeue.push(session);
        continue;
      }
      this.remove(session.id, 'idle_timeout');
      removed++;
    }
    for (const session of requeue) this.touch(session);
    return removed;
  }

  /** Every session ID held (a snapshot is the caller's to take). */
  ids(): IterableIterator<string> {
    return this.#sessions.keys();
  }

  /** Sessions with an open request or stream (fleet mode keeps their shared idle clock fresh). */
  *busySessions(): IterableIterator<Session<T>> {
    for (const session of this.#sessions.values()) if (session.busy > 0) yield session;
  }

  closeAll(reason: CloseReason): void {
    for (const id of [...this.#sessions.keys()]) this.remove(id, reason);
  }

  /** Starts the periodic idle sweep (unref'd: it never keeps the process alive). */
  startSweeper(): void {
    if (this.#timer) return;
    const every = Math.min(30_000, Math.max(250, Math.floor(this.#options.idleTimeoutMs / 10)));
    this.#timer = setInterval(() => this.sweep(), every);
    this.#timer.unref();
  }

  stopSweeper(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
