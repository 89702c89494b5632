// stdio inside Kubernetes: the MCP server runs in its own pods (a StatefulSet with
// `stdin: true`, created by the operator) and the proxyrunner attaches to a container's
// stdin/stdout through the pods/attach API. This module is the thin I/O edge: a launcher
// that attaches to one named pod (upstream/attachedPods.ts runs one per pod, each under its
// own supervisor that reattaches with backoff while the pod lives), and the list+watch of
// the pods that match the selector (upstream/podSet.ts decides which to attach to).
//
// The pods are listed, watched and attached with the project's own small client
// (common/kube/), not @kubernetes/client-node, whose import alone would add 38–54 MiB to
// every stdio proxy pod.
//
// The watch loop never gives up: a watch that ends is resumed from the last resourceVersion
// (after a short wait if it ended at once, so a server that closes every watch cannot spin
// the loop); 410 Gone relists; other errors retry with capped, jittered backoff. While the
// API cannot be reached the last known pods are kept (an attach that works is not dropped
// because the apiserver is away; an attach that ends says so by itself).
import type { Logger } from '../../../common/log.ts';
import { attach, type AttachStream } from '../../../common/kube/attach.ts';
import { ApiError, type KubeClient, type WatchEvent } from '../../../common/kube/client.ts';
import { Backoff, sleep } from '../../../common/kube/backoff.ts';
import { POD } from '../../../common/kube/kinds.ts';
import type { ClusterAccess } from '../../../common/kube/kubeconfig.ts';
import type { PodView } from './podSet.ts';
import type { StdioLauncher } from './stdio.ts';

export interface AttachTarget {
  namespace: string;
  selector: string;
  container: string;
}

/**
 * Largest message taken from the attach stream. The kubelet sends stdout in reads of at most
 * 32 KiB; a bigger frame is not a container's output, and ends the stream before it is buffered.
 */
export const MAX_ATTACH_FRAME_BYTES = 1024 * 1024;

export const ATTACH_USER_AGENT = 'mcpfleet-proxyrunner';

/** Attaches to the container of the pod `pod` (by name); each launch is a new attach. */
export function podAttachLauncher(target: AttachTarget, pod: string, log: Logger, connectTimeoutMs: number, access: ClusterAccess): StdioLauncher {
  return async () => {
    let stream: AttachStream;
    try {
      stream = await attach(access, {
        namespace: target.namespace,
        pod,
        container: target.container,
        connectTimeoutMs,
        maxFrameBytes: MAX_ATTACH_FRAME_BYTES,
        userAgent: ATTACH_USER_AGENT,
      });
    } catch (err) {
      throw new Error(`attach to pod ${pod}: ${(err as Error).message}`, { cause: err });
    }
    stream.stderr.on('data', (chunk: Buffer) => log.info('stdio server stderr', { pod, line: chunk.toString('utf8').trimEnd().slice(0, 2000) }));
    const exited = stream.ended.then((how) => `attach to pod ${pod} ${how}`);
    log.info('attached to stdio server pod', { namespace: target.namespace, pod, container: target.container, protocol: stream.protocol });
    return { stdin: stream.stdin, stdout: stream.stdout, exited, kill: () => stream.close() };
  };
}

export interface PodWatchOptions {
  client: KubeClient;
  target: AttachTarget;
  log: Logger;
  /** The matching pods, after the first list and after every change. */
  onPods: (pods: Iterable<PodView>) => void;
  /** A failed list or watch (counted; `err` says why). */
  onError: (err: Error) => void;
  /** Server-side watch timeout (default 300 s). */
  watchTimeoutSeconds?: number;
  /** A watch shorter than this is followed by a backoff wait (default 1 s). */
  minWatchMs?: number;
  /** Retry delays (default 250 ms doubling to 10 s, jittered). */
  backoff?: Backoff;
}

/** Lists, then watches, the pods matching the selector; never gives up until stopped. */
export class PodWatch {
  readonly #options: PodWatchOptions;
  readonly #pods = new Map<string, PodView>();
  readonly #abort = new AbortController();
  readonly #backoff: Backoff;
  #loop: Promise<void> | undefined;

  constructor(options: PodWatchOptions) {
    this.#options = options;
    this.#backoff = options.backoff ?? new Backoff(250, 10_000);
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { client, target, log, onPods } = this.#options;
    const signal = this.#abort.signal;
    let resourceVersion = '';
    while (!signal.aborted) {
      const began = performance.now();
      try {
        if (resourceVersion === '') {
          const listed = await client.list<PodView>(POD, target.namespace, target.selector);
          if (signal.aborted) return;
          this.#pods.clear();
          for (const pod of listed.items) this.#pods.set(pod.metadata.name, pod);
          resourceVersion = listed.resourceVersion;
          onPods(this.#pods.values());
        }
        await client.watch<PodView>(
          POD,
          target.namespace,
          { resourceVersion, labelSelector: target.selector, timeoutSeconds: this.#options.watchTimeoutSeconds ?? 300 },
          (event: WatchEvent<PodView>) => {
            if (event.type === 'ERROR') {
              const status = event.object as unknown as { code?: number; message?: string };
              throw new ApiError(status.code ?? 500, 'WatchError', status.message ?? 'watch error');
            }
            const rv = event.object?.metadata?.resourceVersion;
            if (rv) resourceVersion = rv;
            if (event.type === 'DELETED') this.#pods.delete(event.object.metadata.name);
            else if (event.type === 'ADDED' || event.type === 'MODIFIED') this.#pods.set(event.object.metadata.name, event.object);
            else return; // BOOKMARK, or nothing we know
            onPods(this.#pods.values());
          },
          signal,
        );
        if (performance.now() - began < (this.#options.minWatchMs ?? 1_000)) await sleep(this.#backoff.next(), signal);
        else this.#backoff.reset();
      } catch (err) {
        if (signal.aborted) return;
        this.#options.onError(err as Error);
        if (err instanceof ApiError && err.code === 410) {
          resourceVersion = ''; // relist; the set is replaced as a whole, so nothing is missed
          continue;
        }
        log.warn('stdio attach: listing or watching the pods failed; retrying', { err: err as Error, selector: target.selector, namespace: target.namespace });
        await sleep(this.#backoff.next(), signal);
      }
    }
  }
}
