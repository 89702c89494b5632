// List+watch into an in-memory cache, one kind and one namespace (or all). Never gives up:
//   - a watch that ends normally is resumed from the last resourceVersion seen;
//   - 410 Gone (or an ERROR event with code 410: history compacted, watch cache reset)
//     relists and emits the differences, so nothing that happened meanwhile is lost
//     (objects deleted during an outage are reported as deleted);
//   - any other error (apiserver down, connection reset, 5xx) retries with exponential
//     backoff and jitter, resuming from the last resourceVersion.
// client-node's makeInformer relists on 410 but stops for good on other errors; this is
// the loop it lacks.
import { keyOf, type KindInfo, type KubeObject } from '../../../common/kube/kinds.ts';
import type { Logger } from '../../../common/log.ts';
import { ApiError, type KubeClient, type WatchEvent } from '../../../common/kube/client.ts';
import { Backoff, sleep } from '../../../common/kube/backoff.ts';

export type EventType = 'add' | 'update' | 'delete';
export type Handler<T> = (type: EventType, obj: T, old: T | undefined) => void;

export interface InformerOptions<T extends KubeObject> {
  kind: KindInfo;
  /** undefined: all namespaces. */
  namespace: string | undefined;
  labelSelector?: string;
  fieldSelector?: string;
  /** Applied to every object before it is cached (drop what is never read). */
  transform?: (obj: T) => T;
  /** Secondary index: objects by this key (e.g. "ns/instance"), or by each of several keys. */
  indexBy?: (obj: T) => string | readonly string[] | undefined;
  log: Logger;
  onRestart?: (resource: string, reason: 'expired' | 'error' | 'closed') => void;
  /** Server-side watch timeout is drawn from [min, 2*min) seconds (default 300). */
  minWatchTimeoutSeconds?: number;
  backoff?: Backoff;
}

function rvNewer(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined) return false;
  if (b === undefined) return true;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) > BigInt(b);
  return a !== b;
}

export class Informer<T extends KubeObject> {
  readonly kind: KindInfo;
  readonly namespace: string | undefined;
  private readonly client: KubeClient;
  private readonly opts: InformerOptions<T>;
  private readonly store = new Map<string, T>();
  private readonly index = new Map<string, Set<string>>();
  private readonly handlers: Handler<T>[] = [];
  private readonly abort = new AbortController();
  private readonly backoff: Backoff;
  private resourceVersion = '';
  private synced = false;
  private loop: Promise<void> | undefined;
  private syncWaiters: (() => void)[] = [];

  constructor(client: KubeClient, opts: InformerOptions<T>) {
    this.client = client;
    this.opts = opts;
    this.kind = opts.kind;
    this.namespace = opts.namespace;
    this.backoff = opts.backoff ?? new Backoff(500, 10_000);
  }

  on(handler: Handler<T>): void {
    this.handlers.push(handler);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(keyOf(namespace, name));
  }

  list(): IterableIterator<T> {
    return this.store.values();
  }

  size(): number {
    return this.store.size;
  }

  byIndex(value: string): T[] {
    const keys = this.index.get(value);
    if (keys === undefined) return [];
    const out: T[] = [];
    for (const k of keys) {
      const obj = this.store.get(k);
      if (obj !== undefined) out.push(obj);
    }
    return out;
  }

  /**
   * Puts an object the operator just wrote (the apiserver's answer) into the cache, when it is
   * newer than the cached one, so a reconcile before the watch event arrives sees it. No event.
   */
  upsert(obj: T): void {
    const t = this.opts.transform ? this.opts.transform(obj) : obj;
    const key = keyOf(t.metadata.namespace, t.metadata.name);
    const old = this.store.get(key);
    if (old !== undefined && !rvNewer(t.metadata.resourceVersion, old.metadata.resourceVersion)) return;
    this.put(key, t, old);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private indexValues(obj: T): readonly string[] {
    const values = this.opts.indexBy?.(obj);
    return values === undefined ? [] : typeof values === 'string' ? [values] : values;
  }

  private unindex(key: string, value: string): void {
    const set = this.index.get(value);
    set?.delete(key);
    if (set?.size === 0) this.index.delete(value);
  }

  private put(key: string, obj: T, old: T | undefined): void {
    if (this.opts.indexBy) {
      const before = old ? this.indexValues(old) : [];
      const after = this.indexValues(obj);
      for (const value of before) if (!after.includes(value)) this.unindex(key, value);
      for (const value of after) {
        let set = this.index.get(value);
        if (set === undefined) this.index.set(value, (set = new Set()));
        set.add(key);
      }
    }
    this.store.set(key, obj);
  }

  private remove(key: string, old: T): void {
    for (const value of this.indexValues(old)) this.unindex(key, value);
    this.store.delete(key);
  }

  private emit(type: EventType, obj: T, old: T | undefined): void {
    for (const h of this.handlers) {
      try {
        h(type, obj, old);
      } catch (err) {
        this.opts.log.error('informer handler failed', { resource: this.kind.plural, err });
      }
    }
  }

  private what(): Record<string, unknown> {
    return { resource: this.kind.plural, namespace: this.namespace ?? '*' };
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.client.list<T>(this.kind, this.namespace, this.opts.labelSelector, 500, this.opts.fieldSelector);
    const seen = new Set<string>();
    const changes: [EventType, T, T | undefined][] = [];
    for (const raw of items) {
      const obj = this.opts.transform ? this.opts.transform(raw) : raw;
      const key = keyOf(obj.metadata.namespace, obj.metadata.name);
      seen.add(key);
      const old = this.store.get(key);
      if (old === undefined) changes.push(['add', obj, undefined]);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) changes.push(['update', obj, old]);
      this.put(key, obj, old);
    }
    for (const [key, old] of [...this.store]) {
      if (!seen.has(key)) {
        this.remove(key, old);
        changes.push(['delete', old, old]);
      }
    }
    this.resourceVersion = resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    this.opts.log.debug('listed', { ...this.what(), items: items.length, resourceVersion, changes: changes.length });
    for (const [type, obj, old] of changes) this.emit(type, obj, type === 'delete' ? undefined : old);
  }

  private onWatchEvent(event: WatchEvent<T>): void {
    if (event.type === 'ERROR') {
      const status = event.object as unknown as { code?: number; reason?: string; message?: string };
      throw new ApiError(status.code ?? 500, status.reason ?? 'WatchError', status.message ?? 'watch error event');
    }
    const rv = event.object.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
    }
    const obj = this.opts.transform ? this.opts.transform(event.object) : event.object;
    obj.apiVersion ??= this.kind.apiVersion;
    obj.kind ??= this.kind.kind;
    const key = keyOf(obj.metadata.namespace, obj.metadata.name);
    const old = this.store.get(key);
    if (event.type === 'DELETED') {
      if (old !== undefined) this.remove(key, old);
      this.emit('delete', obj, undefined);
    } else {
      this.put(key, obj, old);
      this.emit(old === undefined ? 'add' : 'update', obj, old);
    }
    if (rv) this.resourceVersion = rv;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const min = this.opts.minWatchTimeoutSeconds ?? 300;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        const timeoutSeconds = Math.floor(min + Math.random() * min);
        const started = Date.now();
        await this.client.watch<T>(
          this.kind,
          this.namespace,
          {
            resourceVersion: this.resourceVersion,
            timeoutSeconds,
            ...(this.opts.labelSelector && { labelSelector: this.opts.labelSelector }),
            ...(this.opts.fieldSelector && { fieldSelector: this.opts.fieldSelector }),
          },
          (e) => this.onWatchEvent(e),
          signal,
        );
        if (signal.aborted) break;
        // The server closed the stream (its timeout, or it is shutting down): resume.
        if (Date.now() - started > 1000) this.backoff.reset();
        else await sleep(this.backoff.next(), signal);
        this.opts.onRestart?.(this.kind.plural, 'closed');
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof ApiError && (err.code === 410 || err.reason === 'Expired' || err.reason === 'Gone')) {
          this.opts.log.info('watch expired, relisting', { ...this.what(), err: err.message });
          this.opts.onRestart?.(this.kind.plural, 'expired');
          needList = true;
          continue;
        }
        const delay = this.backoff.next();
        this.opts.log.warn('watch failed, retrying', { ...this.what(), err, retryInMs: delay, relist: needList });
        this.opts.onRestart?.(this.kind.plural, 'error');
        await sleep(delay, signal);
      }
    }
  }
}
