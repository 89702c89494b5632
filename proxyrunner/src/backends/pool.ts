// The backend pods a proxy may route to right now, and how many of this replica's sessions
// each holds. Pure bookkeeping (no I/O): discovery.ts feeds it the ready set, the
// transparent path asks it where an initialize or a stateless request goes and tells it
// which sessions are pinned where. Generic over the backend's shape (anything with a key):
// the stdio attach path (upstream/attachedPods.ts) keeps its attached pods in one too.
// Invariants: a session is counted on exactly one backend (pin/unpin are idempotent per
// session ID); a backend that leaves the ready set is reported once through `onGone`, so its
// sessions can be ended (or, later, recovered) by the caller, and its count stays until they
// are unpinned or pinned elsewhere; initialize
// goes to the ready backend with the fewest sessions (ties: the next in round-robin order,
// so an idle fleet still spreads); stateless requests go round-robin.
import type { Backend } from './endpoints.ts';

export class BackendPool<B extends { key: string } = Backend> {
  #ready = new Map<string, B>();
  /** Session ID → backend key, for this replica's sessions. */
  readonly #pins = new Map<string, string>();
  readonly #counts = new Map<string, number>();
  readonly #goneListeners: ((key: string) => void)[] = [];
  #cursor = 0;
  #synced = false;

  /** Replaces the ready set; backends that left it are reported to `onGone` listeners. */
  update(backends: readonly B[]): void {
    const next = new Map(backends.map((b) => [b.key, b]));
    const gone = [...this.#ready.keys()].filter((key) => !next.has(key));
    this.#ready = next;
    this.#synced = true;
    for (const key of gone) for (const listener of this.#goneListeners) listener(key);
  }

  onGone(listener: (key: string) => void): void {
    this.#goneListeners.push(listener);
  }

  /** The first list of the slices arrived (before it, nothing is known to be ready). */
  get synced(): boolean {
    return this.#synced;
  }

  get readyCount(): number {
    return this.#ready.size;
  }

  /** The backend if it is ready. */
  get(key: string): B | undefined {
    return this.#ready.get(key);
  }

  /** Where a new session goes: the ready backend holding the fewest sessions here. */
  leastSessions(): B | undefined {
    const ready = [...this.#ready.values()];
    if (ready.length === 0) return undefined;
    let best: B | undefined;
    let bestCount = Infinity;
    const start = this.#cursor++ % ready.length;
    for (let i = 0; i < ready.length; i++) {
      const backend = ready[(start + i) % ready.length] as B;
      const count = this.#counts.get(backend.key) ?? 0;
      if (count < bestCount) {
        best = backend;
        bestCount = count;
      }
    }
    return best;
  }

  /** Where a request without a session goes: round-robin over the ready backends. */
  next(): B | undefined {
    const ready = [...this.#ready.values()];
    if (ready.length === 0) return undefined;
    return ready[this.#cursor++ % ready.length];
  }

  /** The session is held here and pinned to `key` (moves it if it was pinned elsewhere). */
  pin(sessionId: string, key: string): void {
    if (this.#pins.get(sessionId) === key) return;
    this.unpin(sessionId);
    this.#pins.set(sessionId, key);
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  unpin(sessionId: string): void {
    const key = this.#pins.get(sessionId);
    if (key === undefined) return;
    this.#pins.delete(sessionId);
    const left = (this.#counts.get(key) ?? 1) - 1;
    if (left > 0) this.#counts.set(key, left);
    else this.#counts.delete(key);
  }

  /** This replica's sessions pinned to `key`. */
  sessionsOn(key: string): string[] {
    const ids: string[] = [];
    for (const [id, pinned] of this.#pins) if (pinned === key) ids.push(id);
    return ids;
  }

  /** Sessions per backend (ready ones at 0 included), for the metrics. */
  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const key of this.#ready.keys()) counts.set(key, 0);
    for (const [key, n] of this.#counts) counts.set(key, n);
    return counts;
  }
}
