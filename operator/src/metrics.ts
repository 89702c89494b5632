// Prometheus instruments of the operator. Labels are bounded: results, verbs, resources of
// the kinds it handles, HTTP codes, phases, and the namespace/name of existing MCPServers.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from '../../common/promClient.ts';
import { PHASES } from './api/types.ts';
import { WRITE_VERBS, type Verb } from '../../common/kube/client.ts';
import { VERSION } from './version.ts';

export interface OperatorMetrics {
  readonly registry: Registry;
  reconciled(result: 'success' | 'error' | 'requeue', seconds: number): void;
  apiRequest(verb: Verb, resource: string, code: number, seconds: number): void;
  watchRestarted(resource: string, reason: string): void;
  setLeader(leader: boolean): void;
  /** Total API writes so far (all resources but leases), for logs and tests. */
  writes(): number;
}

export interface ServerState {
  namespace: string;
  name: string;
  phase: string;
  /** The Ready condition is True. */
  ready: boolean;
}

export interface MetricsSources {
  queueDepth: () => number;
  /** Every MCPServer in the cache: phase '' when it has no status yet. */
  servers: () => Iterable<ServerState>;
  cacheSizes: () => Iterable<[resource: string, size: number]>;
  defaultMetrics?: boolean;
}

export function createMetrics(sources: MetricsSources): OperatorMetrics {
  const registry = new Registry();
  if (sources.defaultMetrics !== false) collectDefaultMetrics(registry);

  new Gauge({
    name: 'mcpfleet_operator_build_info',
    help: 'Version of the operator (always 1).',
    labelNames: ['version'],
    registers: [registry],
  }).set({ version: VERSION }, 1);
  const reconciles = new Counter({
    name: 'mcpfleet_operator_reconciles_total',
    help: 'MCPServer reconciles by result: success, error (retried with backoff), requeue (scheduled again).',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const r of ['success', 'error', 'requeue']) reconciles.inc({ result: r }, 0);
  const duration = new Histogram({
    name: 'mcpfleet_operator_reconcile_duration_seconds',
    help: 'Time to reconcile one MCPServer.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'mcpfleet_operator_queue_depth',
    help: 'MCPServer keys waiting in the work queue.',
    registers: [registry],
    collect() {
      this.set(sources.queueDepth());
    },
  });
  new Gauge({
    name: 'mcpfleet_operator_mcpservers',
    help: 'MCPServers in the cache by namespace and status.phase ("Unknown": no status yet); every phase is exported, zeros included, for each namespace that has one.',
    labelNames: ['namespace', 'phase'],
    registers: [registry],
    collect() {
      // Reset: a namespace whose last MCPServer is gone must drop out, not stay frozen.
      this.reset();
      const counts = new Map<string, Map<string, number>>();
      for (const s of sources.servers()) {
        let byPhase = counts.get(s.namespace);
        if (byPhase === undefined) counts.set(s.namespace, (byPhase = new Map([...PHASES, 'Unknown'].map((p) => [p, 0]))));
        const phase = s.phase === '' ? 'Unknown' : s.phase;
        byPhase.set(phase, (byPhase.get(phase) ?? 0) + 1);
      }
      for (const [namespace, byPhase] of counts) for (const [phase, n] of byPhase) this.set({ namespace, phase }, n);
    },
  });
  new Gauge({
    // One series per MCPServer (as kube-state-metrics does per object): what the
    // "not Ready for 10 minutes" alert needs. Stopped servers are expected not to serve.
    name: 'mcpfleet_operator_mcpserver_ready',
    help: "1 when the MCPServer's Ready condition is True, else 0; MCPServers in phase Stopped are not exported.",
    labelNames: ['namespace', 'mcpserver'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of sources.servers()) {
        if (s.phase !== 'Stopped') this.set({ namespace: s.namespace, mcpserver: s.name }, s.ready ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'mcpfleet_operator_cache_objects',
    help: 'Objects held in the informer caches, by resource.',
    labelNames: ['resource'],
    registers: [registry],
    collect() {
      this.reset();
      // Summed: one resource may have two caches (configmaps: the operator's own, and every one slimmed to a hash).
      for (const [resource, size] of sources.cacheSizes()) this.inc({ resource }, size);
    },
  });
  const requests = new Counter({
    name: 'mcpfleet_operator_api_requests_total',
    help: 'Requests sent to the Kubernetes API, by verb, resource and HTTP code (0: no answer).',
    labelNames: ['verb', 'resource', 'code'],
    registers: [registry],
  });
  const writes = new Counter({
    name: 'mcpfleet_operator_api_writes_total',
    help: 'Write requests (apply, patch, create, update, delete) sent to the Kubernetes API, by verb and resource; leases are leader election.',
    labelNames: ['verb', 'resource'],
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: 'mcpfleet_operator_api_request_duration_seconds',
    help: 'Latency of Kubernetes API requests other than watches, by verb.',
    labelNames: ['verb'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const watchRestarts = new Counter({
    name: 'mcpfleet_operator_watch_restarts_total',
    help: 'Watches started again, by resource and reason: closed (server ended it), expired (410 Gone: relisted), error (retried with backoff).',
    labelNames: ['resource', 'reason'],
    registers: [registry],
  });
  const leader = new Gauge({
    name: 'mcpfleet_operator_leader',
    help: '1 while this replica holds the leader lease (or runs without leader election).',
    registers: [registry],
  });
  leader.set(0);

  let nonLeaseWrites = 0;
  return {
    registry,
    reconciled(result, seconds) {
      reconciles.inc({ result });
      duration.observe(seconds);
    },
    apiRequest(verb, resource, code, seconds) {
      requests.inc({ verb, resource, code: String(code) });
      if (verb !== 'watch') requestDuration.observe({ verb }, seconds);
      if (WRITE_VERBS.has(verb)) {
        writes.inc({ verb, resource });
        if (resource !== 'leases') nonLeaseWrites++;
      }
    },
    watchRestarted(resource, reason) {
      watchRestarts.inc({ resource, reason });
    },
    setLeader(isLeader) {
      leader.set(isLeader ? 1 : 0);
    },
    writes: () => nonLeaseWrites,
  };
}
