// Backend discovery for `--backend-service`: the EndpointSlices of the backends' headless
// Service (label kubernetes.io/service-name), listed and then watched through the API, fed
// to the BackendPool as the set of ready pods.
//
// Why EndpointSlices through the API rather than the headless Service's DNS:
//   - a watch says at once that a pod went away, stopped being ready or is terminating;
//     DNS only stops naming it after the record's TTL and the resolver's cache, during which
//     new sessions would be pinned to a dying pod and old ones would not be ended;
//   - the slice names the pod (targetRef), so a re-created pod with a new address is a new
//     backend and never inherits the sessions of the old one;
//   - readiness is the kubelet's probe, not a guess from connect errors.
// The price is an API watch per proxy replica and RBAC for it: get/list/watch on
// endpointslices in one namespace (the operator grants exactly that, and only when
// backendReplicas is used).
//
// The loop never gives up: a watch that ends is resumed from the last resourceVersion;
// 410 Gone (history compacted) relists; other errors retry with capped, jittered backoff.
// While the API cannot be reached the last known set is kept (pods do not vanish because
// the apiserver is away); before the first list nothing is ready and the proxy says so.
import { ApiError, type KubeClient, type WatchEvent } from '../../../common/kube/client.ts';
import { Backoff, sleep } from '../../../common/kube/backoff.ts';
import { ENDPOINTSLICE } from '../../../common/kube/kinds.ts';
import type { Logger } from '../../../common/log.ts';
import { readyBackends, type EndpointSlice, type PortSelector } from './endpoints.ts';
import type { BackendPool } from './pool.ts';

export interface DiscoveryOptions {
  client: KubeClient;
  namespace: string;
  service: string;
  port: PortSelector;
  /** Scheme and path of every backend URL. */
  target: URL;
  pool: BackendPool;
  log: Logger;
  /** Counted per failed list or watch. */
  onError?: () => void;
  /** Server-side watch timeout (default 300 s). */
  watchTimeoutSeconds?: number;
}

export class EndpointDiscovery {
  readonly #options: DiscoveryOptions;
  readonly #slices = new Map<string, EndpointSlice>();
  readonly #abort = new AbortController();
  readonly #backoff = new Backoff(250, 10_000);
  #loop: Promise<void> | undefined;

  constructor(options: DiscoveryOptions) {
    this.#options = options;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  #publish(): void {
    const { port, target, pool } = this.#options;
    pool.update(readyBackends(this.#slices.values(), port, target));
  }

  async #run(): Promise<void> {
    const { client, namespace, service, log } = this.#options;
    const labelSelector = `kubernetes.io/service-name=${service}`;
    const signal = this.#abort.signal;
    let resourceVersion = '';
    while (!signal.aborted) {
      try {
        if (resourceVersion === '') {
          const listed = await client.list<EndpointSlice>(ENDPOINTSLICE, namespace, labelSelector);
          this.#slices.clear();
          for (const slice of listed.items) this.#slices.set(slice.metadata.name, slice);
          resourceVersion = listed.resourceVersion;
          this.#publish();
          log.info('backend endpoints listed', { service, namespace, ready: this.#options.pool.readyCount });
        }
        await client.watch<EndpointSlice>(
          ENDPOINTSLICE,
          namespace,
          { resourceVersion, labelSelector, timeoutSeconds: this.#options.watchTimeoutSeconds ?? 300 },
          (event: WatchEvent<EndpointSlice>) => {
            if (event.type === 'ERROR') {
              const status = event.object as unknown as { code?: number; message?: string };
              throw new ApiError(status.code ?? 500, 'WatchError', status.message ?? 'watch error');
            }
            const rv = event.object.metadata.resourceVersion;
            if (rv) resourceVersion = rv;
            if (event.type === 'BOOKMARK') return;
            if (event.type === 'DELETED') this.#slices.delete(event.object.metadata.name);
            else this.#slices.set(event.object.metadata.name, event.object);
            this.#publish();
          },
          signal,
        );
        this.#backoff.reset();
      } catch (err) {
        if (signal.aborted) return;
        this.#options.onError?.();
        if (err instanceof ApiError && err.code === 410) {
          resourceVersion = ''; // relist; the set is replaced as a whole, so nothing is missed
          continue;
        }
        log.warn('backend endpoint discovery failed; retrying', { err: err as Error, service, namespace });
        await sleep(this.#backoff.next(), signal);
      }
    }
  }
}
