// bench:operator — 1,000 MCPServers on a real control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok), reconciled by the operator running as its
// own process, as it ships. Reports the time until every MCPServer is Ready, the operator's
// peak RSS, its API writes per MCPServer, and what the apiserver served (its own
// apiserver_request_total and apiserver_watch_events_total, scraped before and after); then
// watches an idle window (with a resync inside it) in which the operator must write nothing.
//
//   npm run bench:operator -- [--count 1000] [--idle 60] [--create-concurrency 32]
//                             [--operator-args="--concurrency 8"] [--operator-env="K=V;K2=V2"]
//                             [--stock-controllers] [--source | --operator-main PATH] [--floor | --compare 3]
//                             [--variants "--concurrency 8|--concurrency 16"] [--json out.json]
//
// The operator runs from dist/ (npm run build), as the image runs it; --source runs
// operator/src/main.ts through Node's type stripping instead (about 30 MiB more RSS);
// --operator-main runs another build's main.js (a copy of dist/ from before a change).
//
// Servers are a third each stdio, streamable-http and sse (two pods each: the MCP server
// and one proxy replica), in one namespace that enforces the restricted Pod Security Standard.
// --stock-controllers uses startControlPlane's controllers as they are (client rate limits of
// 20-50 QPS, a /24 pod CIDR); the default tunes them (SCALE_TUNING below) so the operator is
// what is measured.
//
// --floor runs no operator: the benchmark itself server-side-applies every MCPServer's
// children (the same builders, 32 at a time) and times how long the control plane needs
// until all their pods are Ready. That is the floor of this machine: no operator can make
// 1,000 MCPServers Ready faster than the apiserver, controllers and kwok can run their pods.
//
// --compare N alternates N floor runs and N operator runs (floor first), each on a fresh
// control plane, and prints the medians, the ratio operator/floor, and the apiserver's requests
// per MCPServer by verb and resource for both: what the operator asks of the apiserver that the
// floor does not. Timings on a shared machine spread; only side-by-side medians mean much.
//
// --variants "ARGS|ARGS|..." (with --compare) runs one operator per variant in every round, each
// with those operator arguments added to --operator-args (floor, variant 1, variant 2, ...,
// alternating), and prints a median and ratio to the floor per variant: settings compared
// within one alternated run, not across runs minutes apart on a machine whose load moves.
//
// With --json, the results (one run, or every run of --compare and the summary) are written
// there too; bench/curves.ts reads them.
import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBinaries, startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../test/control-plane/controlPlane.ts';
import { OPERATOR_DIST, OPERATOR_SOURCE, startOperator, type OperatorProcess } from '../test/support/operatorProcess.ts';
import { ROOT } from '../test/support/processes.ts';
import { manifest } from '../test/support/mcpServers.ts';
import { crdName } from '../operator/src/api/crdKind.ts';
import { API_KINDS } from '../operator/src/api/registry.ts';
import type { MCPServer, MCPServerSpec } from '../operator/src/api/types.ts';
import { CHILD_KINDS, MCPSERVER } from '../operator/src/kinds.ts';
import { POD, type KubeObject } from '../common/kube/kinds.ts';
import { desiredObjects } from '../operator/src/builders/desired.ts';
import { LABEL_INSTANCE } from '../operator/src/builders/meta.ts';
import { ApiError, KubeClient } from '../common/kube/client.ts';
import { fromKubeconfig } from '../common/kube/kubeconfig.ts';
import { Informer } from '../operator/src/kube/informer.ts';
import { silentLogger } from '../common/log.ts';
import { Scrape } from '../test/support/metrics.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    idle: { type: 'string', default: '60' },
    'create-concurrency': { type: 'string', default: '32' },
    'operator-args': { type: 'string', default: '' },
    'stock-controllers': { type: 'boolean', default: false },
    source: { type: 'boolean', default: false },
    floor: { type: 'boolean', default: false },
    compare: { type: 'string', default: '0' },
    variants: { type: 'string', default: '' },
    'operator-env': { type: 'string', default: '' },
    'operator-main': { type: 'string' },
    timeout: { type: 'string', default: '900' },
    json: { type: 'string' },
  },
});
const COUNT = Number(values.count);
const IDLE_S = Number(values.idle);
const CREATE_CONCURRENCY = Number(values['create-concurrency']);
const TIMEOUT_S = Number(values.timeout);
const STOCK = values['stock-controllers'] === true;
const COMPARE = Number(values.compare);
/** Operator arguments per variant ('' alone: just --operator-args). */
const VARIANTS = values.variants === '' ? [''] : values.variants.split('|').map((v) => v.trim());

/**
 * With their defaults the benchmark would measure the controllers' client rate limits, not
 * the operator: kube-controller-manager talks to the API at 20 QPS (burst 30) per controller,
 * so the Deployment, ReplicaSet and StatefulSet controllers alone need minutes for 1,000
 * servers; the scheduler binds at 50 QPS; kwok's pod CIDR is a /24 (254 IPs for 2,000 pods).
 */
function scaleTuning(count: number): ControlPlaneOptions {
  const qps = ['--kube-api-qps=1000', '--kube-api-burst=2000'];
  return {
    withControllers: true,
    withKwok: true,
    nodes: Math.max(1, Math.ceil((2 * count) / 900)),
    podsPerNode: 1000,
    kwokPodParallelism: 64,
    extraArgs: {
      // A /16 from the start: on a nearly full /24 (plus a second ServiceCIDR) the IP
      // allocator's random picks keep colliding, and applying a Service took 240 ms on average
      // against 60 ms for other kinds (apiserver_request_duration_seconds, measured).
      'kube-apiserver': ['--service-cluster-ip-range=10.0.0.0/16'],
      'kube-controller-manager': [...qps, '--concurrent-deployment-syncs=10', '--concurrent-replicaset-syncs=10', '--concurrent-statefulset-syncs=10'],
      'kube-scheduler': qps,
      kwok: ['--cidr=127.1.0.1/16'],
    },
  };
}
const NAMESPACE = 'bench';
const RESYNC = '30s'; // at least one full resync inside the idle window
const GOALS = { readySeconds: 60, peakRssMiB: 200, idleWrites: 0 };
/** The benchmark's own requests wait this long: on a machine shared with other work an apply has taken over 30 s. */
const CLIENT_TIMEOUT_MS = 120_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => void process.stderr.write(`[bench:operator] ${msg}\n`);

function spec(i: number): MCPServerSpec {
  switch (i % 3) {
    case 0:
      return { image: 'example/mcp-stdio:1', transport: 'stdio', args: ['stdio'] };
    case 1:
      return { image: 'example/mcp-http:1', transport: 'streamable-http', mcpPort: 3001 };
    default:
      return { image: 'example/mcp-sse:1', transport: 'sse', mcpPort: 3001, proxyMode: 'sse' };
  }
}

interface ProcStats {
  rssBytes: number;
  hwmBytes: number;
  cpuSeconds: number;
}

async function procStats(pid: number): Promise<ProcStats | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM'), cpuSeconds: ticks / 100 };
  } catch {
    return undefined;
  }
}

interface WriteCounts {
  total: number;
  leases: number;
  byKind: Record<string, number>;
}

async function writeCounts(op: OperatorProcess): Promise<WriteCounts> {
  const s = await op.scrape();
  const out: WriteCounts = { total: 0, leases: 0, byKind: {} };
  for (const x of s.samples) {
    if (x.name !== 'mcpfleet_operator_api_writes_total') continue;
    const resource = x.labels['resource'] ?? '?';
    if (resource === 'leases') {
      out.leases += x.value;
      continue;
    }
    out.total += x.value;
    const key = `${x.labels['verb']} ${resource}`;
    out.byKind[key] = (out.byKind[key] ?? 0) + x.value;
  }
  return out;
}

type PodJson = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };
const podReady = (p: PodJson): boolean => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

// --- what the apiserver served, from its own metrics

/** The apiserver's counters at one moment: requests by "VERB resource[/subresource]", watch events by resource, its CPU. */
interface ApiserverSnapshot {
  requests: Record<string, number>;
  /** 409 answers (optimistic-concurrency conflicts), by the same key. */
  conflicts: Record<string, number>;
  watchEvents: Record<string, number>;
  cpuSeconds: number;
  /** CPU seconds by process (see cpuSnapshot). */
  cpu: Record<string, number>;
}

/**
 * CPU seconds so far, by process: every process of this control plane (found by its temp dir in
 * their command lines, named after their binary), the operator, this benchmark, and the machine
 * as a whole (all processes; and its idle time). On two cores the control plane, the operator and
 * the benchmark share the CPU, so what a run costs is the sum, not the apiserver's part alone.
 */
async function cpuSnapshot(cp: ControlPlane, operatorPid: number | undefined): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const pid = Number(entry);
    const name = pid === operatorPid ? 'operator' : cmdline.includes(cp.dir) ? path.basename(cmdline.split('\0')[0] ?? '?') : undefined;
    if (name === undefined) continue;
    const stats = await procStats(pid);
    if (stats) out[name] = (out[name] ?? 0) + stats.cpuSeconds;
  }
  const self = process.cpuUsage();
  out['benchmark (this process)'] = (self.user + self.system) / 1e6;
  // /proc/stat's first line: user nice system idle iowait irq softirq steal ..., in 1/100 s.
  const ticks = (await readFile('/proc/stat', 'utf8')).split('\n')[0]?.trim().split(/\s+/).slice(1, 9).map(Number) ?? [];
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  out['machine, all processes'] = (ticks.reduce((a, b) => a + b, 0) - idle) / 100;
  out['machine idle'] = idle / 100;
  return out;
}

function scrapeApiserver(cp: ControlPlane, ca: string): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL('/metrics', cp.server),
      { method: 'GET', ca, headers: { authorization: `Bearer ${cp.token}`, accept: 'text/plain' }, timeout: 30_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => (res.statusCode === 200 ? resolve(new Scrape(body)) : reject(new Error(`apiserver /metrics: HTTP ${res.statusCode}`))));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('apiserver /metrics timed out')));
    req.on('error', reject);
    req.end();
  });
}

async function apiserverSnapshot(cp: ControlPlane, operatorPid?: number): Promise<ApiserverSnapshot> {
  const ca = await readFile(path.join(cp.dir, 'certs', 'apiserver.crt'), 'utf8');
  const s = await scrapeApiserver(cp, ca);
  const out: ApiserverSnapshot = {
    requests: {},
    conflicts: {},
    watchEvents: {},
    cpuSeconds: s.value('process_cpu_seconds_total') ?? NaN,
    cpu: await cpuSnapshot(cp, operatorPid),
  };
  const add = (into: Record<string, number>, key: string, v: number): void => {
    into[key] = (into[key] ?? 0) + v;
  };
  for (const x of s.samples) {
    if (x.name === 'apiserver_request_total') {
      const { verb = '?', resource = '?', subresource = '' } = x.labels;
      const key = `${verb} ${resource}${subresource ? `/${subresource}` : ''}`;
      add(out.requests, key, x.value);
      if (x.labels['code'] === '409') add(out.conflicts, key, x.value);
    } else if (x.name === 'apiserver_watch_events_total') {
      add(out.watchEvents, x.labels['resource'] ?? x.labels['kind'] ?? '?', x.value);
    }
  }
  return out;
}

/** What the apiserver served between two snapshots. */
interface ApiserverWork {
  requests: Record<string, number>;
  conflicts: Record<string, number>;
  watchEvents: Record<string, number>;
  cpuSeconds: number;
  /** CPU seconds by process over the run; a process that started within it counts from 0. */
  cpu: Record<string, number>;
}

function minus(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return Object.fromEntries(Object.entries(out).sort());
}

function apiserverWork(before: ApiserverSnapshot, after: ApiserverSnapshot): ApiserverWork {
  return {
    requests: minus(after.requests, before.requests),
    conflicts: minus(after.conflicts, before.conflicts),
    watchEvents: minus(after.watchEvents, before.watchEvents),
    cpuSeconds: Number((after.cpuSeconds - before.cpuSeconds).toFixed(1)),
    cpu: Object.fromEntries(Object.entries(after.cpu).map(([k, v]) => [k, Number((v - (before.cpu[k] ?? 0)).toFixed(1))])),
  };
}

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

// --- one run on a fresh control plane

interface FloorResult {
  mode: 'floor';
  count: number;
  controllers: string;
  appliedSeconds: number;
  allPodsReadySeconds: number;
  /** The time compared: all pods Ready. */
  readySeconds: number;
  apiserver: ApiserverWork;
}

interface OperatorResult {
  mode: 'operator';
  count: number;
  controllers: string;
  operator: string;
  /** The operator arguments of this run's --variants entry ('' without --variants). */
  variant: string;
  createSeconds: number;
  allReadySeconds: number;
  allPodsReadySeconds: number;
  /** The time compared: all MCPServers Ready. */
  readySeconds: number;
  peakRssMiB: number;
  baselineRssMiB: number;
  rssAtReadyMiB: number;
  heapUsedAtReadyMiB: number;
  rssAfterIdleMiB: number;
  operatorCpuSeconds: number;
  reconcilesUntilReady: number;
  watchRestarts: number;
  writes: number;
  writesPerServer: number;
  writesByKind: Record<string, number>;
  reconcileErrors: number;
  idleSeconds: number;
  idleWrites: number;
  idleReconciles: number;
  leaseWritesIdle: number;
  apiserver: ApiserverWork;
  goals: typeof GOALS;
  pass: boolean;
  progress: { t: number; ready: number; podsDone: number }[];
}

type RunResult = FloorResult | OperatorResult;

/** A fresh control plane with the CRD and the bench namespace; stopped after `run`. */
async function onControlPlane<T>(run: (cp: ControlPlane) => Promise<T>): Promise<T> {
  log(`starting the control plane (${STOCK ? 'stock' : 'tuned'} controllers)`);
  const cp: ControlPlane = await startControlPlane(
    STOCK ? { withControllers: true, withKwok: true, nodes: Math.ceil((2 * COUNT) / 100) + 1 } : scaleTuning(COUNT),
  );
  try {
    const kubectl = async (args: string[], input?: string): Promise<void> => {
      const r = await cp.kubectl(args, input === undefined ? {} : { input });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    };
    if (STOCK) {
      // The harness's service range is a /24; 1,000 proxy Services need more virtual IPs.
      await kubectl(
        ['apply', '-f', '-'],
        JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'bench' }, spec: { cidrs: ['10.1.0.0/16'] } }),
      );
    }
    await kubectl(['apply', '-f', path.join(ROOT, 'deploy/crd')]);
    await kubectl(['wait', '--for=condition=Established', ...API_KINDS.map((k) => `crd/${crdName(k)}`), '--timeout=60s']);
    await kubectl(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: NAMESPACE, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } },
      }),
    );
    // Pods need the namespace's default ServiceAccount (made by the controller-manager).
    for (let i = 0; (await cp.kubectl(['get', 'serviceaccount', 'default', '-n', NAMESPACE])).code !== 0; i++) {
      if (i > 240) throw new Error('no default ServiceAccount in the bench namespace');
      await sleep(250);
    }
    return await run(cp);
  } finally {
    await cp.stop();
  }
}

async function runOperator(cp: ControlPlane, operatorMain: string, variant = ''): Promise<OperatorResult> {
  const operatorArgs = ['--resync-period', RESYNC, '--leader-election-namespace', 'default', '--proxyrunner-image', 'ghcr.io/mcpfleet/proxyrunner:bench'];
  operatorArgs.push(...`${values['operator-args']} ${variant}`.split(/\s+/).filter((a) => a !== ''));
  const operatorEnv = Object.fromEntries(
    values['operator-env']
      .split(';')
      .filter((kv) => kv.includes('='))
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  // Before the operator starts, so its initial lists and watches count.
  const apiBefore = await apiserverSnapshot(cp);
  const op = await startOperator(cp.kubeconfigPath, operatorArgs, operatorEnv, operatorMain);
  try {
    const pid = op.pid;
    for (let i = 0; i < 100 && !(await op.isLeader()); i++) await sleep(100);
    const baseline = (await procStats(pid)) as ProcStats;
    log(`operator pid ${pid} is leading; RSS ${(baseline.rssBytes / 2 ** 20).toFixed(1)} MiB before any MCPServer`);

    let peakRss = baseline.rssBytes;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await procStats(pid);
        if (s) peakRss = Math.max(peakRss, s.rssBytes, s.hwmBytes);
        await sleep(200);
      }
    })();

    const client = new KubeClient(fromKubeconfig(cp.kubeconfigPath), { maxSockets: CREATE_CONCURRENCY, timeoutMs: CLIENT_TIMEOUT_MS });
    const started = performance.now();
    await createServers(client);
    const createdS = (performance.now() - started) / 1000;
    log(`created ${COUNT} MCPServers in ${createdS.toFixed(1)} s`);

    // Readiness is followed through a watch (an informer), not by listing 1,000 objects
    // over and over, which would load the apiserver being measured.
    const servers = new Informer<MCPServer & KubeObject>(client, { kind: MCPSERVER, namespace: NAMESPACE, log: silentLogger });
    servers.start();
    // Pods too: how far the control plane is, so the operator's own lag shows.
    const pods = new Informer<PodJson>(client, { kind: POD, namespace: NAMESPACE, log: silentLogger });
    pods.start();
    let podsReadyS = NaN;
    const isReady = (m: MCPServer & KubeObject): boolean => m.status?.phase === 'Ready' && m.status.observedGeneration === m.metadata.generation;
    const progress: { t: number; ready: number; podsDone: number }[] = [];
    let readyS = NaN;
    for (let tick = 0; ; tick++) {
      const items = [...servers.list()];
      const ready = items.filter(isReady).length;
      const t = (performance.now() - started) / 1000;
      // Servers whose two pods are both Ready: what the control plane has done; the gap to
      // `ready` is the operator's lag in reporting it.
      const readyPodsOf = new Map<string, number>();
      for (const p of pods.list()) {
        const instance = p.metadata.labels?.[LABEL_INSTANCE];
        if (instance !== undefined && podReady(p)) readyPodsOf.set(instance, (readyPodsOf.get(instance) ?? 0) + 1);
      }
      const readyPods = [...readyPodsOf.values()].reduce((a, b) => a + b, 0);
      const podsDone = [...readyPodsOf.values()].filter((n) => n >= 2).length;
      if (readyPods >= 2 * COUNT && Number.isNaN(podsReadyS)) podsReadyS = t;
      progress.push({ t, ready, podsDone });
      // Every 15 s, a common Prometheus scrape interval: each scrape of the operator's /metrics
      // (one series per MCPServer) costs it CPU that a run on two cores pays in time.
      if (tick % 60 === 0 || ready === COUNT) {
        // The operator's writes so far (applies by kind, status patches): whether its applies pace the batch.
        const w = await writeCounts(op);
        const applies = Object.entries(w.byKind)
          .filter(([k]) => k.startsWith('apply '))
          .reduce((a, [, v]) => a + v, 0);
        log(
          `${t.toFixed(1)} s: ${ready}/${COUNT} Ready (${podsDone} with both pods Ready), ${readyPods}/${2 * COUNT} pods Ready; operator: ${applies} applies, ${w.total - applies} other writes`,
        );
      }
      if (ready === COUNT) {
        readyS = t;
        break;
      }
      if (t > TIMEOUT_S) {
        const why = new Map<string, number>();
        for (const m of items) {
          if (isReady(m)) continue;
          const k = `${m.status?.phase ?? 'no status'}: ${m.status?.message ?? ''}`.replace(/s\d{4}/g, 'sNNNN').slice(0, 300);
          why.set(k, (why.get(k) ?? 0) + 1);
        }
        for (const [k, n] of [...why].sort((a, b) => b[1] - a[1]).slice(0, 10)) log(`  ${n} x ${k}`);
        throw new Error(`only ${ready}/${COUNT} Ready after ${TIMEOUT_S} s`);
      }
      await sleep(250);
    }
    const apiAtReady = await apiserverSnapshot(cp, pid);
    await servers.stop();
    await pods.stop();
    client.close();
    const atReady = await writeCounts(op);
    const statsAtReady = (await procStats(pid)) as ProcStats;
    const scrapeAtReady = await op.scrape();
    const heapAtReady = scrapeAtReady.value('nodejs_heap_size_used_bytes') ?? 0;
    // A watch the apiserver ends early (e.g. a consumer too slow for its buffer) restarts.
    const watchRestarts = scrapeAtReady.value('mcpfleet_operator_watch_restarts_total') ?? 0;

    // --- idle window: nothing changes, a resync happens, nothing may be written.
    const reconcilesBefore = (await op.scrape()).value('mcpfleet_operator_reconciles_total', { result: 'success' }) ?? 0;
    log(`idle window: ${IDLE_S} s (resync every ${RESYNC})`);
    await sleep(IDLE_S * 1000);
    const afterIdle = await writeCounts(op);
    const idleScrape = await op.scrape();
    const reconcilesIdle = (idleScrape.value('mcpfleet_operator_reconciles_total', { result: 'success' }) ?? 0) - reconcilesBefore;
    const errors = idleScrape.value('mcpfleet_operator_reconciles_total', { result: 'error' }) ?? 0;
    sampling = false;
    await sampler;
    const end = (await procStats(pid)) as ProcStats;
    peakRss = Math.max(peakRss, end.hwmBytes);

    const idleWrites = afterIdle.total - atReady.total;
    return {
      mode: 'operator',
      count: COUNT,
      controllers: STOCK ? 'stock' : 'tuned',
      operator: path.relative(ROOT, operatorMain),
      variant,
      createSeconds: Number(createdS.toFixed(2)),
      allReadySeconds: Number(readyS.toFixed(2)),
      allPodsReadySeconds: Number(podsReadyS.toFixed(2)),
      readySeconds: Number(readyS.toFixed(2)),
      peakRssMiB: Number((peakRss / 2 ** 20).toFixed(1)),
      baselineRssMiB: Number((baseline.rssBytes / 2 ** 20).toFixed(1)),
      rssAtReadyMiB: Number((statsAtReady.rssBytes / 2 ** 20).toFixed(1)),
      heapUsedAtReadyMiB: Number((heapAtReady / 2 ** 20).toFixed(1)),
      rssAfterIdleMiB: Number((end.rssBytes / 2 ** 20).toFixed(1)),
      operatorCpuSeconds: Number((statsAtReady.cpuSeconds - baseline.cpuSeconds).toFixed(1)),
      reconcilesUntilReady: reconcilesBefore,
      watchRestarts,
      writes: atReady.total,
      writesPerServer: Number((atReady.total / COUNT).toFixed(2)),
      writesByKind: Object.fromEntries(Object.entries(atReady.byKind).sort()),
      reconcileErrors: errors,
      idleSeconds: IDLE_S,
      idleWrites,
      idleReconciles: reconcilesIdle,
      leaseWritesIdle: afterIdle.leases - atReady.leases,
      apiserver: apiserverWork(apiBefore, apiAtReady),
      goals: GOALS,
      pass: readyS <= GOALS.readySeconds && peakRss / 2 ** 20 < GOALS.peakRssMiB && idleWrites === GOALS.idleWrites,
      progress,
    };
  } finally {
    await mkdir(path.join(ROOT, 'bench-results'), { recursive: true });
    await writeFile(path.join(ROOT, 'bench-results', 'operator.log'), op.logs());
    log('operator log: bench-results/operator.log');
    await op.stop();
  }
}

/**
 * The benchmark's own requests, again after a transport error, a timeout or a 5xx/429 (an
 * apply is idempotent): on a machine shared with other work the apiserver has answered
 * "request did not complete within requested timeout" while other processes held the cores.
 */
async function retrying<T>(what: string, request: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await request(attempt);
    } catch (err) {
      const transient = err instanceof ApiError && (err.code === 0 || err.code === 429 || err.code >= 500);
      if (!transient || attempt >= 4) throw err;
      log(`${what}: ${err.message}; again (attempt ${attempt + 2})`);
      await sleep(1000 * (attempt + 1));
    }
  }
}

/** Creates the COUNT MCPServers, CREATE_CONCURRENCY at a time; returns them as stored. */
async function createServers(client: KubeClient): Promise<(MCPServer & KubeObject)[]> {
  const created: (MCPServer & KubeObject)[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CREATE_CONCURRENCY }, async () => {
      while (next < COUNT) {
        const i = next++;
        const m = manifest(`s${String(i).padStart(4, '0')}`, spec(i), NAMESPACE);
        const name = m.metadata.name;
        created.push(
          await retrying(`create ${name}`, async (attempt) => {
            try {
              return await client.create<MCPServer & KubeObject>(MCPSERVER, NAMESPACE, m as unknown as KubeObject);
            } catch (err) {
              // A create that timed out may have been stored all the same.
              const stored =
                attempt > 0 && err instanceof ApiError && err.code === 409 ? await client.get<MCPServer & KubeObject>(MCPSERVER, NAMESPACE, name) : undefined;
              if (stored === undefined) throw err;
              return stored;
            }
          }),
        );
      }
    }),
  );
  return created;
}

/** No operator: apply every server's children directly and time until all pods are Ready. */
async function runFloor(cp: ControlPlane): Promise<FloorResult> {
  const apiBefore = await apiserverSnapshot(cp);
  const client = new KubeClient(fromKubeconfig(cp.kubeconfigPath), { maxSockets: CREATE_CONCURRENCY, timeoutMs: CLIENT_TIMEOUT_MS });
  const started = performance.now();
  const servers = await createServers(client);
  // Pods are watched from here on, as in the operator run (its progress lines): the benchmark's
  // own watch then costs the apiserver the same in both modes. Started after the applies
  // instead, the floor run was spared about 5.7 pod watch events per MCPServer that the operator
  // run paid (apiserver_watch_events_total, --compare at 250).
  const pods = new Informer<PodJson>(client, { kind: POD, namespace: NAMESPACE, log: silentLogger });
  pods.start();
  try {
    const objects = servers.flatMap((m) => desiredObjects(m, { proxyrunnerImage: 'ghcr.io/mcpfleet/proxyrunner:bench' }));
    // Same order as the operator: ServiceAccounts and Roles first, then everything else.
    const first = (kind: string): boolean => kind === 'ServiceAccount' || kind === 'Role';
    objects.sort((a, b) => Number(first(b.kind)) - Number(first(a.kind)));
    let next = 0;
    await Promise.all(
      Array.from({ length: CREATE_CONCURRENCY }, async () => {
        while (next < objects.length) {
          const d = objects[next++] as (typeof objects)[number];
          const kind = CHILD_KINDS.find((k) => k.kind === d.kind && k.apiVersion === d.apiVersion);
          if (kind) await retrying(`apply ${d.kind} ${d.metadata.name}`, () => client.apply(kind, d));
        }
      }),
    );
    const appliedS = (performance.now() - started) / 1000;
    log(`applied ${objects.length} children of ${COUNT} MCPServers in ${appliedS.toFixed(1)} s`);
    const want = 2 * COUNT;
    for (let tick = 0; ; tick++) {
      const ready = [...pods.list()].filter(podReady).length;
      const t = (performance.now() - started) / 1000;
      if (tick % 20 === 0 || ready >= want) log(`${t.toFixed(1)} s: ${ready}/${want} pods Ready`);
      if (ready >= want) {
        return {
          mode: 'floor',
          count: COUNT,
          controllers: STOCK ? 'stock' : 'tuned',
          appliedSeconds: Number(appliedS.toFixed(2)),
          allPodsReadySeconds: Number(t.toFixed(2)),
          readySeconds: Number(t.toFixed(2)),
          apiserver: apiserverWork(apiBefore, await apiserverSnapshot(cp)),
        };
      }
      if (t > TIMEOUT_S) throw new Error(`only ${ready}/${want} pods Ready after ${TIMEOUT_S} s`);
      await sleep(250);
    }
  } finally {
    await pods.stop();
    client.close();
  }
}

// --- printing

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

const perServer = (n: number | undefined): string => (n === undefined || n === 0 ? '-' : (n / COUNT).toFixed(2));

/** Requests per MCPServer by verb and resource, one column per run (or per median), and watch events. */
function apiserverTable(columns: readonly { name: string; work: ApiserverWork }[]): string {
  const keys = [...new Set(columns.flatMap((c) => Object.keys(c.work.requests)))].sort();
  const watchKeys = [...new Set(columns.flatMap((c) => Object.keys(c.work.watchEvents)))].sort();
  const rows: string[][] = [['apiserver requests per MCPServer', ...columns.map((c) => c.name)]];
  // Only lines with at least 0.05 per server somewhere: the rest is the control plane's own chatter.
  for (const k of keys)
    if (columns.some((c) => Math.abs(c.work.requests[k] ?? 0) >= COUNT / 20)) rows.push([`  ${k}`, ...columns.map((c) => perServer(c.work.requests[k]))]);
  rows.push(['  all requests', ...columns.map((c) => perServer(sum(c.work.requests)))]);
  rows.push(['  of which 409 Conflict', ...columns.map((c) => perServer(sum(c.work.conflicts)))]);
  rows.push(['watch events sent per MCPServer', ...columns.map(() => '')]);
  for (const k of watchKeys)
    if (columns.some((c) => Math.abs(c.work.watchEvents[k] ?? 0) >= COUNT / 20)) rows.push([`  ${k}`, ...columns.map((c) => perServer(c.work.watchEvents[k]))]);
  rows.push(['  all watch events', ...columns.map((c) => perServer(sum(c.work.watchEvents)))]);
  rows.push(['kube-apiserver CPU seconds', ...columns.map((c) => c.work.cpuSeconds.toFixed(1))]);
  // Every process's CPU over the run, the machine's last: where a longer run's time went.
  rows.push(['CPU seconds by process (/proc)', ...columns.map(() => '')]);
  const cpuKeys = [...new Set(columns.flatMap((c) => Object.keys(c.work.cpu)))].sort(
    (a, b) => Number(a.startsWith('machine')) - Number(b.startsWith('machine')) || a.localeCompare(b),
  );
  for (const k of cpuKeys) rows.push([`  ${k}`, ...columns.map((c) => (c.work.cpu[k] === undefined ? '-' : c.work.cpu[k].toFixed(1)))]);
  return table(rows);
}

function printOperator(result: OperatorResult): void {
  const rows: [string, string, string][] = [
    ['MCPServers', String(COUNT), ''],
    ['controllers', result.controllers, ''],
    ['operator', result.operator, ''],
    ['created in', `${result.createSeconds} s`, ''],
    ['all Ready after', `${result.allReadySeconds} s`, `goal <= ${GOALS.readySeconds} s`],
    ['  all pods Ready after', `${result.allPodsReadySeconds} s`, "the control plane's part"],
    ['operator peak RSS', `${result.peakRssMiB} MiB`, `goal < ${GOALS.peakRssMiB} MiB`],
    [
      '  RSS: start, Ready, after idle',
      `${result.baselineRssMiB} / ${result.rssAtReadyMiB} / ${result.rssAfterIdleMiB} MiB`,
      `V8 heap used at Ready ${result.heapUsedAtReadyMiB} MiB`,
    ],
    ['operator CPU until Ready', `${result.operatorCpuSeconds} s`, `${result.reconcilesUntilReady} reconciles, ${result.watchRestarts} watch restarts`],
    ['API writes', String(result.writes), `${result.writesPerServer} per MCPServer`],
    ...Object.entries(result.writesByKind).map(([k, v]): [string, string, string] => [`  ${k}`, String(v), `${(v / COUNT).toFixed(2)} per MCPServer`]),
    ['reconcile errors', String(result.reconcileErrors), ''],
    [
      `writes in ${IDLE_S} s idle`,
      String(result.idleWrites),
      `goal ${GOALS.idleWrites}; ${result.idleReconciles} reconciles (resync), ${result.leaseWritesIdle} lease renewals`,
    ],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  process.stdout.write(rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`.trimEnd()).join('\n') + '\n');
  process.stdout.write(apiserverTable([{ name: 'operator run', work: result.apiserver }]));
}

function printFloor(result: FloorResult): void {
  process.stdout.write(
    `control-plane floor: ${COUNT} MCPServers' children applied in ${result.appliedSeconds} s, all ${2 * COUNT} pods Ready after ${result.allPodsReadySeconds} s\n`,
  );
  process.stdout.write(apiserverTable([{ name: 'floor run', work: result.apiserver }]));
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** The per-key median over runs (keys missing in a run count as 0). */
function medianWork(works: readonly ApiserverWork[]): ApiserverWork {
  const med = (pick: (w: ApiserverWork) => Record<string, number>): Record<string, number> => {
    const keys = [...new Set(works.flatMap((w) => Object.keys(pick(w))))].sort();
    return Object.fromEntries(keys.map((k) => [k, median(works.map((w) => pick(w)[k] ?? 0))]));
  };
  return {
    requests: med((w) => w.requests),
    conflicts: med((w) => w.conflicts),
    watchEvents: med((w) => w.watchEvents),
    cpuSeconds: median(works.map((w) => w.cpuSeconds)),
    cpu: med((w) => w.cpu),
  };
}

export interface CompareSummary {
  count: number;
  /** The operator arguments of this --variants entry ('' without --variants). */
  variant: string;
  runs: number;
  floorSeconds: number[];
  operatorSeconds: number[];
  floorMedianSeconds: number;
  operatorMedianSeconds: number;
  /** Median operator time over median floor time. */
  ratio: number;
  operatorPeakRssMiB: number;
  idleWrites: number[];
  floorRequestsPerServer: number;
  operatorRequestsPerServer: number;
  floorApiserverCpuSeconds: number;
  operatorApiserverCpuSeconds: number;
}

function printCompare(floors: FloorResult[], operators: OperatorResult[], variant = ''): CompareSummary {
  const floorMed = median(floors.map((r) => r.readySeconds));
  const opMed = median(operators.map((r) => r.readySeconds));
  const floorWork = medianWork(floors.map((r) => r.apiserver));
  const opWork = medianWork(operators.map((r) => r.apiserver));
  const diff: ApiserverWork = {
    requests: Object.fromEntries(
      Object.keys({ ...floorWork.requests, ...opWork.requests }).map((k) => [k, (opWork.requests[k] ?? 0) - (floorWork.requests[k] ?? 0)]),
    ),
    conflicts: {},
    watchEvents: Object.fromEntries(
      Object.keys({ ...floorWork.watchEvents, ...opWork.watchEvents }).map((k) => [k, (opWork.watchEvents[k] ?? 0) - (floorWork.watchEvents[k] ?? 0)]),
    ),
    cpuSeconds: opWork.cpuSeconds - floorWork.cpuSeconds,
    cpu: Object.fromEntries(Object.keys({ ...floorWork.cpu, ...opWork.cpu }).map((k) => [k, (opWork.cpu[k] ?? 0) - (floorWork.cpu[k] ?? 0)])),
  };
  diff.conflicts = { all: sum(opWork.conflicts) - sum(floorWork.conflicts) };
  const summary: CompareSummary = {
    count: COUNT,
    variant,
    runs: floors.length,
    floorSeconds: floors.map((r) => r.readySeconds),
    operatorSeconds: operators.map((r) => r.readySeconds),
    floorMedianSeconds: floorMed,
    operatorMedianSeconds: opMed,
    ratio: Number((opMed / floorMed).toFixed(3)),
    operatorPeakRssMiB: Math.max(...operators.map((r) => r.peakRssMiB)),
    idleWrites: operators.map((r) => r.idleWrites),
    floorRequestsPerServer: Number((sum(floorWork.requests) / COUNT).toFixed(2)),
    operatorRequestsPerServer: Number((sum(opWork.requests) / COUNT).toFixed(2)),
    floorApiserverCpuSeconds: floorWork.cpuSeconds,
    operatorApiserverCpuSeconds: opWork.cpuSeconds,
  };
  const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(', ');
  process.stdout.write(
    `\n== ${COUNT} MCPServers, ${floors.length} floor and ${operators.length} operator runs${variant ? ` (${variant})` : ''}, alternating\n` +
      table([
        ['', 'floor', 'operator', 'operator/floor'],
        ['all Ready, median (s)', floorMed.toFixed(1), opMed.toFixed(1), `${summary.ratio.toFixed(2)}x`],
        ['  each run (s)', fmt(summary.floorSeconds), fmt(summary.operatorSeconds), ''],
        ['operator peak RSS (MiB)', '', String(summary.operatorPeakRssMiB), `goal < ${GOALS.peakRssMiB}`],
        ['operator writes in the idle window', '', summary.idleWrites.join(', '), `goal ${GOALS.idleWrites}`],
      ]) +
      '\nmedians per MCPServer; the last column is what the operator run asked more (or less) of the apiserver\n' +
      apiserverTable([
        { name: 'floor', work: floorWork },
        { name: 'operator', work: opWork },
        { name: 'difference', work: diff },
      ]),
  );
  return summary;
}

async function main(): Promise<void> {
  const operatorMain = values['operator-main'] !== undefined ? path.resolve(values['operator-main']) : values.source ? OPERATOR_SOURCE : OPERATOR_DIST;
  if (!values.floor || COMPARE > 0)
    await access(operatorMain).catch(() => {
      throw new Error(`${operatorMain} is missing: run npm run build first (or pass --source)`);
    });
  await ensureBinaries();
  if (COMPARE > 0) {
    const floors: FloorResult[] = [];
    const operators: OperatorResult[] = [];
    for (let i = 0; i < COMPARE; i++) {
      log(`compare: round ${i + 1}/${COMPARE}, floor`);
      const f = await onControlPlane(runFloor);
      floors.push(f);
      for (const variant of VARIANTS) {
        log(`compare: floor ${f.readySeconds} s; round ${i + 1}/${COMPARE}, operator${variant ? ` (${variant})` : ''}`);
        const o = await onControlPlane((cp) => runOperator(cp, operatorMain, variant));
        operators.push(o);
        log(`compare: operator ${o.readySeconds} s (floor ${f.readySeconds} s), peak RSS ${o.peakRssMiB} MiB, ${o.idleWrites} idle writes`);
      }
    }
    const summaries = VARIANTS.map((variant) => {
      const ofVariant = operators.filter((o) => o.variant === variant);
      return { variant, summary: printCompare(floors, ofVariant, variant) };
    });
    for (const { summary } of summaries) process.stdout.write(JSON.stringify(summary) + '\n');
    const summary = (summaries[0] as (typeof summaries)[number]).summary;
    if (values.json) await writeFile(values.json, JSON.stringify({ summary, floors, operators, ...(VARIANTS.length > 1 && { variants: summaries }) }, null, 2));
    if (summaries.some(({ summary: s }) => s.idleWrites.some((w) => w !== GOALS.idleWrites) || s.operatorPeakRssMiB >= GOALS.peakRssMiB)) process.exitCode = 1;
    return;
  }
  const result: RunResult = values.floor ? await onControlPlane(runFloor) : await onControlPlane((cp) => runOperator(cp, operatorMain));
  if (result.mode === 'floor') printFloor(result);
  else printOperator(result);
  process.stdout.write(JSON.stringify({ ...result, progress: undefined }) + '\n'); // the progress goes to --json only
  if (values.json) await writeFile(values.json, JSON.stringify(result, null, 2));
  if (result.mode === 'operator' && !result.pass) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:operator failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
