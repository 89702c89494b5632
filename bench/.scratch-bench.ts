// scratch: bench:pod-churn without the helm install (the operator runs from deploy/install.yaml)
import { mkdirSync, writeFileSync } from 'node:fs';
import { Cluster } from '../test/e2e/cluster.ts';
import { runPodChurn } from './podChurnRun.ts';
import { lineChart } from './svgChart.ts';
const c = new Cluster();
const r = await runPodChurn(c, { sessions: 200_000, concurrency: 50, memoryLimit: '128Mi', upstream: 'echo', namespace: 'bench-churn', name: 'churn', log: (l) => console.log(`  ${l}`) });
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/pod-churn.json', JSON.stringify(r, null, 2));
writeFileSync('bench-results/pod-churn.svg', lineChart({ title: 'proxyrunner container under session churn (limits.memory 128Mi, real cgroup)', xLabel: 'sessions (initialize → DELETE)', yLabel: 'MiB',
  series: [{ name: 'working set', color: '#1f77b4', points: r.samples.map((s) => [s.sessions, s.working_set_mb] as [number, number]) },
           { name: 'cgroup usage', color: '#2ca02c', dashed: true, points: r.samples.map((s) => [s.sessions, s.cgroup_usage_mb] as [number, number]) }],
  rules: [{ y: r.summary.cgroup_limit_mb, label: 'limit 128Mi' }] }));
console.log(JSON.stringify(r.summary));
