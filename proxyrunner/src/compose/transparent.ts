// The transparent upstream kind (streamable HTTP in, streamable HTTP out): http-proxy-3 in
// front of the MCP server, a metered session registry, and a TCP probe for readiness.
// With `--session-storage redis` the registry is only this replica's cache: the fleet's
// table in Redis decides and counts (sessions/fleet.ts), and the proxy is ready only
// while Redis answers.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../../common/log.ts';
import type { ProxyConfig } from '../config.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { SessionRegistry, type Session } from '../sessions.ts';
import { FleetSessions } from '../sessions/fleet.ts';
import { RedisSessionStore } from '../sessions/store.ts';
import { createStoreMetrics } from '../sessions/storeMetrics.ts';
import { startTcpProbe } from '../upstream/probe.ts';
import { createTransparentUpstream, type TransparentSession } from '../upstream/transparent.ts';
import { meteredRegistry } from './registry.ts';
import type { Upstream } from './upstream.ts';

/** How long the fleet gauge's owner lock lasts without a scrape renewing it. */
const GAUGE_LOCK_MS = 15_000;

export function composeTransparent(config: ProxyConfig, metrics: ProxyMetrics, log: Logger): Upstream {
  const target = config.targetUrl as URL;
  // eslint-disable-next-line prefer-const -- assigned once below, after the closures that read it are built (it is undefined until then)
  let endUpstream: ((session: Session<TransparentSession>) => void) | undefined;
  // eslint-disable-next-line prefer-const -- assigned once below, like endUpstream
  let endUpstreamId: ((id: string) => void) | undefined;
  const storage = config.sessionStorage;
  const registry =
    storage.provider === 'redis'
      ? new SessionRegistry<TransparentSession>({ maxSessions: config.maxSessions, idleTimeoutMs: config.sessionIdleTimeoutMs }) // a cache: nothing counted here
      : meteredRegistry<TransparentSession>(config, metrics, (session, reason) => {
          if (reason === 'idle_timeout' || reason === 'evicted') endUpstream?.(session);
        });
  let fleet: FleetSessions<TransparentSession> | undefined;
  let store: RedisSessionStore | undefined;
  if (storage.provider === 'redis') {
    store = new RedisSessionStore({ ...storage, maxSessions: config.maxSessions, replicaId: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}` });
    const storeMetrics = createStoreMetrics(metrics.registry, store, GAUGE_LOCK_MS);
    fleet = new FleetSessions<TransparentSession>({
      store,
      registry,
      metrics,
      storeMetrics,
      log,
      idleTimeoutMs: config.sessionIdleTimeoutMs,
      newData: () => ({ protocolVersion: undefined, refreshedAt: 0 }),
      endUpstream: (id) => endUpstreamId?.(id),
    });
    store.onStateChange((up) => log.info(up ? 'session store connected' : 'session store unavailable', { address: storage.address }));
    store.start().catch((err: unknown) => log.warn('session store not reachable yet; retrying with backoff', { err: err as Error }));
    registry.startSweeper(); // the cache's own bounds; silent
    fleet.startSweeper();
  }
  const proxy = createTransparentUpstream({
    target,
    registry,
    metrics,
    log,
    connectTimeoutMs: config.upstreamConnectTimeoutMs,
    responseTimeoutMs: config.upstreamResponseTimeoutMs,
    maxRewriteBytes: config.memoryLimitBytes ? Math.max(2 ** 20, Math.floor(config.memoryLimitBytes / 16)) : 16 * 2 ** 20,
    ...(fleet ? { fleet } : {}),
  });
  endUpstream = (session) => proxy.endUpstreamSession(session);
  endUpstreamId = (id) => proxy.endUpstreamSessionId(id);
  const probe = startTcpProbe(target, 5_000, 2_000, (up) => metrics.setUpstreamUp(up));
  return {
    routes: { '/mcp': proxy.route },
    readiness: () => {
      if (fleet && !fleet.ready) return { ready: false, detail: 'session store (redis) unavailable' };
      return probe.state;
    },
    sessionCount: () => registry.size,
    async close() {
      probe.stop();
      registry.stopSweeper();
      fleet?.stopSweeper();
      await store?.shutdown();
      proxy.close();
    },
  };
}
