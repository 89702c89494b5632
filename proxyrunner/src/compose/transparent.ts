// The transparent upstream kind (streamable HTTP in, streamable HTTP out): http-proxy-3 in
// front of the MCP server, a metered session registry, and a TCP probe for readiness.
// With `--session-storage redis` the registry is only this replica's cache: the fleet's
// table in Redis decides and counts (sessions/fleet.ts), and the proxy is ready only
// while Redis answers.
// With `--backend-service` the target URL's host is replaced per request by a backend pod
// discovered through the Service's EndpointSlices (backends/discovery.ts); the proxy is
// ready while at least one pod is.
// Both are loaded only when configured: the Redis client (ioredis) and the Kubernetes client
// (with its YAML parser for kubeconfigs) are ~110 modules and ~15 MiB of RSS that an
// in-memory, single-target proxy would carry for nothing (bench:footprint measures it).
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../../common/log.ts';
import type { ProxyConfig } from '../config.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { SessionRegistry, type Session } from '../sessions.ts';
import { FleetSessions } from '../sessions/fleet.ts';
import type { RedisSessionStore } from '../sessions/store.ts';
import { createStoreMetrics } from '../sessions/storeMetrics.ts';
import { startTcpProbe } from '../upstream/probe.ts';
import { createTransparentUpstream, type TransparentSession } from '../upstream/transparent.ts';
import { meteredRegistry } from './registry.ts';
import type { ByteBudget } from '../budget.ts';
import { BackendPool } from '../backends/pool.ts';
import type { EndpointDiscovery } from '../backends/discovery.ts';
import { createBackendMetrics, type BackendMetrics } from '../backends/backendMetrics.ts';
import type { KubeClient } from '../../../common/kube/client.ts';
import { VERSION } from '../version.ts';
import type { Upstream } from './upstream.ts';

/** How long the fleet gauge's owner lock lasts without a scrape renewing it. */
const GAUGE_LOCK_MS = 15_000;

/** Largest initialize body kept per session for `--session-recovery replay`. */
const MAX_KEPT_INITIALIZE_BYTES = 64 * 1024;

export async function composeTransparent(config: ProxyConfig, metrics: ProxyMetrics, log: Logger, budget?: ByteBudget): Promise<Upstream> {
  const target = config.targetUrl as URL;
  const backendPool = config.backends ? new BackendPool() : undefined;
  // Every way a session leaves this replica's table: its pin and its kept bytes go with it.
  const released = (session: Session<TransparentSession>): void => {
    backendPool?.unpin(session.id);
    if (session.data.keptBytes > 0) budget?.release(session.data.keptBytes);
    session.data.keptBytes = 0;
  };
  // eslint-disable-next-line prefer-const -- assigned once below, after the closures that read it are built (it is undefined until then)
  let endUpstream: ((session: Session<TransparentSession>) => void) | undefined;
  // eslint-disable-next-line prefer-const -- assigned once below, like endUpstream
  let endUpstreamId: ((id: string) => void) | undefined;
  const storage = config.sessionStorage;
  const registry =
    storage.provider === 'redis'
      ? new SessionRegistry<TransparentSession>({ maxSessions: config.maxSessions, idleTimeoutMs: config.sessionIdleTimeoutMs, onClosed: released }) // a cache: nothing counted here
      : meteredRegistry<TransparentSession>(config, metrics, (session, reason) => {
          if (reason === 'idle_timeout' || reason === 'evicted') endUpstream?.(session);
          released(session);
        });
  let fleet: FleetSessions<TransparentSession> | undefined;
  let store: RedisSessionStore | undefined;
  if (storage.provider === 'redis') {
    const { RedisSessionStore } = await import('../sessions/store.ts');
    store = new RedisSessionStore({ ...storage, maxSessions: config.maxSessions, replicaId: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}` });
    const storeMetrics = createStoreMetrics(metrics.registry, store, GAUGE_LOCK_MS);
    fleet = new FleetSessions<TransparentSession>({
      store,
      registry,
      metrics,
      storeMetrics,
      log,
      idleTimeoutMs: config.sessionIdleTimeoutMs,
      newData: () => ({ protocolVersion: undefined, refreshedAt: 0, pin: '', keptBytes: 0 }),
      endUpstream: (id) => endUpstreamId?.(id),
    });
    store.onStateChange((up) => log.info(up ? 'session store connected' : 'session store unavailable', { address: storage.address }));
    store.start().catch((err: unknown) => log.warn('session store not reachable yet; retrying with backoff', { err: err as Error }));
    registry.startSweeper(); // the cache's own bounds; silent
    fleet.startSweeper();
  }
  const backendMetrics = backendPool ? createBackendMetrics(metrics.registry, backendPool) : undefined;
  const proxy = createTransparentUpstream({
    target,
    registry,
    metrics,
    log,
    connectTimeoutMs: config.upstreamConnectTimeoutMs,
    responseTimeoutMs: config.upstreamResponseTimeoutMs,
    maxRewriteBytes: config.memoryLimitBytes ? Math.max(2 ** 20, Math.floor(config.memoryLimitBytes / 16)) : 16 * 2 ** 20,
    ...(fleet ? { fleet } : {}),
    ...(backendPool && config.backends
      ? {
          backends: {
            pool: backendPool,
            recovery: config.backends.recovery,
            metrics: backendMetrics as BackendMetrics,
            maxKeptBytes: MAX_KEPT_INITIALIZE_BYTES,
            reserve: (bytes: number) => budget?.tryReserve(bytes) ?? true,
            recoveryTimeoutMs: Math.max(1_000, Math.min(30_000, config.upstreamConnectTimeoutMs * 2)),
          },
        }
      : {}),
  });
  let discovery: EndpointDiscovery | undefined;
  let kube: KubeClient | undefined;
  if (backendPool && config.backends) {
    const [{ KubeClient }, { loadClusterAccess }, { EndpointDiscovery }] = await Promise.all([
      import('../../../common/kube/client.ts'),
      import('../../../common/kube/kubeconfig.ts'),
      import('../backends/discovery.ts'),
    ]);
    backendPool.onGone((key) => {
      log.info('backend pod left the ready set', { backend: key, sessions: backendPool.sessionsOn(key).length });
      proxy.backendGone(key);
    });
    kube = new KubeClient(loadClusterAccess(undefined), { userAgent: `mcpfleet-proxyrunner/${VERSION}`, maxSockets: 2, timeoutMs: 10_000 });
    discovery = new EndpointDiscovery({
      client: kube,
      namespace: config.backends.namespace,
      service: config.backends.service,
      port: config.backends.port,
      target,
      pool: backendPool,
      log,
      onError: () => backendMetrics?.discoveryError(),
    });
    discovery.start();
  }
  endUpstream = (session) => proxy.endUpstreamSession(session);
  endUpstreamId = (id) => proxy.endUpstreamSessionId(id);
  // With backends the target's host is a name nothing connects to: readiness is the pods'.
  const probe = backendPool ? { state: { ready: true, detail: '' }, stop: () => {} } : startTcpProbe(target, 5_000, 2_000, (up) => metrics.setUpstreamUp(up));
  return {
    routes: { '/mcp': proxy.route },
    readiness: () => {
      if (fleet && !fleet.ready) return { ready: false, detail: 'session store (redis) unavailable' };
      if (backendPool) {
        const ready = backendPool.readyCount;
        return { ready: ready > 0, detail: backendPool.synced ? `${ready} backend pod(s) ready` : 'backend endpoints not listed yet' };
      }
      return probe.state;
    },
    sessionCount: () => registry.size,
    async close() {
      probe.stop();
      await discovery?.stop();
      kube?.close();
      registry.stopSweeper();
      fleet?.stopSweeper();
      await store?.shutdown();
      proxy.close();
    },
  };
}
