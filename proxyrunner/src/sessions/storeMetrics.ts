// Prometheus instruments of the shared session store (`--session-storage redis`),
// registered only when it is on. The fleet gauge is read from Redis at scrape time and
// carries the fleet's count only on the replica holding the short `gauge-owner` lock;
// every other replica exports 0. So sum() and max() over the replicas both equal the
// sessions the fleet holds (a lock hand-over can at worst repeat one scrape's value).
import { Counter, Gauge, Histogram, type Registry } from '../../../common/promClient.ts';
import type { SessionStore } from './store.ts';

export const STORE_OPS = ['create', 'touch', 'remove', 'sweep', 'count', 'check'] as const;

export interface StoreMetrics {
  startTimer(op: string): () => void;
  error(op: string): void;
  setUp(up: boolean): void;
}

export function createStoreMetrics(registry: Registry, store: SessionStore, gaugeLockMs: number): StoreMetrics {
  const errors = new Counter({
    name: 'mcpfleet_proxy_session_store_errors_total',
    help: 'Calls to the shared session store (Redis) that failed, by operation.',
    labelNames: ['op'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'mcpfleet_proxy_session_store_duration_seconds',
    help: 'Latency of calls to the shared session store (Redis), by operation.',
    labelNames: ['op'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5],
    registers: [registry],
  });
  const up = new Gauge({
    name: 'mcpfleet_proxy_session_store_up',
    help: '1 while the shared session store (Redis) is connected, else 0 (session requests are answered 503).',
    registers: [registry],
  });
  new Gauge({
    name: 'mcpfleet_proxy_fleet_sessions_active',
    help: 'Sessions in the fleet-wide table (Redis), exported by one replica (the gauge-owner lock holder); the others export 0, so sum() and max() both give the fleet count.',
    registers: [registry],
    async collect() {
      try {
        this.set((await store.ownGauge(gaugeLockMs)) ? await store.count() : 0);
      } catch {
        errors.inc({ op: 'count' });
        this.set(0);
      }
    },
  });
  for (const op of STORE_OPS) errors.inc({ op }, 0);
  up.set(0);
  return {
    startTimer: (op) => {
      const end = latency.startTimer({ op });
      return () => void end();
    },
    error: (op) => errors.inc({ op }),
    setUp: (isUp) => up.set(isUp ? 1 : 0),
  };
}
