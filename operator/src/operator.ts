// Wires the operator together: informers for MCPServers and everything they own, the work
// queue and reconciler, leader election, periodic resync, and the metrics/health listener.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDiagnostics } from '../../common/diagnostics.ts';
import type { Logger } from '../../common/log.ts';
import type { MCPServer } from './api/types.ts';
import { MANAGED_SELECTOR, LABEL_INSTANCE } from './builders/meta.ts';
import type { OperatorConfig } from './config.ts';
import { Reconciler, controllerOf, instanceIndex, type Caches } from './controller/reconciler.ts';
import { CHILD_KINDS, MCPSERVER, POD, keyOf, type KubeObject } from './kinds.ts';
import { Cache } from './runtime/cache.ts';
import { KubeClient, NotLeaderError } from './runtime/client.ts';
import type { EventType } from './runtime/informer.ts';
import { loadClusterAccess, type ClusterAccess } from './runtime/kubeconfig.ts';
import { LeaderElector } from './runtime/leader.ts';
import { createMetrics } from './runtime/metrics.ts';
import { WorkQueue } from './runtime/queue.ts';
import { sameForOperator, slimChild, slimPod, stripMeta } from './runtime/transforms.ts';

export interface RunningOperator {
  metricsUrl: string;
  /** Graceful stop: in-flight reconciles finish, the Lease is released, watches end. */
  stop(): Promise<void>;
}

type McpObject = MCPServer & KubeObject;

export async function startOperator(config: OperatorConfig, log: Logger, access: ClusterAccess = loadClusterAccess(config.kubeconfig)): Promise<RunningOperator> {
  let queue: WorkQueue | undefined;
  let caches: Caches | undefined;
  const allCaches = (): Cache<KubeObject>[] =>
    caches === undefined ? [] : [caches.mcpservers as unknown as Cache<KubeObject>, ...caches.children.values(), caches.pods];

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
    cacheSizes: () => allCaches().map((c) => [c.resource, c.size()] as [string, number]),
  });
  const client = new KubeClient(access, {
    hooks: { request: (verb, resource, code, seconds) => metrics.apiRequest(verb, resource, code, seconds) },
    userAgent: 'mcpfleet-operator',
  });
  log.info('connecting', { server: access.server, via: access.source });

  const namespaces = config.watchNamespaces;
  const onRestart = (resource: string, reason: string): void => metrics.watchRestarted(resource, reason);
  const children = new Map<string, Cache<KubeObject>>();
  for (const kind of CHILD_KINDS) {
    children.set(
      kind.plural,
      new Cache<KubeObject>(client, namespaces, { kind, labelSelector: MANAGED_SELECTOR, transform: slimChild(kind.kind), indexBy: instanceIndex, log, onRestart }),
    );
  }
  caches = {
    mcpservers: new Cache<McpObject>(client, namespaces, { kind: MCPSERVER, transform: stripMeta, log, onRestart }),
    children,
    pods: new Cache<KubeObject>(client, namespaces, { kind: POD, labelSelector: MANAGED_SELECTOR, transform: slimPod, indexBy: instanceIndex, log, onRestart }),
  };
  const c = caches;

  const reconciler = new Reconciler({ client, caches: c, build: { proxyrunnerImage: config.proxyrunnerImage, proxyrunnerImagePullSecrets: config.proxyrunnerImagePullSecrets, proxyDefaults: config.proxyDefaults }, log });
  const q = new WorkQueue({
    concurrency: config.concurrency,
    baseDelayMs: config.requeueBaseDelayMs,
    maxDelayMs: config.requeueMaxDelayMs,
    process: (key) => reconciler.reconcile(key),
    onDone: (key, result, seconds, err) => {
      metrics.reconciled(result, seconds);
      if (result === 'error' && !(err instanceof NotLeaderError)) {
        log.warn('reconcile failed, will retry', { mcpserver: key, failures: q.failuresOf(key), err: err instanceof Error ? err : String(err) });
      }
    },
  });
  queue = q;

  // --- events -> keys
  c.mcpservers.on((type: EventType, obj, old) => {
    if (type === 'update' && old !== undefined) {
      if (old.metadata.resourceVersion === obj.metadata.resourceVersion) return; // the echo of our own write
      const relevant =
        old.metadata.generation !== obj.metadata.generation ||
        old.metadata.deletionTimestamp !== obj.metadata.deletionTimestamp ||
        old.metadata.uid !== obj.metadata.uid;
      if (!relevant) return; // status or metadata only: nothing to do
    }
    if (type === 'delete') {
      reconciler.forget(keyOf(obj.metadata.namespace, obj.metadata.name));
      return; // owner references: the garbage collector removes the children
    }
    q.add(keyOf(obj.metadata.namespace, obj.metadata.name));
  });
  // An update that changes nothing the operator reads (the echo of its own write, or a
  // controller's status churn that the transforms drop) needs no reconcile: under load those
  // are most of the events.
  const irrelevant = (type: EventType, obj: KubeObject, old: KubeObject | undefined): boolean =>
    type === 'update' && old !== undefined && (old.metadata.resourceVersion === obj.metadata.resourceVersion || sameForOperator(old, obj));
  const enqueueOwner = (type: EventType, obj: KubeObject, old: KubeObject | undefined): void => {
    if (irrelevant(type, obj, old)) return;
    const owner = controllerOf(obj);
    const name = owner?.name ?? obj.metadata.labels?.[LABEL_INSTANCE];
    if (name !== undefined && obj.metadata.namespace !== undefined) q.add(keyOf(obj.metadata.namespace, name), 'high');
  };
  for (const cache of children.values()) cache.on(enqueueOwner);
  c.pods.on((type, obj, old) => {
    if (irrelevant(type, obj, old)) return;
    const name = obj.metadata.labels?.[LABEL_INSTANCE];
    if (name !== undefined && obj.metadata.namespace !== undefined) q.add(keyOf(obj.metadata.namespace, name), 'high');
  });

  // --- metrics and health
  const synced = (): boolean => allCaches().every((x) => x.hasSynced());
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.metricsPort, config.metricsHost, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const metricsUrl = `http://${config.metricsHost === '0.0.0.0' ? '127.0.0.1' : config.metricsHost}:${port}/metrics`;

  for (const cache of allCaches()) cache.start();

  // --- work, while leading
  let working = false;
  let resync: NodeJS.Timeout | undefined;
  let stopping = false;
  const enqueueAll = (): void => {
    for (const m of c.mcpservers.list()) q.add(keyOf(m.metadata.namespace, m.metadata.name));
  };
  const startWork = async (): Promise<void> => {
    await Promise.all(allCaches().map((x) => x.waitForSync()));
    if (stopping || working) return;
    working = true;
    metrics.setLeader(true);
    q.start();
    enqueueAll();
    resync = setInterval(enqueueAll, config.resyncPeriodMs);
    resync.unref();
    log.info('reconciling', { mcpservers: c.mcpservers.size() });
  };
  const stopWork = async (): Promise<void> => {
    if (!working) return;
    working = false;
    metrics.setLeader(false);
    if (resync) clearInterval(resync);
    await q.stop();
  };

  let elector: LeaderElector | undefined;
  if (config.leaderElect) {
    const namespace = config.leaderElectionNamespace ?? access.namespace ?? 'default';
    const le = new LeaderElector({
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
    elector = le;
    client.setWriteGate(() => le.isLeader());
    log.info('waiting to become leader', { lease: `${namespace}/${config.leaderElectionId}`, identity: config.identity });
    le.start();
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
      await Promise.all(allCaches().map((x) => x.stop()));
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
