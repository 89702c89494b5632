// One kind across the watched namespaces: an informer per namespace (or one for all),
// read through a single interface.
import type { KubeObject } from '../../../common/kube/kinds.ts';
import { Informer, type Handler, type InformerOptions } from './informer.ts';
import type { KubeClient } from '../../../common/kube/client.ts';

export class Cache<T extends KubeObject> {
  readonly resource: string;
  private readonly informers: Informer<T>[];
  private readonly byNamespace = new Map<string, Informer<T>>();

  /** namespaces: undefined watches all namespaces with one informer. */
  constructor(client: KubeClient, namespaces: readonly string[] | undefined, opts: Omit<InformerOptions<T>, 'namespace'>) {
    this.resource = opts.kind.plural;
    if (namespaces === undefined) {
      this.informers = [new Informer<T>(client, { ...opts, namespace: undefined })];
    } else {
      this.informers = namespaces.map((ns) => {
        const inf = new Informer<T>(client, { ...opts, namespace: ns });
        this.byNamespace.set(ns, inf);
        return inf;
      });
    }
  }

  private informer(namespace: string | undefined): Informer<T> | undefined {
    if (this.byNamespace.size === 0) return this.informers[0];
    return namespace === undefined ? undefined : this.byNamespace.get(namespace);
  }

  on(handler: Handler<T>): void {
    for (const i of this.informers) i.on(handler);
  }

  start(): void {
    for (const i of this.informers) i.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  hasSynced(): boolean {
    return this.informers.every((i) => i.hasSynced());
  }

  async waitForSync(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.waitForSync()));
  }

  get(namespace: string, name: string): T | undefined {
    return this.informer(namespace)?.get(namespace, name);
  }

  byIndex(value: string): T[] {
    return this.informers.flatMap((i) => i.byIndex(value));
  }

  *list(): IterableIterator<T> {
    for (const i of this.informers) yield* i.list();
  }

  size(): number {
    return this.informers.reduce((n, i) => n + i.size(), 0);
  }

  upsert(obj: T): void {
    this.informer(obj.metadata.namespace)?.upsert(obj);
  }
}
