// stdio attach mode: one attach, hence one multiplexed stdio process link, per running pod
// that matches the selector (at most --attach-max-pods), and each session on exactly one of
// them. The model is the HTTP backendReplicas path (backends/): the same BackendPool does
// the bookkeeping, so the choice and the metrics are the same.
// Invariants:
//   - a new session goes to the attached pod with the fewest sessions (ties round-robin) and
//     all of its traffic goes there for its life: its Link IS that pod's multiplexer link;
//   - when a pod's attach ends (the container exited, the pod was deleted or stopped
//     running, the proxy detached because the pod left the usable set) that pod's
//     multiplexer closes its links, so exactly that pod's sessions end (upstream_closed);
//     the others are untouched. A pod that is still usable is reattached with backoff by its
//     supervisor; a pod that left the set is not;
//   - requests without a session (stateless) go round-robin over the attached pods
//     (Connector.spread; frontend/stateless.ts keeps one channel per pod);
//   - ready while at least one pod is attached; upstream_up says the same;
//   - memory: each pod has the bounds of one shared stdio process (lines charged to the
//     buffer budget), and the stdin backlog bound (MAX_STDIN_BACKLOG) is divided among the
//     --attach-max-pods pods, so the total stays what one process had;
//   - every wait is bounded: open() waits at most `openWaitMs` for a pod to come up, each
//     attach by --upstream-connect-timeout, the API calls by the client's timeout.
// The proxy replicas of a stdio server are at most 1 (operator CEL; and --session-storage
// redis is refused with stdio), so a session's pod lives in this process only.
import type { Readiness } from '../../../common/diagnostics.ts';
import type { Logger } from '../../../common/log.ts';
import { KubeClient } from '../../../common/kube/client.ts';
import { loadClusterAccess, type ClusterAccess } from '../../../common/kube/kubeconfig.ts';
import { BackendPool } from '../backends/pool.ts';
import { createBackendMetrics, type BackendMetrics } from '../backends/backendMetrics.ts';
import type { RpcMessage } from '../jsonrpc.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { Connector, Link, Spread, UpstreamEndReason } from './link.ts';
import type { FrameLimits } from './lines.ts';
import { StdioMultiplexer } from './multiplexer.ts';
import { ATTACH_USER_AGENT, PodWatch, podAttachLauncher, type AttachTarget } from './podAttach.ts';
import { attachChanges, desiredAttaches, type PodTarget, type PodView } from './podSet.ts';
import { MAX_STDIN_BACKLOG } from './stdio.ts';

/** One pod's process link: opened for a session, or for stateless requests. */
export interface PodProcess {
  readonly running: boolean;
  open(): Promise<Link>;
  readiness(): Readiness;
  close(reason: string): Promise<void>;
}

/** Makes the process link of one pod; `onUpChange` is told when its attach comes up or ends. */
export type PodProcessFactory = (pod: PodTarget, onUpChange: (up: boolean) => void, stdinBacklogBytes: number) => PodProcess;

export interface AttachedPodsOptions {
  target: AttachTarget;
  maxPods: number;
  log: Logger;
  metrics: ProxyMetrics;
  process: PodProcessFactory;
  /** How long open() waits for a pod to be attached when none is. */
  openWaitMs: number;
}

/** Ends the session's count on its pod when the link closes, from either side. */
class CountedLink implements Link {
  onmessage: (message: RpcMessage) => void = () => {};
  onclose: (reason?: UpstreamEndReason) => void = () => {};
  readonly #inner: Link;
  readonly #release: () => void;

  constructor(inner: Link, release: () => void) {
    this.#inner = inner;
    this.#release = release;
    inner.onmessage = (message) => this.onmessage(message);
    inner.onclose = (reason) => {
      release();
      this.onclose(reason);
    };
  }

  send(message: RpcMessage): void {
    this.#inner.send(message);
  }

  close(): void {
    this.#release();
    this.#inner.close();
  }
}

export class AttachedPods implements Connector {
  readonly spread: Spread;
  readonly #options: AttachedPodsOptions;
  readonly #attached = new Map<string, { target: PodTarget; process: PodProcess }>();
  /** Ready set: the pods attached now; pins: this proxy's sessions. */
  readonly pool = new BackendPool<PodTarget>();
  #waiters: (() => void)[] = [];
  #nextLink = 1;
  #listed = false;
  #listError: string | undefined;
  #nothingMatches: string | undefined;
  #closed = false;

  constructor(options: AttachedPodsOptions) {
    this.#options = options;
    this.spread = {
      next: () => this.pool.next()?.key,
      openOn: async (key) => {
        const entry = this.#attached.get(key);
        if (!entry?.process.running) throw new Error(`stdio MCP server is not running (pod ${key} is not attached)`);
        return entry.process.open();
      },
    };
    options.metrics.setUpstreamUp(false);
  }

  /** The pods that match the selector now (from the watch): attach to new ones, detach from those gone. */
  update(pods: Iterable<PodView>): void {
    if (this.#closed) return;
    this.#listed = true;
    this.#listError = undefined;
    const { target, maxPods, log } = this.#options;
    const attachedKeys = new Set(this.#attached.keys());
    const desired = desiredAttaches(pods, target.container, attachedKeys, maxPods);
    const changes = attachChanges(desired, attachedKeys);
    for (const key of changes.close) {
      const entry = this.#attached.get(key);
      if (!entry) continue;
      this.#attached.delete(key);
      log.info('stdio attach: detaching from a pod that is gone or no longer running', { pod: entry.target.name, key });
      void entry.process.close(`pod ${entry.target.name} is gone or no longer running`);
    }
    const perPodBacklog = Math.max(1, Math.floor(MAX_STDIN_BACKLOG / maxPods));
    for (const pod of changes.open) {
      const process = this.#options.process(pod, () => this.#refresh(), perPodBacklog);
      this.#attached.set(pod.key, { target: pod, process });
    }
    const nothing = desired.length === 0 ? `no running pod with container "${target.container}" matches ${target.selector} in ${target.namespace}` : undefined;
    if (nothing !== undefined && nothing !== this.#nothingMatches) log.warn('stdio attach: no pod to attach to', { reason: nothing });
    this.#nothingMatches = nothing;
    this.#refresh();
  }

  /** Listing or watching failed (the last known pods are kept). */
  listFailed(err: Error): void {
    this.#listError = err.message;
  }

  #refresh(): void {
    const up: PodTarget[] = [];
    for (const { target, process } of this.#attached.values()) if (process.running) up.push(target);
    this.pool.update(up);
    this.#options.metrics.setUpstreamUp(up.length > 0);
    if (up.length > 0) for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Why no pod can take a session now. */
  #why(): string {
    if (!this.#listed) return this.#listError ? `listing the pods failed: ${this.#listError}` : 'the pods are not listed yet';
    if (this.#nothingMatches !== undefined) return this.#nothingMatches;
    const downs = [...this.#attached.values()].map(({ process }) => process.readiness().detail);
    return downs.length === 1 ? String(downs[0]) : `none of ${downs.length} pods is attached`;
  }

  readiness(): Readiness {
    const n = this.pool.readyCount;
    if (n > 0) return { ready: true, detail: `stdio server running in ${n} attached pod${n === 1 ? '' : 's'}` };
    return { ready: false, detail: `stdio server not running (${this.#why()})` };
  }

  /** A session's link, on the attached pod with the fewest sessions. */
  async open(): Promise<Link> {
    if (this.pool.readyCount === 0 && !this.#closed) await this.#waitUp();
    const pod = this.pool.leastSessions();
    const entry = pod ? this.#attached.get(pod.key) : undefined;
    if (!pod || !entry) throw new Error(`stdio MCP server is not running (${this.#why()})`);
    const inner = await entry.process.open();
    const id = `link-${this.#nextLink++}`;
    this.pool.pin(id, pod.key);
    return new CountedLink(inner, () => this.pool.unpin(id));
  }

  #waitUp(): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        resolve();
      }, this.#options.openWaitMs);
      this.#waiters.push(wake);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of this.#waiters.splice(0)) wake();
    const entries = [...this.#attached.values()];
    this.#attached.clear();
    await Promise.all(entries.map(({ process }) => process.close('proxy shutting down')));
    this.#refresh();
  }
}

export interface AttachModeOptions {
  target: AttachTarget;
  maxPods: number;
  log: Logger;
  metrics: ProxyMetrics;
  limits: FrameLimits;
  responseTimeoutMs: number;
  connectTimeoutMs: number;
  access?: ClusterAccess;
}

/** Attach mode as the proxy runs it: the pod watch, one multiplexer per attached pod, the backend metrics. */
export function startAttachMode(options: AttachModeOptions): Connector {
  const { target, log, metrics, limits, responseTimeoutMs, connectTimeoutMs } = options;
  const access = options.access ?? loadClusterAccess(undefined);
  // One upstream_up for the whole set (the connector's): each multiplexer's own is not reported.
  const perPodMetrics: ProxyMetrics = { ...metrics, setUpstreamUp: () => {} };
  const pods = new AttachedPods({
    target,
    maxPods: options.maxPods,
    log,
    metrics,
    openWaitMs: 5_000,
    process: (pod, onUpChange, stdinBacklogBytes) => {
      const mux = new StdioMultiplexer(podAttachLauncher(target, pod.name, log, connectTimeoutMs, access), log, perPodMetrics, {
        limits,
        responseTimeoutMs,
        stdinBacklogBytes,
        onUpChange,
      });
      return {
        get running() {
          return mux.running;
        },
        open: () => mux.open(),
        readiness: () => mux.readiness(),
        close: (reason) => mux.close(reason),
      };
    },
  });
  const backendMetrics: BackendMetrics = createBackendMetrics(metrics.registry, pods.pool, { recoveries: false });
  const client = new KubeClient(access, { userAgent: ATTACH_USER_AGENT, maxSockets: 2, timeoutMs: connectTimeoutMs });
  const watch = new PodWatch({
    client,
    target,
    log,
    onPods: (list) => pods.update(list),
    onError: (err) => {
      backendMetrics.discoveryError();
      pods.listFailed(err);
    },
  });
  watch.start();
  return {
    open: () => pods.open(),
    readiness: () => pods.readiness(),
    spread: pods.spread,
    async close() {
      await watch.stop();
      await pods.close();
    },
  };
}
