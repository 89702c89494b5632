// bench:pod-churn — the seed's churn reproduced in a real container: the proxyrunner runs in a
// pod whose container has resources.limits.memory 128Mi (a real memory cgroup), 50 keep-alive
// workers do initialize → DELETE through its ClusterIP Service, and the container's cgroup
// memory (read from the node), restartCount and OOMKilled are sampled (bench/podChurnRun.ts).
// Needs the real one-node cluster: `make cluster-up` first (root). Writes
// <out>/pod-churn.json and <out>/pod-churn.svg and ends with one JSON summary line.
//
//   npm run bench:pod-churn -- [--sessions 200000] [--concurrency 50] [--memory-limit 128Mi]
//                              [--upstream echo|everything] [--namespace bench-churn]
//                              [--out bench-results] [--keep]
// The upstream defaults to the SDK echo server (test/fixtures/echoServer.ts), as bench:churn.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster } from '../test/e2e/cluster.ts';
import { runPodChurn } from './podChurnRun.ts';
import { lineChart } from './svgChart.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '200000' },
    concurrency: { type: 'string', default: '50' },
    'memory-limit': { type: 'string', default: '128Mi' },
    upstream: { type: 'string', default: 'echo' },
    namespace: { type: 'string', default: 'bench-churn' },
    out: { type: 'string', default: 'bench-results' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run bench:pod-churn -- [--sessions 200000] [--concurrency 50] [--memory-limit 128Mi] [--upstream echo|everything] [--namespace bench-churn] [--out bench-results] [--keep]\n(needs `make cluster-up`; --keep leaves the MCPServer and namespace in place)',
  );
  process.exit(0);
}

const cluster = new Cluster();
const sessions = Number(values.sessions);
const concurrency = Number(values.concurrency);
if (values.upstream !== 'echo' && values.upstream !== 'everything') throw new Error('--upstream must be echo or everything');
if (!Number.isInteger(sessions) || sessions <= 0 || !Number.isInteger(concurrency) || concurrency <= 0) {
  throw new Error('--sessions and --concurrency must be positive integers');
}
console.log(
  `bench:pod-churn  ${sessions} sessions, ${concurrency} workers, proxy container limits.memory ${values['memory-limit']}, upstream ${values.upstream}; installing the chart`,
);
await cluster.installChart();
const { summary, samples } = await runPodChurn(cluster, {
  sessions,
  concurrency,
  memoryLimit: values['memory-limit'],
  upstream: values.upstream === 'everything' ? 'everything' : 'echo',
  namespace: values.namespace,
  name: 'churn',
  log: (l) => console.log(`  ${l}`),
});
if (!values.keep) await cluster.ok(['delete', 'namespace', values.namespace, '--wait=true', '--timeout=120s']);

const out = path.resolve(values.out);
mkdirSync(out, { recursive: true });
writeFileSync(path.join(out, 'pod-churn.json'), JSON.stringify({ summary, samples }, null, 2));
const limit = summary.cgroup_limit_mb;
writeFileSync(
  path.join(out, 'pod-churn.svg'),
  lineChart({
    title: `proxyrunner container under session churn (limits.memory ${values['memory-limit']}, real cgroup)`,
    xLabel: 'sessions (initialize → DELETE)',
    yLabel: 'MiB',
    series: [
      { name: 'working set', color: '#1f77b4', points: samples.map((s) => [s.sessions, s.working_set_mb] as [number, number]) },
      { name: 'cgroup usage', color: '#2ca02c', dashed: true, points: samples.map((s) => [s.sessions, s.cgroup_usage_mb] as [number, number]) },
    ],
    rules: Number.isFinite(limit) ? [{ y: limit, label: `limit ${values['memory-limit']}` }] : [],
  }),
);
console.log(`\nsessions ${summary.sessions}  ${summary.sessions_per_s}/s  failed requests ${summary.failed_requests}`);
console.log(
  `working set: start ${summary.working_set_start_mb} MiB, after warm-up ${summary.working_set_after_warmup_mb} MiB, end ${summary.working_set_end_mb} MiB, peak ${summary.working_set_peak_mb} MiB (growth after warm-up ${summary.growth_after_warmup_mb} MiB); cgroup max usage ${summary.cgroup_max_usage_mb} MiB of ${summary.cgroup_limit_mb} MiB, limit hits ${summary.limit_hits}`,
);
console.log(
  `restartCount ${summary.restart_count}, OOMKilled ${summary.oom_killed}; sessions created ${summary.sessions_created}, closed by DELETE ${summary.sessions_closed_client_delete}, active at end ${summary.sessions_active_end}`,
);
console.log(`samples: ${out}/pod-churn.json   chart: ${out}/pod-churn.svg\n`);
console.log(JSON.stringify(summary));
