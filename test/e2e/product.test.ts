// The product on a real node: the chart installed with images built from our Dockerfile, the
// operator in real pods, one MCPServer per transport from deploy/samples/ served by real pods,
// and real MCP SDK clients from the host reaching each through its ClusterIP Service
// (kube-proxy) — the paths the kwok tests cannot exercise: containers starting at all, the
// restricted Pod Security Standard on real containers, DNS and Services, stdio over a real
// pods/attach stream, and the proxy's metrics from the running pods.
// Also backendReplicas across real pods: real pod IPs in the EndpointSlice controller's slices
// (no test-only addresses), each session pinned to the pod that answers it, a deleted pod
// ending exactly its sessions (or, with sessionRecovery Replay, its sessions moved).
//
// Runs only under `make test-e2e` (the jest project `e2e`, against cluster-up's cluster).
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connect, type Connected } from '../support/sdk.ts';
import { Scrape, scrape } from '../support/metrics.ts';
import { dashboardExprs, loadDashboard, startPrometheus, type ScrapeTarget } from '../support/prometheus.ts';
import { Cluster, OPERATOR_NAMESPACE, RELEASE, containerState, podIp, waitFor, type Obj } from './cluster.ts';

const NS = 'e2e';
const MINUTE = 60_000;

interface Server {
  file: string;
  name: string;
  /** Where clients connect on the proxy: /mcp or /sse. */
  path: string;
  replicas: number;
}

const SERVERS: Record<'stdio' | 'sse' | 'streamable-http', Server> = {
  stdio: { file: 'mcpserver-stdio.yaml', name: 'everything-stdio', path: '/mcp', replicas: 1 },
  sse: { file: 'mcpserver-sse.yaml', name: 'everything-sse', path: '/sse', replicas: 1 },
  'streamable-http': { file: 'mcpserver-streamable-http.yaml', name: 'everything-http', path: '/mcp', replicas: 2 },
};

/** The proxy pods' metrics, summed over every replica (the Service may pick either). */
async function proxyMetrics(cluster: Cluster, server: Server): Promise<Scrape> {
  const pods = await cluster.pods(server.name, NS, 'proxy');
  const running = pods.filter((p) => p.metadata.deletionTimestamp === undefined);
  const texts = await Promise.all(running.map(async (p) => (await scrape(`http://${podIp(p)}:9464/metrics`)).text));
  return new Scrape(texts.join('\n'));
}

async function proxyUrl(cluster: Cluster, server: Server): Promise<string> {
  return cluster.serviceUrl(`mcp-${server.name}-proxy`, NS, 8080, server.path);
}

/** Connects, retrying while the Service has no ready endpoint yet or the upstream is still starting. */
async function connectEventually(url: string, timeoutMs = 2 * MINUTE): Promise<Connected> {
  return waitFor(`an MCP session through ${url}`, timeoutMs, async () => connect(url));
}

/** The pod that answered: server-everything's get-env returns its environment, where the runtime put the pod's hostname. */
async function answeringPod(session: Connected): Promise<string> {
  const result = (await session.client.callTool({ name: 'get-env', arguments: {} })) as { content: { type: string; text: string }[] };
  const env = JSON.parse(result.content[0]?.text ?? '{}') as Record<string, string>;
  if (!env['HOSTNAME']) throw new Error('get-env answered without HOSTNAME');
  return env['HOSTNAME'];
}

/** The one live proxy pod of a server run with replicas 1 (a rollout's old pod excluded), once it is the only one. */
async function onlyProxyPod(cluster: Cluster, name: string, ns: string): Promise<Obj> {
  return waitFor(
    `exactly one ready proxy pod of ${name}`,
    3 * MINUTE,
    async () => {
      const pods = await cluster.pods(name, ns, 'proxy');
      const [pod] = pods;
      return pods.length === 1 && pod !== undefined && pod.metadata.deletionTimestamp === undefined && containerState(pod, 'proxyrunner').ready
        ? pod
        : undefined;
    },
    () => cluster.describe(['get', 'pods', '-n', ns, '-o', 'wide']),
  );
}

/** backend key (pod@ip:port) -> this proxy's sessions pinned to it. */
function sessionsByBackend(m: Scrape): Map<string, number> {
  return new Map(m.samples.filter((s) => s.name === 'mcpfleet_proxy_backend_sessions').map((s) => [s.labels['backend'] as string, s.value]));
}

describe('backendReplicas on a real node', () => {
  const cluster = new Cluster();
  const ns = 'e2e-replicas';
  const name = 'everything-pool';

  beforeAll(async () => {
    await cluster.installChart();
    await cluster.restrictedNamespace(ns);
    const mcp = (await cluster.sample('mcpserver-streamable-http.yaml')) as Obj & { spec: Record<string, unknown> };
    mcp.metadata.name = name;
    // One proxy (its metrics are then the whole story), three backend pods.
    Object.assign(mcp.spec, { replicas: 1, backendReplicas: 3, resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '384Mi' } } });
    await cluster.apply(mcp, ns);
  }, 10 * MINUTE);

  afterAll(async () => {
    // Gone before the other tests uninstall the chart (the operator must still be there to let go of the MCPServer).
    await cluster.ok(['delete', 'namespace', ns, '--wait=true', '--timeout=300s']);
  }, 6 * MINUTE);

  async function proxyScrape(pod: Obj): Promise<Scrape> {
    return scrape(`http://${podIp(pod)}:9464/metrics`);
  }

  async function threeReadyBackends(proxy: Obj): Promise<Obj[]> {
    return waitFor(
      'three ready backend pods, all known to the proxy',
      5 * MINUTE,
      async () => {
        const pods = (await cluster.pods(name, ns, 'backend')).filter((p) => p.metadata.deletionTimestamp === undefined && containerState(p, 'mcp').ready);
        return pods.length === 3 && (await proxyScrape(proxy)).value('mcpfleet_proxy_backends_ready') === 3 ? pods : undefined;
      },
      () => cluster.describe(['get', 'pods,endpointslices', '-n', ns, '-o', 'wide']),
    );
  }

  it(
    'backendReplicas 3: sessions spread and stay pinned to real pod IPs; deleting one pod ends exactly its sessions (404), the SDK client re-initializes and carries on',
    async () => {
      await cluster.waitReady(name, ns);
      const proxy = await onlyProxyPod(cluster, name, ns);
      const backends = await threeReadyBackends(proxy);
      const url = await cluster.serviceUrl(`mcp-${name}-proxy`, ns, 8080, '/mcp');
      // The slices are the EndpointSlice controller's, with the pods' real addresses.
      const keys = [...sessionsByBackend(await proxyScrape(proxy)).keys()].sort();
      expect(keys).toEqual(backends.map((p) => `${p.metadata.name}@${podIp(p)}:3001`).sort());
      const m0 = await proxyScrape(proxy);
      const closed0 = m0.value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' }) ?? 0;

      // Six sessions, one after another: least-sessions puts two on each pod.
      const sessions: { session: Connected; pod: string }[] = [];
      for (let i = 0; i < 6; i++) {
        const session = await connectEventually(url);
        sessions.push({ session, pod: await answeringPod(session) });
      }
      const perPod = new Map<string, number>();
      for (const { pod } of sessions) perPod.set(pod, (perPod.get(pod) ?? 0) + 1);
      expect([...perPod.entries()].sort()).toEqual(backends.map((p) => [p.metadata.name, 2]).sort());
      // Pinned: every later request of a session reaches the same pod, and the proxy counts the same.
      for (const { session, pod } of sessions) for (let i = 0; i < 3; i++) expect(await answeringPod(session)).toBe(pod);
      const pinned = sessionsByBackend(await proxyScrape(proxy));
      for (const p of backends) expect(pinned.get(`${p.metadata.name}@${podIp(p)}:3001`)).toBe(2);

      const victim = backends[0] as Obj;
      const victimKey = `${victim.metadata.name}@${podIp(victim)}:3001`;
      await cluster.ok(['delete', 'pod', victim.metadata.name, '-n', ns, '--grace-period=1', '--wait=false']);
      const ended = await waitFor(
        "the victim pod's two sessions to end as upstream_closed",
        2 * MINUTE,
        async () => {
          const m = await proxyScrape(proxy);
          return (m.value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' }) ?? 0) - closed0 >= 2 ? m : undefined;
        },
        async () =>
          (await proxyScrape(proxy)).text
            .split('\n')
            .filter((l) => /session|backend/.test(l))
            .join('\n'),
      );
      expect(ended.value('mcpfleet_proxy_sessions_active')).toBe(4);
      expect(sessionsByBackend(ended).has(victimKey)).toBe(false);

      for (const { session, pod } of sessions) {
        if (pod !== victim.metadata.name) {
          // The others are untouched: same pod, same session.
          expect(await answeringPod(session)).toBe(pod);
          continue;
        }
        const failed = await answeringPod(session).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(failed).toBeInstanceOf(StreamableHTTPError);
        expect((failed as StreamableHTTPError).code).toBe(404);
        await session.client.close();
        // What the specification asks of the client: a new session, which lands on a live pod and carries on.
        const again = await connectEventually(url);
        const home = await answeringPod(again);
        expect(await answeringPod(again)).toBe(home);
        const echo = await again.client.callTool({ name: 'echo', arguments: { message: 'carried on' } });
        expect(echo.content).toEqual([{ type: 'text', text: 'Echo: carried on' }]);
        await again.end();
      }
      const after = await proxyScrape(proxy);
      // Exactly two: nothing else ended while the others kept working.
      expect((after.value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' }) ?? 0) - closed0).toBe(2);
      expect(after.value('mcpfleet_proxy_sessions_active')).toBe(4);
      for (const { session, pod } of sessions) if (pod !== victim.metadata.name) await session.end();
      // The StatefulSet brings the pod back (same name, new address): a new backend, no old pins.
      await threeReadyBackends(proxy);
      expect(containerState((await cluster.get('pod', proxy.metadata.name, ns)) as Obj, 'proxyrunner').restartCount).toBe(0);
    },
    15 * MINUTE,
  );

  it(
    'backendReplicas 3 with sessionRecovery Replay: a session whose pod is deleted is re-initialized on a live pod under the same ID, and the recovery is counted',
    async () => {
      await cluster.ok(['patch', 'mcpserver', name, '-n', ns, '--type=merge', '-p', '{"spec":{"sessionRecovery":"Replay"}}']);
      await cluster.waitReady(name, ns);
      const proxy = await waitFor(
        'the proxy rolled to --session-recovery replay',
        3 * MINUTE,
        async () => {
          const pod = await onlyProxyPod(cluster, name, ns);
          return JSON.stringify(pod.spec).includes('"--session-recovery","replay"') ? pod : undefined;
        },
        () => cluster.describe(['get', 'pods', '-n', ns, '-o', 'wide']),
      );
      const backends = await threeReadyBackends(proxy);
      const url = await cluster.serviceUrl(`mcp-${name}-proxy`, ns, 8080, '/mcp');
      const sessions: { session: Connected; pod: string }[] = [];
      for (let i = 0; i < 3; i++) {
        const session = await connectEventually(url);
        sessions.push({ session, pod: await answeringPod(session) });
      }
      expect(sessions.map((s) => s.pod).sort()).toEqual(backends.map((p) => p.metadata.name).sort());
      const m0 = await proxyScrape(proxy);
      const recovered0 = m0.value('mcpfleet_proxy_session_recoveries_total', { result: 'recovered' }) ?? 0;
      const closed0 = m0.value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' }) ?? 0;

      const [lost, ...kept] = sessions as [{ session: Connected; pod: string }, ...{ session: Connected; pod: string }[]];
      const victim = backends.find((p) => p.metadata.name === lost.pod) as Obj;
      const victimKey = `${victim.metadata.name}@${podIp(victim)}:3001`;
      const sessionId = (lost.session.transport as { sessionId?: string }).sessionId;
      await cluster.ok(['delete', 'pod', victim.metadata.name, '-n', ns, '--grace-period=1', '--wait=false']);
      // The StatefulSet re-creates the pod only once the old one is gone, so its new address in the
      // proxy's ready set (and still 3 ready) means the proxy has dropped the old one.
      const waiting = await waitFor(
        'the proxy to see the re-created pod instead of the deleted one',
        3 * MINUTE,
        async () => {
          const m = await proxyScrape(proxy);
          const keys = [...sessionsByBackend(m).keys()];
          const fresh = keys.some((k) => k.startsWith(`${victim.metadata.name}@`) && k !== victimKey);
          return fresh && m.value('mcpfleet_proxy_backends_ready') === 3 ? m : undefined;
        },
        async () =>
          (await proxyScrape(proxy)).text
            .split('\n')
            .filter((l) => /backend/.test(l))
            .join('\n'),
      );
      // Not ended: the session waits, still pinned to the gone pod, until its next request moves it.
      expect(sessionsByBackend(waiting).get(victimKey)).toBe(1);
      expect(waiting.value('mcpfleet_proxy_sessions_active')).toBe(3);
      // The session carries on (another pod, or the re-created one at its new address), under the client's own ID.
      const echo = await lost.session.client.callTool({ name: 'echo', arguments: { message: 'moved' } });
      expect(echo.content).toEqual([{ type: 'text', text: 'Echo: moved' }]);
      const home = await answeringPod(lost.session);
      expect(await answeringPod(lost.session)).toBe(home);
      expect((lost.session.transport as { sessionId?: string }).sessionId).toBe(sessionId);
      for (const { session, pod } of kept) expect(await answeringPod(session)).toBe(pod);
      const after = await proxyScrape(proxy);
      expect((after.value('mcpfleet_proxy_session_recoveries_total', { result: 'recovered' }) ?? 0) - recovered0).toBe(1);
      expect((after.value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' }) ?? 0) - closed0).toBe(0);
      expect(after.value('mcpfleet_proxy_sessions_active')).toBe(3);
      expect(sessionsByBackend(after).has(victimKey)).toBe(false);
      for (const { session } of sessions) await session.end();
    },
    15 * MINUTE,
  );
});

describe('the product on a real node', () => {
  const cluster = new Cluster();

  beforeAll(async () => {
    await cluster.installChart();
    await cluster.restrictedNamespace(NS);
    for (const server of Object.values(SERVERS)) await cluster.apply(await cluster.sample(server.file), NS);
  }, 10 * MINUTE);

  it('runs the operator from our image: 2 ready replicas, exactly one leader', async () => {
    const pods = await cluster.list('pods', OPERATOR_NAMESPACE, `app.kubernetes.io/instance=${RELEASE}`);
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      expect(containerState(pod, (pod.spec as { containers: { name: string }[] }).containers[0]!.name).ready).toBe(true);
    }
    const leader = await cluster.operatorLeader();
    expect(pods.map((p) => p.metadata.name)).toContain(leader);
    // The namespace enforces the restricted standard: a privileged pod is refused there.
    const refused = await cluster.kubectl([
      'run',
      'privileged-probe',
      '-n',
      OPERATOR_NAMESPACE,
      '--image=registry.k8s.io/pause:3.10.1',
      '--restart=Never',
      '--overrides={"spec":{"containers":[{"name":"p","image":"registry.k8s.io/pause:3.10.1","securityContext":{"privileged":true}}]}}',
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/violates PodSecurity "restricted/);
  });

  describe.each(Object.keys(SERVERS) as (keyof typeof SERVERS)[])('%s sample', (transport) => {
    const server = SERVERS[transport];

    it(
      'reaches Ready and serves initialize, tools/list, tools/call with progress and DELETE through its Service',
      async () => {
        await cluster.waitReady(server.name, NS);
        const url = await proxyUrl(cluster, server);
        const before = await proxyMetrics(cluster, server);
        const created0 = before.value('mcpfleet_proxy_sessions_created_total') ?? 0;
        const closed0 = before.value('mcpfleet_proxy_sessions_closed_total', { reason: 'client_delete' }) ?? 0;

        const session = await connectEventually(url);
        expect(session.client.getServerVersion()?.name).toMatch(/everything/i);
        const { tools } = await session.client.listTools();
        expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'trigger-long-running-operation']));
        const echo = await session.client.callTool({ name: 'echo', arguments: { message: `via ${transport}` } });
        expect(echo.content).toEqual([{ type: 'text', text: `Echo: via ${transport}` }]);
        const progress: number[] = [];
        const long = await session.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, {
          onprogress: (p) => progress.push(p.progress),
        });
        expect(JSON.stringify(long.content)).toContain('Long running operation completed');
        // Over legacy SSE the SDK client may drop the last notification (see test/proxy/transports.test.ts).
        expect(progress).toEqual(transport === 'sse' ? expect.arrayContaining([1, 2]) : [1, 2, 3]);

        const during = await proxyMetrics(cluster, server);
        expect(during.value('mcpfleet_proxy_sessions_active')).toBe(1);
        expect((during.value('mcpfleet_proxy_sessions_created_total') ?? 0) - created0).toBe(1);

        await session.end();
        const after = await waitFor('the session to be closed in the proxy metrics', MINUTE, async () => {
          const m = await proxyMetrics(cluster, server);
          return m.value('mcpfleet_proxy_sessions_active') === 0 ? m : undefined;
        });
        expect((after.value('mcpfleet_proxy_sessions_closed_total', { reason: 'client_delete' }) ?? 0) - closed0).toBe(1);
        for (const reason of ['upstream_not_found', 'idle_timeout', 'evicted', 'upstream_closed']) {
          expect(after.value('mcpfleet_proxy_sessions_closed_total', { reason })).toBe(0);
        }
        expect(after.value('mcpfleet_proxy_upstream_up')).toBe(server.replicas);
      },
      10 * MINUTE,
    );
  });

  it(
    'stdio over pods/attach: a killed backend pod ends its sessions as upstream_closed, the proxy re-attaches, the proxy pod never restarts',
    async () => {
      const server = SERVERS.stdio;
      await cluster.waitReady(server.name, NS);
      const [proxyPod] = await cluster.pods(server.name, NS, 'proxy');
      if (proxyPod === undefined) throw new Error('no proxy pod');
      const [backend] = await cluster.pods(server.name, NS, 'backend');
      if (backend === undefined) throw new Error('no backend pod');
      const url = await proxyUrl(cluster, server);
      const metricsUrl = `http://${podIp(proxyPod)}:9464/metrics`;
      const closed0 = (await scrape(metricsUrl)).value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' }) ?? 0;

      const a = await connectEventually(url);
      const b = await connectEventually(url);
      expect(JSON.stringify((await a.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } })).content)).toContain('5');
      expect((await scrape(metricsUrl)).value('mcpfleet_proxy_sessions_active')).toBe(2);

      await cluster.ok(['delete', 'pod', backend.metadata.name, '-n', NS, '--grace-period=1', '--wait=false']);
      const ended = await waitFor(
        'both sessions to end as upstream_closed',
        2 * MINUTE,
        async () => {
          const m = await scrape(metricsUrl);
          return m.value('mcpfleet_proxy_sessions_active') === 0 ? m : undefined;
        },
        async () =>
          (await scrape(metricsUrl)).text
            .split('\n')
            .filter((l) => l.includes('sessions'))
            .join('\n'),
      );
      expect((ended.value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' }) ?? 0) - closed0).toBe(2);
      // The old session is gone for its client too.
      await expect(a.client.callTool({ name: 'echo', arguments: { message: 'after' } })).rejects.toThrow();
      await a.client.close().catch(() => {});
      await b.client.close().catch(() => {});

      // A new backend pod (same StatefulSet ordinal, new uid); the proxy attaches to it.
      await waitFor(
        'a new ready backend pod',
        3 * MINUTE,
        async () => {
          const pods = await cluster.pods(server.name, NS, 'backend');
          return pods.find((p) => p.metadata.uid !== backend.metadata.uid && containerState(p, 'mcp').ready);
        },
        () => cluster.describe(['get', 'pods', '-n', NS, '-o', 'wide']),
      );
      const c = await connectEventually(url, 3 * MINUTE);
      expect((await c.client.callTool({ name: 'echo', arguments: { message: 'new pod' } })).content).toEqual([{ type: 'text', text: 'Echo: new pod' }]);
      await c.end();

      const now = await cluster.get('pod', proxyPod.metadata.name, NS);
      expect(now?.metadata.uid).toBe(proxyPod.metadata.uid);
      expect(containerState(now as Obj, 'proxyrunner').restartCount).toBe(0);
      expect((await scrape(metricsUrl)).value('mcpfleet_proxy_upstream_up')).toBe(1);
    },
    10 * MINUTE,
  );

  it(
    'stdio backendReplicas 3: the proxy attaches to every pod, spreads sessions, and a deleted pod ends exactly its sessions; the clients re-initialize',
    async () => {
      // Its own namespace: deleting a pod here does not disturb the tests that walk NS's pods.
      const ns = 'e2e-stdiorep';
      await cluster.restrictedNamespace(ns);
      const sample = await cluster.sample('mcpserver-stdio.yaml');
      const server: Server = { file: 'mcpserver-stdio.yaml', name: 'everything-stdio-3', path: '/mcp', replicas: 1 };
      await cluster.apply({ ...sample, metadata: { name: server.name }, spec: { ...(sample.spec as object), backendReplicas: 3 } }, ns);
      await cluster.waitReady(server.name, ns);
      const [proxyPod] = await cluster.pods(server.name, ns, 'proxy');
      if (proxyPod === undefined) throw new Error('no proxy pod');
      const metricsUrl = `http://${podIp(proxyPod)}:9464/metrics`;
      await waitFor(
        'the proxy attached to 3 backend pods',
        3 * MINUTE,
        async () => ((await scrape(metricsUrl)).value('mcpfleet_proxy_backends_ready') === 3 ? true : undefined),
        () => cluster.describe(['get', 'pods', '-n', ns, '-o', 'wide']),
      );
      const url = await cluster.serviceUrl(`mcp-${server.name}-proxy`, ns, 8080, server.path);
      const clients: Connected[] = [];
      for (let i = 0; i < 6; i++) clients.push(await connectEventually(url));
      for (const [i, c] of clients.entries())
        expect((await c.client.callTool({ name: 'echo', arguments: { message: `s${i}` } })).content).toEqual([{ type: 'text', text: `Echo: s${i}` }]);
      const before = await scrape(metricsUrl);
      const backends = (await cluster.pods(server.name, ns, 'backend')).filter((p) => p.metadata.deletionTimestamp === undefined);
      expect(backends).toHaveLength(3);
      const perPod = backends.map((p) => before.value('mcpfleet_proxy_backend_sessions', { backend: `${p.metadata.name}@${p.metadata.uid}` }));
      expect(perPod).toEqual([2, 2, 2]); // least sessions first
      const closed0 = before.value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' }) ?? 0;

      const victim = backends[1] as Obj;
      await cluster.ok(['delete', 'pod', victim.metadata.name, '-n', ns, '--grace-period=1', '--wait=false']);
      const after = await waitFor(
        "the deleted pod's sessions to end",
        2 * MINUTE,
        async () => {
          const m = await scrape(metricsUrl);
          return m.value('mcpfleet_proxy_sessions_active') === 4 ? m : undefined;
        },
        async () =>
          (await scrape(metricsUrl)).text
            .split('\n')
            .filter((l) => l.includes('session') || l.includes('backend'))
            .join('\n'),
      );
      expect((after.value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' }) ?? 0) - closed0).toBe(2);
      // Exactly two clients lost their session (404); the four others carry on.
      const outcomes = await Promise.all(
        clients.map((c, i) =>
          c.client.callTool({ name: 'echo', arguments: { message: `after-${i}` } }).then(
            () => 'ok',
            (err: unknown) => ((err as { code?: number }).code === 404 ? 'lost' : `error: ${String(err)}`),
          ),
        ),
      );
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(4);
      expect(outcomes.filter((o) => o === 'lost')).toHaveLength(2);
      // The lost clients re-initialize and carry on, on the pods that are left.
      for (const [i, outcome] of outcomes.entries()) {
        if (outcome !== 'lost') continue;
        await clients[i]?.client.close().catch(() => {});
        const again = await connectEventually(url);
        expect((await again.client.callTool({ name: 'echo', arguments: { message: 'again' } })).content).toEqual([{ type: 'text', text: 'Echo: again' }]);
        clients[i] = again;
      }
      for (const c of clients) await c.end().catch(() => {});
      const now = await cluster.get('pod', proxyPod.metadata.name, ns);
      expect(containerState(now as Obj, 'proxyrunner').restartCount).toBe(0);
      await cluster.ok(['delete', 'mcpserver', server.name, '-n', ns, '--wait=false']);
    },
    10 * MINUTE,
  );

  it(
    "a real Prometheus scrapes the proxy and operator pods by pod IP; the dashboard's queries answer from them",
    async () => {
      const targets: ScrapeTarget[] = [];
      for (const server of Object.values(SERVERS)) {
        for (const pod of await cluster.pods(server.name, NS, 'proxy')) {
          // The labels the chart's PodMonitor attaches.
          targets.push({
            job: 'mcpfleet-proxyrunner',
            target: `${podIp(pod)}:9464`,
            labels: { namespace: NS, mcpserver: server.name, pod: pod.metadata.name },
          });
        }
      }
      for (const pod of await cluster.list('pods', OPERATOR_NAMESPACE, `app.kubernetes.io/instance=${RELEASE}`)) {
        targets.push({
          job: 'mcpfleet-operator',
          target: `${podIp(pod)}:9464`,
          honorLabels: true,
          labels: { namespace: OPERATOR_NAMESPACE, pod: pod.metadata.name },
        });
      }
      expect(targets).toHaveLength(4 + 2);
      const prom = await startPrometheus({ scrapeInterval: '2s', targets });
      try {
        await prom.waitForTargetsUp(2 * MINUTE);
        const leaders = await waitFor('mcpfleet_operator_leader scraped from the operator pods', MINUTE, async () => {
          const v = await prom.vector('mcpfleet_operator_leader == 1');
          return v.length > 0 ? v : undefined;
        });
        // Exactly one replica leads, and it is the Lease holder.
        expect(leaders.map((s) => s.metric['pod'])).toEqual([await cluster.operatorLeader()]);
        const proxies = await prom.vector('mcpfleet_proxy_build_info');
        expect(proxies.map((s) => `${s.metric['mcpserver']}/${s.metric['transport']}`).sort()).toEqual([
          'everything-http/streamable-http',
          'everything-http/streamable-http',
          'everything-sse/sse',
          'everything-stdio/stdio',
        ]);
        // Every dashboard query, for one MCPServer, evaluates without error.
        const exprs = dashboardExprs(loadDashboard(), { namespace: NS, mcpserver: 'everything-http', datasource: 'prometheus' });
        expect(exprs.length).toBeGreaterThan(10);
        const failed: string[] = [];
        for (const e of exprs) {
          const res = await prom.query(e.expr);
          if (res.status !== 'success') failed.push(`${e.where}: ${res.error ?? ''}\n  ${e.expr}`);
        }
        expect(failed).toEqual([]);
        // And one answers with this server's live pods.
        const active = await prom.vector(`sum by (pod) (mcpfleet_proxy_sessions_active{namespace="${NS}", mcpserver="everything-http"})`);
        expect(active).toHaveLength(SERVERS['streamable-http'].replicas);
      } finally {
        await prom.stop();
      }
    },
    5 * MINUTE,
  );

  it(
    'holds the restricted standard inside running containers: non-root, no capabilities, no new privileges, seccomp, read-only root',
    async () => {
      // The SSE sample opts out of a read-only root for its backend (it writes a cache in $HOME).
      const targets: { pod: Obj; container: string; readOnly: boolean }[] = [];
      for (const pod of await cluster.list('pods', OPERATOR_NAMESPACE, `app.kubernetes.io/instance=${RELEASE}`))
        targets.push({ pod, container: 'operator', readOnly: true });
      for (const server of Object.values(SERVERS)) {
        for (const pod of await cluster.pods(server.name, NS, 'proxy')) targets.push({ pod, container: 'proxyrunner', readOnly: true });
        for (const pod of await cluster.pods(server.name, NS, 'backend')) targets.push({ pod, container: 'mcp', readOnly: server.name !== 'everything-sse' });
      }
      expect(targets.length).toBeGreaterThanOrEqual(2 + 4 + 3);
      const script =
        'id -u; id -g; grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):" /proc/1/status; ' +
        // The root mount's own flag (a non-root user could not write to / anyway).
        'awk \'$2 == "/" { split($4, o, ","); print "root-" o[1] }\' /proc/mounts | tail -1; ' +
        'if touch /tmp/probe 2>/dev/null; then echo tmp-writable; rm -f /tmp/probe; else echo tmp-read-only; fi';
      for (const { pod, container, readOnly } of targets) {
        const ns = pod.metadata.namespace as string;
        const containers = (pod.spec as { containers: { name: string }[] }).containers.map((c) => c.name);
        const name = containers.includes(container) ? container : (containers[0] as string);
        const out = await cluster.ok(['exec', '-n', ns, pod.metadata.name, '-c', name, '--', 'sh', '-c', script]);
        const lines = out.trim().split('\n');
        const where = `${ns}/${pod.metadata.name}/${name}`;
        expect({ where, uid: Number(lines[0]) === 0 ? 'root' : 'non-root', gid: Number(lines[1]) === 0 ? 'root' : 'non-root' }).toEqual({
          where,
          uid: 'non-root',
          gid: 'non-root',
        });
        const status = Object.fromEntries(lines.slice(2, 7).map((l) => l.split(/:\s+/) as [string, string]));
        expect({ where, ...status }).toEqual({
          where,
          CapEff: '0000000000000000',
          CapPrm: '0000000000000000',
          CapBnd: '0000000000000000',
          NoNewPrivs: '1',
          Seccomp: '2',
        });
        expect({ where, root: lines[7], tmp: lines[8] }).toEqual({ where, root: readOnly ? 'root-ro' : 'root-rw', tmp: 'tmp-writable' });
      }
    },
    5 * MINUTE,
  );

  it(
    'rolls the pods on a spec change, heals a deleted child, and deleting the MCPServer removes everything',
    async () => {
      const server = SERVERS['streamable-http'];
      const before = await cluster.pods(server.name, NS, 'proxy');
      const mcp0 = await cluster.waitReady(server.name, NS);
      await cluster.ok(['patch', 'mcpserver', server.name, '-n', NS, '--type=merge', '-p', '{"spec":{"sessionIdleTimeout":"10m"}}']);
      await waitFor(
        'every proxy pod replaced after the spec change',
        5 * MINUTE,
        async () => {
          const pods = (await cluster.pods(server.name, NS, 'proxy')).filter((p) => p.metadata.deletionTimestamp === undefined);
          const fresh = pods.filter((p) => !before.some((b) => b.metadata.uid === p.metadata.uid) && containerState(p, 'proxyrunner').ready);
          return fresh.length === server.replicas && pods.length === server.replicas ? fresh : undefined;
        },
        () => cluster.describe(['get', 'pods', '-n', NS, '-o', 'wide']),
      );
      const mcp1 = await cluster.waitReady(server.name, NS);
      expect(mcp1.metadata.generation).toBe((mcp0.metadata.generation as number) + 1);
      const proxyArgs = JSON.stringify((await cluster.get('deployment', `mcp-${server.name}-proxy`, NS))?.spec);
      expect(proxyArgs).toContain('10m');
      // Still serves, through the same Service.
      const s = await connectEventually(await proxyUrl(cluster, server));
      await s.end();

      // A deleted child comes back.
      const svc0 = await cluster.get('service', `mcp-${server.name}-proxy`, NS);
      await cluster.ok(['delete', 'service', `mcp-${server.name}-proxy`, '-n', NS]);
      await waitFor('the deleted proxy Service to be recreated', 3 * MINUTE, async () => {
        const svc = await cluster.get('service', `mcp-${server.name}-proxy`, NS);
        return svc !== undefined && svc.metadata.uid !== svc0?.metadata.uid ? svc : undefined;
      });
      const dep0 = await cluster.get('deployment', `mcp-${server.name}-proxy`, NS);
      await cluster.ok(['delete', 'deployment', `mcp-${server.name}-proxy`, '-n', NS]);
      await waitFor('the deleted proxy Deployment to be recreated', 3 * MINUTE, async () => {
        const dep = await cluster.get('deployment', `mcp-${server.name}-proxy`, NS);
        return dep !== undefined && dep.metadata.uid !== dep0?.metadata.uid ? dep : undefined;
      });
      await cluster.waitReady(server.name, NS);
      const again = await connectEventually(await proxyUrl(cluster, server));
      await again.end();

      // Deleting the MCPServer removes every child (owner references; the garbage collector).
      await cluster.ok(['delete', 'mcpserver', server.name, '-n', NS]);
      const selector = `app.kubernetes.io/instance=${server.name}`;
      await waitFor(
        `no object labelled ${selector} left`,
        3 * MINUTE,
        async () => {
          const left = await cluster.ok([
            'get',
            'deployments,statefulsets,services,pods,serviceaccounts,roles,rolebindings',
            '-n',
            NS,
            '-l',
            selector,
            '-o',
            'name',
          ]);
          return left.trim() === '' ? true : undefined;
        },
        () => cluster.describe(['get', 'all', '-n', NS, '-l', selector]),
      );
    },
    15 * MINUTE,
  );

  it(
    'helm uninstall leaves only the CRD',
    async () => {
      await cluster.ok(['delete', 'namespace', NS, '--wait=true', '--timeout=300s']);
      await cluster.helmOk(['uninstall', RELEASE, '--namespace', OPERATOR_NAMESPACE, '--wait', '--timeout', '5m']);
      const selector = `app.kubernetes.io/instance=${RELEASE}`;
      await waitFor(
        "the chart's objects to be gone",
        3 * MINUTE,
        async () => {
          const left = await cluster.ok([
            'get',
            'deployments,replicasets,pods,services,serviceaccounts,roles,rolebindings,configmaps,poddisruptionbudgets,leases.coordination.k8s.io',
            '-n',
            OPERATOR_NAMESPACE,
            '-l',
            selector,
            '-o',
            'name',
          ]);
          const cluster_ = await cluster.ok(['get', 'clusterroles,clusterrolebindings', '-l', selector, '-o', 'name']);
          return left.trim() === '' && cluster_.trim() === '' ? true : undefined;
        },
        () => cluster.describe(['get', 'all', '-n', OPERATOR_NAMESPACE]),
      );
      const pods = await cluster.list('pods', OPERATOR_NAMESPACE);
      expect(pods.map((p) => p.metadata.name)).toEqual([]);
      expect(await cluster.get('crd', 'mcpservers.mcpfleet.dev')).toBeDefined();
    },
    10 * MINUTE,
  );
});
