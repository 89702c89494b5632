// Prometheus instruments of several backend pods (registered only when there are): with
// `--backend-service` (HTTP) and with stdio attach mode (upstream/attachedPods.ts). The
// per-backend gauge is labelled by the backend key (HTTP: pod@address:port; stdio: pod@uid),
// and a pod that leaves the ready set leaves the gauge, so its labels are bounded by the
// backend StatefulSet's replicas. With --session-recovery replay (HTTP) a gone pod's sessions
// are not ended: they wait until their next request moves them (or they end), and the gone
// pod keeps its label until then, saying where they are still pinned (each such label holds
// at least one session). The recovery counter exists only where recovery does (HTTP).
import { Counter, Gauge, type Registry } from '../../../common/promClient.ts';
import type { BackendPool } from './pool.ts';

export const RECOVERY_RESULTS = ['recovered', 'no_ready_backend', 'not_recoverable', 'failed'] as const;
export type RecoveryResult = (typeof RECOVERY_RESULTS)[number];

export interface BackendMetrics {
  recovery(result: RecoveryResult): void;
  discoveryError(): void;
}

export function createBackendMetrics(
  registry: Registry,
  pool: BackendPool<{ key: string }>,
  options: { recoveries: boolean } = { recoveries: true },
): BackendMetrics {
  new Gauge({
    name: 'mcpfleet_proxy_backends_ready',
    help: 'Backend pods ready to take sessions (HTTP: ready in the backend Service EndpointSlices; stdio: attached).',
    registers: [registry],
    collect() {
      this.set(pool.readyCount);
    },
  });
  new Gauge({
    name: 'mcpfleet_proxy_backend_sessions',
    help: "This replica's sessions pinned to each backend pod.",
    labelNames: ['backend'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [backend, n] of pool.counts()) this.set({ backend }, n);
    },
  });
  const recoveries = options.recoveries
    ? new Counter({
        name: 'mcpfleet_proxy_session_recoveries_total',
        help: 'Sessions whose backend pod went away, by outcome of --session-recovery replay (recovered: re-initialized on a live pod and the request replayed).',
        labelNames: ['result'],
        registers: [registry],
      })
    : undefined;
  for (const result of RECOVERY_RESULTS) recoveries?.inc({ result }, 0);
  const discoveryErrors = new Counter({
    name: 'mcpfleet_proxy_backend_discovery_errors_total',
    help: 'Failed lists or watches of the backend EndpointSlices (HTTP) or pods (stdio), retried with backoff; the last known set is kept.',
    registers: [registry],
  });
  return {
    recovery: (result) => recoveries?.inc({ result }),
    discoveryError: () => discoveryErrors.inc(),
  };
}
