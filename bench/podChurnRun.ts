// The seed's churn inside a real container: a streamable-HTTP MCPServer whose proxyrunner
// container has resources.limits.memory 128Mi (a real cgroup limit), 50 keep-alive workers doing
// initialize → DELETE through the proxy's ClusterIP Service (kube-proxy), and the proxy
// container's cgroup memory read from the node (/sys/fs/cgroup) with its restartCount and last
// termination reason (OOMKilled?) from the API. Used by bench/podChurn.ts (npm run
// bench:pod-churn) and by the e2e suite (a shorter run). Needs the cluster of make cluster-up.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { McpHttpClient, INIT_BODY } from '../test/support/mcpHttp.ts';
import { scrape } from '../test/support/metrics.ts';
import { type Cluster, containerState, podIp, waitFor, type Obj } from '../test/e2e/cluster.ts';

export interface PodChurnOptions {
  sessions: number;
  concurrency: number;
  memoryLimit: string;
  /** The MCP server behind the proxy: the SDK echo server (as bench:churn) or server-everything. */
  upstream: 'echo' | 'everything';
  namespace: string;
  name: string;
  /** Progress lines go here (null: silent). */
  log: ((line: string) => void) | null;
  sampleEvery?: number;
}

export interface PodChurnSample {
  sessions: number;
  seconds: number;
  /** memory.usage_in_bytes of the container's cgroup, MiB. */
  cgroup_usage_mb: number;
  /** usage minus inactive file pages (what the kubelet calls the working set), MiB. */
  working_set_mb: number;
  sessions_active: number;
  restart_count: number;
}

export interface PodChurnSummary {
  sessions: number;
  upstream: string;
  memory_limit: string;
  cgroup_limit_mb: number;
  working_set_start_mb: number;
  working_set_after_warmup_mb: number;
  working_set_end_mb: number;
  working_set_peak_mb: number;
  /** The cgroup's own high-water mark (memory.max_usage_in_bytes), MiB. */
  cgroup_max_usage_mb: number;
  growth_after_warmup_mb: number;
  sessions_active_end: number;
  sessions_created: number;
  sessions_closed_client_delete: number;
  restart_count: number;
  oom_killed: boolean;
  /** memory.failcnt: times the cgroup hit its limit. */
  limit_hits: number;
  sessions_per_s: number;
  failed_requests: number;
}

const MiB = 2 ** 20;
const GONE = { usage: NaN, workingSet: NaN, limit: NaN, maxUsage: NaN, failcnt: NaN };
const round = (n: number): number => Number(n.toFixed(1));

/** The MCPServer under test: streamable HTTP, one proxy replica with the seed's 128Mi limit. */
export function churnServer(name: string, cluster: Cluster, upstream: 'echo' | 'everything', memoryLimit: string): object {
  return {
    apiVersion: 'mcpfleet.dev/v1alpha1',
    kind: 'MCPServer',
    metadata: { name },
    spec: {
      ...(upstream === 'echo'
        ? { image: cluster.info.echoImage, args: ['--port', '3001'] }
        : { image: cluster.info.everythingImage, args: ['streamableHttp'], env: [{ name: 'PORT', value: '3001' }] }),
      transport: 'streamable-http',
      mcpPort: 3001,
      replicas: 1,
      proxyPort: 8080,
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1Gi' } },
      proxyResources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: memoryLimit } },
    },
  };
}

/** The container's memory cgroup on this node (cgroup v1 hierarchy, or v2 unified). */
export async function containerCgroup(pod: Obj, containerId: string): Promise<{ dir: string; v2: boolean }> {
  const uid = pod.metadata.uid;
  const qos = ((pod.status as { qosClass?: string } | undefined)?.qosClass ?? 'Burstable').toLowerCase();
  const podDir = qos === 'guaranteed' ? `kubepods/pod${uid}` : `kubepods/${qos}/pod${uid}`;
  const candidates: [string, boolean][] = [
    [`/sys/fs/cgroup/memory/${podDir}/${containerId}`, false],
    [`/sys/fs/cgroup/${podDir}/${containerId}`, true],
    [`/sys/fs/cgroup/unified/${podDir}/${containerId}`, true],
  ];
  for (const [dir, v2] of candidates) {
    try {
      await readFile(`${dir}/${v2 ? 'memory.current' : 'memory.usage_in_bytes'}`, 'utf8');
      return { dir, v2 };
    } catch {
      // next
    }
  }
  throw new Error(`no memory cgroup found for container ${containerId} of pod ${pod.metadata.name} (tried ${candidates.map(([d]) => d).join(', ')})`);
}

interface CgroupMemory {
  usage: number;
  workingSet: number;
  limit: number;
  maxUsage: number;
  failcnt: number;
}

export async function readCgroupMemory(cg: { dir: string; v2: boolean }): Promise<CgroupMemory> {
  const num = async (f: string): Promise<number> => Number((await readFile(`${cg.dir}/${f}`, 'utf8')).trim().split(/\s+/)[0]);
  const stat = Object.fromEntries(
    (await readFile(`${cg.dir}/memory.stat`, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string])
      .map(([k, v]) => [k, Number(v)]),
  );
  if (cg.v2) {
    const usage = await num('memory.current');
    const peak = await num('memory.peak').catch(() => NaN);
    const events = Object.fromEntries(
      (await readFile(`${cg.dir}/memory.events`, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => l.split(' ') as [string, string]),
    );
    return { usage, workingSet: usage - (stat['inactive_file'] ?? 0), limit: await num('memory.max'), maxUsage: peak, failcnt: Number(events['max'] ?? 0) };
  }
  const usage = await num('memory.usage_in_bytes');
  return {
    usage,
    workingSet: usage - (stat['total_inactive_file'] ?? 0),
    limit: await num('memory.limit_in_bytes'),
    maxUsage: await num('memory.max_usage_in_bytes'),
    failcnt: await num('memory.failcnt'),
  };
}

export async function runPodChurn(cluster: Cluster, o: PodChurnOptions): Promise<{ summary: PodChurnSummary; samples: PodChurnSample[] }> {
  const log = o.log ?? ((): void => {});
  const sampleEvery = o.sampleEvery ?? Math.max(1000, Math.floor(o.sessions / 40));
  await cluster.restrictedNamespace(o.namespace);
  await cluster.apply(churnServer(o.name, cluster, o.upstream, o.memoryLimit), o.namespace);
  await cluster.waitReady(o.name, o.namespace);
  const [pod] = (await cluster.pods(o.name, o.namespace, 'proxy')).filter((p) => p.metadata.deletionTimestamp === undefined);
  if (pod === undefined) throw new Error(`no proxy pod for ${o.namespace}/${o.name}`);
  const state0 = containerState(pod, 'proxyrunner');
  if (state0.containerId === undefined) throw new Error(`proxy pod ${pod.metadata.name} has no container id`);
  const cg = await containerCgroup(pod, state0.containerId);
  const metricsUrl = `http://${podIp(pod)}:9464/metrics`;
  const url = await cluster.serviceUrl(`mcp-${o.name}-proxy`, o.namespace, 8080, '/mcp');
  log(`pod ${o.namespace}/${pod.metadata.name} (${podIp(pod)}), Service ${url}, cgroup ${cg.dir}`);
  const m0 = await scrape(metricsUrl);
  const created0 = m0.value('mcpfleet_proxy_sessions_created_total') ?? 0;
  const deleted0 = m0.value('mcpfleet_proxy_sessions_closed_total', { reason: 'client_delete' }) ?? 0;

  const restarts = async (): Promise<ContainerSnapshot> => {
    const p = await cluster.get('pod', pod.metadata.name, o.namespace);
    if (p === undefined) throw new Error(`proxy pod ${pod.metadata.name} disappeared`);
    return containerState(p, 'proxyrunner');
  };
  type ContainerSnapshot = ReturnType<typeof containerState>;

  const started = performance.now();
  const take = async (sessions: number): Promise<PodChurnSample> => {
    // A restarted container has a new cgroup: the old one reads as NaN (restart_count tells why).
    const [mem, metrics, st] = await Promise.all([readCgroupMemory(cg).catch(() => GONE), scrape(metricsUrl).catch(() => undefined), restarts()]);
    return {
      sessions,
      seconds: round((performance.now() - started) / 1000),
      cgroup_usage_mb: round(mem.usage / MiB),
      working_set_mb: round(mem.workingSet / MiB),
      sessions_active: metrics?.value('mcpfleet_proxy_sessions_active') ?? NaN,
      restart_count: st.restartCount,
    };
  };
  const samples: PodChurnSample[] = [await take(0)];
  let peak = samples[0]!.working_set_mb;
  const peakTimer = setInterval(() => {
    readCgroupMemory(cg).then(
      (m) => (peak = Math.max(peak, m.workingSet / MiB)),
      () => {},
    );
  }, 250);

  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const client = new McpHttpClient(url, agent);
  let begun = 0;
  let done = 0;
  let errors = 0;
  let nextSample = sampleEvery;
  let sampling: Promise<void> = Promise.resolve();
  const worker = async (): Promise<void> => {
    while (begun < o.sessions) {
      begun++;
      try {
        const init = await client.request('POST', INIT_BODY);
        if (init.status !== 200 || init.sessionId === undefined) errors++;
        else if ((await client.request('DELETE', undefined, init.sessionId)).status !== 200) errors++;
      } catch {
        errors++;
      }
      done++;
      if (done >= nextSample) {
        const at = nextSample;
        nextSample += sampleEvery;
        sampling = sampling
          .then(async () => {
            const s = await take(at);
            samples.push(s);
            log(
              `${String(at).padStart(7)} sessions ${s.seconds.toFixed(1).padStart(7)} s  working set ${s.working_set_mb.toFixed(1).padStart(6)} MiB  cgroup usage ${s.cgroup_usage_mb.toFixed(1).padStart(6)} MiB  active ${s.sessions_active}  restarts ${s.restart_count}  errors ${errors}`,
            );
          })
          .catch((err: unknown) => log(`sample at ${at} failed: ${String(err)}`));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, worker));
    await sampling;
  } finally {
    clearInterval(peakTimer);
    agent.destroy();
  }
  const elapsed = (performance.now() - started) / 1000;
  // Let in-flight closes settle before the final figures.
  const mEnd = await waitFor('the proxy to hold no sessions', 60_000, async () => {
    const m = await scrape(metricsUrl);
    return m.value('mcpfleet_proxy_sessions_active') === 0 ? m : undefined;
  }).catch(async () => scrape(metricsUrl));
  const end = await take(done);
  const mem = await readCgroupMemory(cg).catch(() => GONE);
  const st = await restarts();
  const warm = samples.find((s) => s.sessions >= Math.min(20_000, o.sessions / 10)) ?? samples[1] ?? end;
  const summary: PodChurnSummary = {
    sessions: done,
    upstream: o.upstream,
    memory_limit: o.memoryLimit,
    cgroup_limit_mb: round(mem.limit / MiB),
    working_set_start_mb: samples[0]!.working_set_mb,
    working_set_after_warmup_mb: warm.working_set_mb,
    working_set_end_mb: end.working_set_mb,
    working_set_peak_mb: round(Math.max(peak, ...samples.map((s) => s.working_set_mb), end.working_set_mb)),
    cgroup_max_usage_mb: round(mem.maxUsage / MiB),
    growth_after_warmup_mb: round(end.working_set_mb - warm.working_set_mb),
    sessions_active_end: mEnd.value('mcpfleet_proxy_sessions_active') ?? NaN,
    sessions_created: (mEnd.value('mcpfleet_proxy_sessions_created_total') ?? 0) - created0,
    sessions_closed_client_delete: (mEnd.value('mcpfleet_proxy_sessions_closed_total', { reason: 'client_delete' }) ?? 0) - deleted0,
    restart_count: st.restartCount,
    oom_killed: st.lastTerminationReason === 'OOMKilled',
    limit_hits: mem.failcnt,
    sessions_per_s: Math.round(done / elapsed),
    failed_requests: errors,
  };
  return { summary, samples: [...samples, end] };
}
