// Wires the operator together, and only that: the caches and watches (controller/watches.ts),
// the work queue and reconciler, leader election, periodic resync, and the diagnostics
// listener (/metrics, /healthz, /readyz from common/diagnostics.ts).
import { http } from '../../common/builtins.ts';
import type { AddressInfo } from 'node:net';
import { listen } from '../../common/cli/listen.ts';
import { createDiagnostics } from '../../common/diagnostics.ts';
import type { Logger } from '../../common/log.ts';
import type { OperatorConfig } from './config.ts';
import { Reconciler } from './controller/reconciler.ts';
import { allCaches, allConfigKeys, allKeys, createCaches, watchEvents, type Caches } from './controller/watches.ts';
import type { AnyConfigKind } from './configs/configKind.ts';
import type { Cache } from './kube/cache.ts';
import { KubeClient, NotLeaderError } from '../../common/kube/client.ts';
import { keyString, type KubeObject, type ObjectKey } from '../../common/kube/kinds.ts';
import { loadClusterAccess, type ClusterAccess } from '../../common/kube/kubeconfig.ts';
import { LeaderElector } from './kube/leader.ts';
import { WorkQueue } from './kube/queue.ts';
import { createMetrics } from './metrics.ts';

/** What the work queue holds: an MCPServer to reconcile, or a config object whose status to write. */
type WorkKey = ObjectKey & { config?: AnyConfigKind };

export interface RunningOperator {
  metricsUrl: string;
  /** Graceful stop: in-flight reconciles finish, the Lease is released, watches end. */
  stop(): Promise<void>;
}

export async function startOperator(
  config: OperatorConfig,
  log: Logger,
  access: ClusterAccess = loadClusterAccess(config.kubeconfig),
): Promise<RunningOperator> {
  // eslint-disable-next-line prefer-const -- assigned once below, after the closures that read it are built (it is undefined until then)
  let queue: WorkQueue<WorkKey> | undefined;
  // eslint-disable-next-line prefer-const -- assigned once below, after the closures that read it are built (it is undefined until then)
  let caches: Caches | undefined;
  const everyCache = (): Cache<KubeObject>[] => (caches === undefined ? [] : allCaches(caches));

  const metrics = createMetrics({
    queueDepth: () => queue?.depth() ?? 0,
    servers: function* () {
      if (caches === undefined) return;
      for (const m of caches.mcpservers.list()) {
        yield {
          namespace: m.metadata.namespace ?? '',
          name: m.metadata.name,
          phase: m.status?.phase ?? '',
          ready: m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        };
      }
    },
    cacheSizes: () => everyCache().map((c) => [c.resource, c.size()] as [string, number]),
  });
  const client = new KubeClient(access, {
    hooks: { request: (verb, resource, code, seconds) => metrics.apiRequest(verb, resource, code, seconds) },
    userAgent: 'mcpfleet-operator',
  });
  log.info('connecting', { server: access.server, via: access.source });

  const watched = createCaches({ client, namespaces: config.watchNamespaces, log, onRestart: (resource, reason) => metrics.watchRestarted(resource, reason) });
  caches = watched;

  const reconciler = new Reconciler({
    client,
    caches: watched,
    build: { proxyrunnerImage: config.proxyrunnerImage, proxyrunnerImagePullSecrets: config.proxyrunnerImagePullSecrets, proxyDefaults: config.proxyDefaults },
    log,
  });
  const workQueue = new WorkQueue<WorkKey>({
    keyId: (key) => (key.config === undefined ? keyString(key) : `${key.config.info.plural}:${keyString(key)}`),
    concurrency: config.concurrency,
    baseDelayMs: config.requeueBaseDelayMs,
    maxDelayMs: config.requeueMaxDelayMs,
    process: (key) => (key.config === undefined ? reconciler.reconcile(key) : reconciler.reconcileConfig(key.config, key)),
    onDone: (key, result, seconds, err) => {
      metrics.reconciled(result, seconds);
      if (result === 'error' && !(err instanceof NotLeaderError)) {
        log.warn('reconcile failed, will retry', {
          [key.config === undefined ? 'mcpserver' : key.config.info.kind]: keyString(key),
          failures: workQueue.failuresOf(key),
          err: err instanceof Error ? err : String(err),
        });
      }
    },
  });
  queue = workQueue;
  watchEvents(watched, {
    enqueue: (key, lane) => workQueue.add(key, lane),
    forget: (key) => reconciler.forget(key),
    enqueueConfig: (config, key) => workQueue.add({ ...key, config }),
  });

  // --- metrics and health
  const synced = (): boolean => everyCache().every((x) => x.hasSynced());
  const server = http.createServer(
    createDiagnostics({
      program: 'mcpfleet-operator',
      registry: metrics.registry,
      readiness: () => {
        const ok = synced();
        return { ready: ok, body: { status: ok ? 'ready' : 'caches not synced' } };
      },
      enableDebug: false,
      log,
    }),
  );
  await listen(server, { host: config.metricsHost, port: config.metricsPort, hostFlag: 'metrics-host', portFlag: 'metrics-port', what: 'metrics listener' });
  const port = (server.address() as AddressInfo).port;
  const metricsUrl = `http://${config.metricsHost === '0.0.0.0' ? '127.0.0.1' : config.metricsHost}:${port}/metrics`;

  for (const cache of everyCache()) cache.start();

  // --- work, while leading
  let working = false;
  let resync: NodeJS.Timeout | undefined;
  let stopping = false;
  const enqueueAll = (): void => {
    for (const key of allKeys(watched)) workQueue.add(key);
    for (const [config, key] of allConfigKeys(watched)) workQueue.add({ ...key, config });
  };
  const startWork = async (): Promise<void> => {
    await Promise.all(everyCache().map((x) => x.waitForSync()));
    if (stopping || working) return;
    working = true;
    metrics.setLeader(true);
    workQueue.start();
    enqueueAll();
    resync = setInterval(enqueueAll, config.resyncPeriodMs);
    resync.unref();
    log.info('reconciling', { mcpservers: watched.mcpservers.size() });
  };
  const stopWork = async (): Promise<void> => {
    if (!working) return;
    working = false;
    metrics.setLeader(false);
    if (resync) clearInterval(resync);
    await workQueue.stop();
  };

  let elector: LeaderElector | undefined;
  if (config.leaderElect) {
    const namespace = config.leaderElectionNamespace ?? access.namespace ?? 'default';
    const candidate = new LeaderElector({
      client,
      namespace,
      name: config.leaderElectionId,
      identity: config.identity,
      leaseDurationMs: config.leaseDurationMs,
      renewDeadlineMs: config.renewDeadlineMs,
      retryPeriodMs: config.retryPeriodMs,
      log: log.child({ component: 'leader-election' }),
      onStartedLeading: () => {
        void startWork();
      },
      onStoppedLeading: stopWork,
    });
    elector = candidate;
    client.setWriteGate(() => candidate.isLeader());
    log.info('waiting to become leader', { lease: `${namespace}/${config.leaderElectionId}`, identity: config.identity });
    candidate.start();
  } else {
    void startWork();
  }

  return {
    metricsUrl,
    async stop() {
      stopping = true;
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref());
      await Promise.race([stopWork(), timeout]);
      await elector?.stop();
      await Promise.all(everyCache().map((x) => x.stop()));
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
