// The seed's story as a test, shortened: 20,000 initialize → DELETE sessions through a real
// proxyrunner container limited to 128Mi (a real memory cgroup). The container must not
// restart nor be OOM-killed, every session must be created and closed by its DELETE, none left.
// No timing or memory-growth thresholds here (bench:pod-churn prints those figures).
import { describe, it, expect, beforeAll } from '@jest/globals';
import { runPodChurn } from '../../bench/podChurnRun.ts';
import { Cluster } from './cluster.ts';

const SESSIONS = 20_000;

describe('session churn in a real 128Mi container', () => {
  const cluster = new Cluster();

  beforeAll(async () => {
    await cluster.installChart();
  }, 10 * 60_000);

  it(
    `survives ${SESSIONS} initialize → DELETE sessions through the Service: restartCount 0, no OOMKilled, nothing left`,
    async () => {
      const { summary } = await runPodChurn(cluster, {
        sessions: SESSIONS,
        concurrency: 50,
        memoryLimit: '128Mi',
        upstream: 'echo',
        namespace: 'e2e-churn',
        name: 'churn',
        log: null,
      });
      process.stderr.write(`[e2e] pod churn: ${JSON.stringify(summary)}\n`);
      expect(summary.failed_requests).toBe(0);
      expect(summary.sessions).toBe(SESSIONS);
      expect(summary.sessions_created).toBe(SESSIONS);
      expect(summary.sessions_closed_client_delete).toBe(SESSIONS);
      expect(summary.sessions_active_end).toBe(0);
      expect(summary.restart_count).toBe(0);
      expect(summary.oom_killed).toBe(false);
      // The limit is the real cgroup's.
      expect(summary.cgroup_limit_mb).toBe(128);
    },
    30 * 60_000,
  );
});
