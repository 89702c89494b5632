// bench:operator — 1,000 MCPServers on a real control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok), reconciled by the operator running as its
// own process, as it ships. Reports the time until every MCPServer is Ready, the operator's
// peak RSS, and its API writes per MCPServer; then watches a 60 s idle window (with a resync
// inside it) in which the operator must write nothing.
//
//   npm run bench:operator -- [--count 1000] [--idle 60] [--create-concurrency 32]
//                             [--operator-args="--concurrency 8"] [--operator-env="K=V;K2=V2"]
//                             [--stock-controllers] [--source] [--floor] [--json out.json]
//
// The operator runs from dist/ (npm run build), as the image runs it; --source runs
// operator/src/main.ts through Node's type stripping instead (about 30 MiB more RSS).
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
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
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
import { KubeClient } from '../common/kube/client.ts';
import { fromKubeconfig } from '../common/kube/kubeconfig.ts';
import { Informer } from '../operator/src/kube/informer.ts';
import { silentLogger } from '../common/log.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    idle: { type: 'string', default: '60' },
    'create-concurrency': { type: 'string', default: '32' },
    'operator-args': { type: 'string', default: '' },
    'stock-controllers': { type: 'boolean', default: false },
    source: { type: 'boolean', default: false },
    floor: { type: 'boolean', default: false },
    'operator-env': { type: 'string', default: '' },
    timeout: { type: 'string', default: '900' },
    json: { type: 'string' },
  },
});
const COUNT = Number(values.count);
const IDLE_S = Number(values.idle);
const CREATE_CONCURRENCY = Number(values['create-concurrency']);
const TIMEOUT_S = Number(values.timeout);
const STOCK = values['stock-controllers'] === true;

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

async function main(): Promise<void> {
  const operatorMain = values.source ? OPERATOR_SOURCE : OPERATOR_DIST;
  await access(operatorMain).catch(() => {
    throw new Error(`${operatorMain} is missing: run npm run build first (or pass --source)`);
  });
  await ensureBinaries();
  log(`starting the control plane (${STOCK ? 'stock' : 'tuned'} controllers)`);
  const cp: ControlPlane = await startControlPlane(
    STOCK ? { withControllers: true, withKwok: true, nodes: Math.ceil((2 * COUNT) / 100) + 1 } : scaleTuning(COUNT),
  );
  let op: OperatorProcess | undefined;
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

    if (values.floor) {
      await floor(cp);
      return;
    }
    const operatorArgs = ['--resync-period', RESYNC, '--leader-election-namespace', 'default', '--proxyrunner-image', 'ghcr.io/mcpfleet/proxyrunner:bench'];
    if (values['operator-args']) operatorArgs.push(...values['operator-args'].split(/\s+/).filter((a) => a !== ''));
    const operatorEnv = Object.fromEntries(
      values['operator-env']
        .split(';')
        .filter((kv) => kv.includes('='))
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    op = await startOperator(cp.kubeconfigPath, operatorArgs, operatorEnv, operatorMain);
    const pid = op.pid;
    await (async () => {
      for (let i = 0; i < 100 && !(await op.isLeader()); i++) await sleep(100);
    })();
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

    const client = new KubeClient(fromKubeconfig(cp.kubeconfigPath), { maxSockets: CREATE_CONCURRENCY });
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
      if (tick % 20 === 0 || ready === COUNT)
        log(`${t.toFixed(1)} s: ${ready}/${COUNT} Ready (${podsDone} with both pods Ready), ${readyPods}/${2 * COUNT} pods Ready`);
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
    await servers.stop();
    await pods.stop();
    const atReady = await writeCounts(op);
    const statsAtReady = (await procStats(pid)) as ProcStats;
    const heapAtReady = (await op.scrape()).value('nodejs_heap_size_used_bytes') ?? 0;

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
    const result = {
      count: COUNT,
      controllers: STOCK ? 'stock' : 'tuned',
      operator: path.relative(ROOT, operatorMain),
      createSeconds: Number(createdS.toFixed(2)),
      allReadySeconds: Number(readyS.toFixed(2)),
      allPodsReadySeconds: Number(podsReadyS.toFixed(2)),
      peakRssMiB: Number((peakRss / 2 ** 20).toFixed(1)),
      baselineRssMiB: Number((baseline.rssBytes / 2 ** 20).toFixed(1)),
      rssAtReadyMiB: Number((statsAtReady.rssBytes / 2 ** 20).toFixed(1)),
      heapUsedAtReadyMiB: Number((heapAtReady / 2 ** 20).toFixed(1)),
      rssAfterIdleMiB: Number((end.rssBytes / 2 ** 20).toFixed(1)),
      operatorCpuSeconds: Number((statsAtReady.cpuSeconds - baseline.cpuSeconds).toFixed(1)),
      reconcilesUntilReady: reconcilesBefore,
      writes: atReady.total,
      writesPerServer: Number((atReady.total / COUNT).toFixed(2)),
      writesByKind: Object.fromEntries(Object.entries(atReady.byKind).sort()),
      reconcileErrors: errors,
      idleSeconds: IDLE_S,
      idleWrites,
      idleReconciles: reconcilesIdle,
      leaseWritesIdle: afterIdle.leases - atReady.leases,
      goals: GOALS,
      pass: readyS <= GOALS.readySeconds && peakRss / 2 ** 20 < GOALS.peakRssMiB && idleWrites === GOALS.idleWrites,
    };

    const rows: [string, string, string][] = [
      ['MCPServers', String(COUNT), ''],
      ['controllers', result.controllers, ''],
      ['operator', path.relative(ROOT, operatorMain), ''],
      ['created in', `${result.createSeconds} s`, ''],
      ['all Ready after', `${result.allReadySeconds} s`, `goal <= ${GOALS.readySeconds} s`],
      ['  all pods Ready after', `${result.allPodsReadySeconds} s`, "the control plane's part"],
      ['operator peak RSS', `${result.peakRssMiB} MiB`, `goal < ${GOALS.peakRssMiB} MiB`],
      [
        '  RSS: start, Ready, after idle',
        `${result.baselineRssMiB} / ${result.rssAtReadyMiB} / ${result.rssAfterIdleMiB} MiB`,
        `V8 heap used at Ready ${result.heapUsedAtReadyMiB} MiB`,
      ],
      ['operator CPU until Ready', `${result.operatorCpuSeconds} s`, `${result.reconcilesUntilReady} reconciles`],
      ['API writes', String(result.writes), `${result.writesPerServer} per MCPServer`],
      ...Object.entries(result.writesByKind).map(([k, v]): [string, string, string] => [`  ${k}`, String(v), `${(v / COUNT).toFixed(2)} per MCPServer`]),
      ['reconcile errors', String(errors), ''],
      [
        `writes in ${IDLE_S} s idle`,
        String(idleWrites),
        `goal ${GOALS.idleWrites}; ${reconcilesIdle} reconciles (resync), ${result.leaseWritesIdle} lease renewals`,
      ],
    ];
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    process.stdout.write(rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`.trimEnd()).join('\n') + '\n');
    process.stdout.write(JSON.stringify(result) + '\n');
    if (values.json) await writeFile(values.json, JSON.stringify({ ...result, progress }, null, 2));
    if (!result.pass) process.exitCode = 1;
  } finally {
    if (op !== undefined) {
      await mkdir(path.join(ROOT, 'bench-results'), { recursive: true });
      await writeFile(path.join(ROOT, 'bench-results', 'operator.log'), op.logs());
      log('operator log: bench-results/operator.log');
    }
    await op?.stop();
    await cp.stop();
  }
}

/** No operator: apply every server's children directly and time until all pods are Ready. */
/** Creates the COUNT MCPServers, CREATE_CONCURRENCY at a time; returns them as stored. */
async function createServers(client: KubeClient): Promise<(MCPServer & KubeObject)[]> {
  const created: (MCPServer & KubeObject)[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CREATE_CONCURRENCY }, async () => {
      while (next < COUNT) {
        const i = next++;
        const m = manifest(`s${String(i).padStart(4, '0')}`, spec(i), NAMESPACE);
        created.push(await client.create<MCPServer & KubeObject>(MCPSERVER, NAMESPACE, m as unknown as KubeObject));
      }
    }),
  );
  return created;
}

async function floor(cp: ControlPlane): Promise<void> {
  const client = new KubeClient(fromKubeconfig(cp.kubeconfigPath), { maxSockets: CREATE_CONCURRENCY });
  const started = performance.now();
  const servers = await createServers(client);
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
        if (kind) await client.apply(kind, d);
      }
    }),
  );
  const appliedS = (performance.now() - started) / 1000;
  log(`applied ${objects.length} children of ${COUNT} MCPServers in ${appliedS.toFixed(1)} s`);
  const want = 2 * COUNT;
  const pods = new Informer<PodJson>(client, { kind: POD, namespace: NAMESPACE, log: silentLogger });
  pods.start();
  try {
    for (let tick = 0; ; tick++) {
      const ready = [...pods.list()].filter(podReady).length;
      const t = (performance.now() - started) / 1000;
      if (tick % 20 === 0 || ready >= want) log(`${t.toFixed(1)} s: ${ready}/${want} pods Ready`);
      if (ready >= want) {
        const result = {
          count: COUNT,
          floor: true,
          controllers: STOCK ? 'stock' : 'tuned',
          appliedSeconds: Number(appliedS.toFixed(2)),
          allPodsReadySeconds: Number(t.toFixed(2)),
        };
        process.stdout.write(
          `control-plane floor: ${COUNT} MCPServers' children applied in ${result.appliedSeconds} s, all ${want} pods Ready after ${result.allPodsReadySeconds} s\n`,
        );
        process.stdout.write(JSON.stringify(result) + '\n');
        return;
      }
      if (t > TIMEOUT_S) throw new Error(`only ${ready}/${want} pods Ready after ${TIMEOUT_S} s`);
      await sleep(250);
    }
  } finally {
    await pods.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:operator failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
