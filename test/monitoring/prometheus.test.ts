// A real Prometheus (Debian's package) scrapes a real proxyrunner, in front of the SDK echo
// server, while MCP sessions churn through it and end in known ways; and the operator's real
// metrics registry. Then: what Prometheus stored is what the churn produced, and every PromQL
// expression of the dashboard and the alerts evaluates there without error.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import http from 'node:http';
import { McpHttpClient } from '../support/mcpHttp.ts';
import { eventually, scrape } from '../support/metrics.ts';
import { startEchoServer, startProxy, type ProxyProcess, type Running } from '../support/processes.ts';
import { startRedis, type RedisServer } from '../support/redis.ts';
import { startTestIssuer, type TestIssuer } from '../support/testIssuer.ts';
import {
  dashboardExprs,
  loadDashboard,
  loadRules,
  metricNames,
  RULES_FILE,
  ruleExprs,
  startPrometheus,
  type NamedExpr,
  type PrometheusProcess,
  type QueryData,
} from '../support/prometheus.ts';
import { abandonedSession, forgottenSession, fullSession, malformedRequest, serveOperatorMetrics, times, type OperatorMetricsServer } from './load.ts';

jest.setTimeout(180_000);

// The churn: how many sessions end which way.
const FULL = 30; // initialize … DELETE                  → client_delete
const FORGOTTEN = 7; // upstream forgets, next call 404     → upstream_not_found
const MAX_SESSIONS = 20;
const ABANDONED = 25; // walk away: 5 over the cap           → evicted, the 20 held → idle_timeout
const MALFORMED = 3; // not JSON                             → rejected malformed_json
const IDLE_TIMEOUT_S = 20;
const EVICTED = ABANDONED - MAX_SESSIONS;

const TARGET_LABELS = { namespace: 'team-a', mcpserver: 'echo', pod: 'mcp-echo-proxy-6d5f7c9b8-x2x4q' };
const PROXY = `{job="mcpfleet-proxyrunner"}`;
// A second replica of the same MCPServer with Redis session storage (its own job, so the
// churn's figures above stay one proxy's), for the session-store panels and alerts.
const FLEET_LABELS = { namespace: 'team-a', mcpserver: 'echo', pod: 'mcp-echo-proxy-6d5f7c9b8-r3d1s' };
const FLEET_SESSIONS = 4;
/** A third replica of the same MCPServer with authentication on, so the dashboard's Access row has its series. */
const AUTH_LABELS = { namespace: 'team-a', mcpserver: 'echo', pod: 'mcp-echo-proxy-6d5f7c9b8-a7h2k' };

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
let upstream: Running;
let proxy: ProxyProcess;
let redis: RedisServer;
let fleetProxy: ProxyProcess;
let issuer: TestIssuer;
let authProxy: ProxyProcess;
let operator: OperatorMetricsServer;
let prom: PrometheusProcess;
let started: number;

beforeAll(async () => {
  upstream = await startEchoServer();
  proxy = await startProxy([
    '--transport',
    'streamable-http',
    '--target-url',
    `http://127.0.0.1:${upstream.port}/mcp`,
    '--max-sessions',
    String(MAX_SESSIONS),
    '--session-idle-timeout',
    `${IDLE_TIMEOUT_S}s`,
    '--memory-limit',
    '128Mi',
    '--log-level',
    'warn',
    // Authorization on (everything permitted), so its series exist for the rules to name.
    '--authz-config-inline',
    JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies: ['permit(principal, action, resource);'] } }),
  ]);
  redis = await startRedis();
  fleetProxy = await startProxy([
    '--transport',
    'streamable-http',
    '--target-url',
    `http://127.0.0.1:${upstream.port}/mcp`,
    '--session-storage',
    'redis',
    '--redis-address',
    redis.address,
    '--log-level',
    'warn',
  ]);
  issuer = await startTestIssuer();
  authProxy = await startProxy([
    '--transport',
    'streamable-http',
    '--target-url',
    `http://127.0.0.1:${upstream.port}/mcp`,
    '--oidc-issuer',
    issuer.url,
    '--oidc-audience',
    'mcp-echo',
    '--resource-url',
    'https://echo.team-a.example/mcp',
    '--log-level',
    'warn',
  ]);
  operator = await serveOperatorMetrics([
    { namespace: 'team-a', name: 'echo', phase: 'Ready', ready: true },
    { namespace: 'team-a', name: 'broken', phase: 'Failed', ready: false },
    { namespace: 'team-b', name: 'paused', phase: 'Stopped', ready: false },
    { namespace: 'team-b', name: 'new', phase: '', ready: false },
  ]);
  operator.queueDepth = 2;
  for (let i = 0; i < 5; i++) operator.metrics.reconciled('success', 0.004 * (i + 1));
  operator.metrics.reconciled('error', 0.2);
  operator.metrics.reconciled('requeue', 0.01);
  started = Date.now();
  prom = await startPrometheus({
    scrapeInterval: '1s',
    ruleFiles: [RULES_FILE],
    targets: [
      { job: 'mcpfleet-proxyrunner', target: `127.0.0.1:${proxy.metricsPort}`, labels: TARGET_LABELS },
      { job: 'mcpfleet-proxyrunner-fleet', target: `127.0.0.1:${fleetProxy.metricsPort}`, labels: FLEET_LABELS },
      { job: 'mcpfleet-proxyrunner-auth', target: `127.0.0.1:${authProxy.metricsPort}`, labels: AUTH_LABELS },
      // As the chart's ServiceMonitor must: honor_labels keeps the MCPServer's namespace.
      {
        job: 'mcpfleet-operator',
        target: operator.target,
        honorLabels: true,
        labels: { namespace: 'mcpfleet-system', pod: 'mcpfleet-operator-7b9c8d6f5-abcde' },
      },
    ],
  });
  await prom.waitForTargetsUp();
}, 120_000);

afterAll(async () => {
  agent.destroy();
  await prom?.stop();
  await operator?.close();
  await proxy?.stop();
  await fleetProxy?.stop();
  await authProxy?.stop();
  await issuer?.close();
  await redis?.stop();
  await upstream?.stop();
});

const byLabel = (samples: { metric: Record<string, string>; value: [number, string] }[], label: string): Record<string, number> =>
  Object.fromEntries(samples.map((s) => [s.metric[label] ?? '', Number(s.value[1])]));

/** Prometheus's newest value of a single-series expression. */
async function one(expr: string): Promise<number> {
  const samples = await prom.vector(expr);
  if (samples.length !== 1) throw new Error(`${expr}: ${samples.length} series`);
  return Number(samples[0]?.value[1]);
}

describe('Prometheus scraping a proxyrunner under churn', () => {
  it('scrapes both targets, with the target labels attached', async () => {
    const targets = await prom.get<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] }>('/api/v1/targets');
    expect(targets.status).toBe('success');
    const active = targets.data.activeTargets;
    expect(active.map((t) => [t.labels['job'], t.health, t.lastError])).toEqual(
      expect.arrayContaining([
        ['mcpfleet-proxyrunner', 'up', ''],
        ['mcpfleet-operator', 'up', ''],
      ]),
    );
    const info = await prom.vector(`mcpfleet_proxy_build_info${PROXY}`);
    expect(info).toHaveLength(1);
    expect(info[0]?.metric).toMatchObject({ ...TARGET_LABELS, transport: 'streamable-http', proxy_mode: 'streamable-http' });
    expect(await one(`mcpfleet_proxy_memory_limit_bytes${PROXY}`)).toBe(128 * 2 ** 20);
  });

  it('sessions_active is what the proxy holds, during and after the churn; closes by reason are what the churn did', async () => {
    const viaProxy = new McpHttpClient(proxy.mcpUrl, agent);
    const direct = new McpHttpClient(`http://127.0.0.1:${upstream.port}/mcp`, agent);

    await times(FULL, 5, () => fullSession(viaProxy));
    await times(FORGOTTEN, 3, () => forgottenSession(viaProxy, direct));
    await times(MALFORMED, 1, () => malformedRequest(viaProxy));
    await times(ABANDONED, 1, async () => void (await abandonedSession(viaProxy)));

    // Held: the cap's worth of abandoned sessions, until the idle timeout. The proxy's own
    // figures are read before Prometheus scraped the sample it answers with and after the
    // queries, so they bracket it: normally equal (nothing idles out within seconds), and on a
    // machine slow enough for the idle timeout to start meanwhile Prometheus must still lie
    // between them, instead of the test depending on being quick.
    const ownBefore = await scrape(proxy.metricsUrl);
    await prom.waitForSampleAfter(`mcpfleet_proxy_sessions_active${PROXY}`, Date.now());
    const promActive = await one(`mcpfleet_proxy_sessions_active${PROXY}`);
    const promClosed = byLabel(await prom.vector(`sum by (reason) (mcpfleet_proxy_sessions_closed_total${PROXY})`), 'reason');
    const ownAfter = await scrape(proxy.metricsUrl);
    const activeOf = (s: typeof ownBefore): number => s.value('mcpfleet_proxy_sessions_active') ?? 0;
    const idledOf = (s: typeof ownBefore): number => s.value('mcpfleet_proxy_sessions_closed_total', { reason: 'idle_timeout' }) ?? 0;
    // A held session is either still active or ended by the idle timeout.
    for (const own of [ownBefore, ownAfter]) expect(activeOf(own) + idledOf(own)).toBe(MAX_SESSIONS);
    expect(promActive).toBeLessThanOrEqual(activeOf(ownBefore));
    expect(promActive).toBeGreaterThanOrEqual(activeOf(ownAfter));
    const promIdled = promClosed['idle_timeout'] ?? 0;
    expect(promIdled).toBeGreaterThanOrEqual(idledOf(ownBefore));
    expect(promIdled).toBeLessThanOrEqual(idledOf(ownAfter));
    expect(promClosed).toEqual({ client_delete: FULL, upstream_not_found: FORGOTTEN, evicted: EVICTED, idle_timeout: promIdled, upstream_closed: 0 });

    // The held sessions go idle and are closed; Prometheus follows.
    await eventually(
      async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_closed_total', { reason: 'idle_timeout' })).toBe(MAX_SESSIONS),
      (IDLE_TIMEOUT_S + 15) * 1000,
    );
    const after = Date.now();
    await prom.waitForSampleAfter(`mcpfleet_proxy_sessions_active${PROXY}`, after);
    const finalOwn = await scrape(proxy.metricsUrl);
    const expected = { client_delete: FULL, upstream_not_found: FORGOTTEN, evicted: EVICTED, idle_timeout: MAX_SESSIONS, upstream_closed: 0 };
    expect(finalOwn.value('mcpfleet_proxy_sessions_active')).toBe(0);
    expect(await one(`mcpfleet_proxy_sessions_active${PROXY}`)).toBe(0);
    expect(byLabel(await prom.vector(`sum by (reason) (mcpfleet_proxy_sessions_closed_total${PROXY})`), 'reason')).toEqual(expected);
    for (const [reason, n] of Object.entries(expected)) expect(finalOwn.value('mcpfleet_proxy_sessions_closed_total', { reason })).toBe(n);
    expect(await one(`mcpfleet_proxy_sessions_created_total${PROXY}`)).toBe(FULL + FORGOTTEN + ABANDONED);
    // Requests by JSON-RPC method and status, as the dashboard groups them.
    expect(
      byLabel(await prom.vector(`sum by (status) (mcpfleet_proxy_requests_total{job="mcpfleet-proxyrunner", rpc_method="tools/call"})`), 'status'),
    ).toEqual({
      '200': FULL + ABANDONED,
      '404': FORGOTTEN,
    });
    expect(await one(`sum(mcpfleet_proxy_requests_total{job="mcpfleet-proxyrunner", rpc_method="initialize"})`)).toBe(FULL + FORGOTTEN + ABANDONED);
    expect(await one(`mcpfleet_proxy_requests_rejected_total{job="mcpfleet-proxyrunner", reason="malformed_json"}`)).toBe(MALFORMED);
    expect(await one(`sum(mcpfleet_proxy_request_duration_seconds_count{job="mcpfleet-proxyrunner", rpc_method="tools/call"})`)).toBe(
      FULL + FORGOTTEN + ABANDONED,
    );
    // The churn is also visible as rates over the run (what the dashboard plots).
    expect(await one(`sum(increase(mcpfleet_proxy_sessions_created_total${PROXY}[10m]))`)).toBeGreaterThan(0);
  });

  it('the Redis-backed replica exports the store series the dashboard and alerts read, and the fleet gauge follows the table', async () => {
    const fleet = new McpHttpClient(fleetProxy.mcpUrl, agent);
    const held = await Promise.all(Array.from({ length: FLEET_SESSIONS }, () => fleet.initialize()));
    await prom.waitForSampleAfter(`mcpfleet_proxy_fleet_sessions_active{job="mcpfleet-proxyrunner-fleet"}`, Date.now());
    expect(await one(`mcpfleet_proxy_fleet_sessions_active{job="mcpfleet-proxyrunner-fleet"}`)).toBe(FLEET_SESSIONS);
    expect(await one(`mcpfleet_proxy_session_store_up{job="mcpfleet-proxyrunner-fleet"}`)).toBe(1);
    for (const id of held) expect((await fleet.request('DELETE', undefined, id)).status).toBe(200);
    await prom.waitForSampleAfter(`mcpfleet_proxy_fleet_sessions_active{job="mcpfleet-proxyrunner-fleet"}`, Date.now());
    expect(await one(`mcpfleet_proxy_fleet_sessions_active{job="mcpfleet-proxyrunner-fleet"}`)).toBe(0);
    expect(await one(`sum(mcpfleet_proxy_session_store_duration_seconds_count{job="mcpfleet-proxyrunner-fleet", op="create"})`)).toBe(FLEET_SESSIONS);
    expect(await one(`sum(mcpfleet_proxy_session_store_errors_total{job="mcpfleet-proxyrunner-fleet"})`)).toBe(0);
    // The store's latency histogram appeared with these sessions, so a rate over it is 0 (and
    // the dashboard's p99 is NaN, no data) until it moves between two scrapes: one more session,
    // created and ended after Prometheus holds the series, gives the p99 panel a value.
    const extra = await fleet.initialize();
    expect((await fleet.request('DELETE', undefined, extra)).status).toBe(200);
    await eventually(async () =>
      expect(await one(`sum(rate(mcpfleet_proxy_session_store_duration_seconds_count{job="mcpfleet-proxyrunner-fleet", op="create"}[10s]))`)).toBeGreaterThan(
        0,
      ),
    );
  });
});

/** Expressions that must return data here (the dashboard's; the alerts' are conditions). */
async function evaluate(items: NamedExpr[], requireData: boolean): Promise<string[]> {
  const end = Date.now() / 1000;
  const start = started / 1000;
  const failures: string[] = [];
  for (const { where, expr } of items) {
    const instant = await prom.query(expr);
    if (instant.status !== 'success') {
      failures.push(`${where}: instant query failed: ${instant.errorType}: ${instant.error}\n  ${expr}`);
      continue;
    }
    const range = await prom.queryRange(expr, start, end, 1);
    if (range.status !== 'success') {
      failures.push(`${where}: range query failed: ${range.errorType}: ${range.error}\n  ${expr}`);
      continue;
    }
    if (requireData && !hasData(range.data)) failures.push(`${where}: no data over the run\n  ${expr}`);
  }
  return failures;
}

const hasData = (data: QueryData): boolean => data.resultType === 'matrix' && data.result.some((s) => s.values.length > 0);

describe('every PromQL expression evaluates on that Prometheus', () => {
  const dashboard = loadDashboard();
  const rules = loadRules();

  it('the dashboard, with every selector at "All", returns data for every target and variable', async () => {
    const exprs = dashboardExprs(dashboard, { namespace: '.+', mcpserver: '.+', datasource: 'prometheus' });
    expect(exprs.length).toBeGreaterThanOrEqual(30);
    expect(await evaluate(exprs, true)).toEqual([]);
  });

  it('the dashboard, with a namespace and an MCPServer selected, returns data for the per-server panels', async () => {
    const exprs = dashboardExprs(dashboard, { namespace: 'team-a', mcpserver: 'echo', datasource: 'prometheus' });
    expect(await evaluate(exprs, false)).toEqual([]);
    const perServer = exprs.filter((e) => /mcpserver=~"echo"/.test(e.expr));
    expect(perServer.length).toBeGreaterThan(15);
    expect(await evaluate(perServer, true)).toEqual([]);
  });

  it('the alerts: every rule expression', async () => {
    const exprs = ruleExprs(rules);
    expect(exprs.length).toBe(rules.groups.flatMap((g) => g.rules).length);
    expect(await evaluate(exprs, false)).toEqual([]);
  });

  it('the alerts, loaded as rules: every one evaluated by Prometheus without error', async () => {
    type Rules = { groups: { name: string; rules: { name: string; health: string; lastError?: string; lastEvaluation: string }[] }[] };
    await eventually(async () => {
      const res = await prom.get<Rules>('/api/v1/rules');
      const loaded = res.data.groups.flatMap((g) => g.rules);
      expect(loaded.map((r) => r.name).sort()).toEqual(
        ruleExprs(rules)
          .map((r) => r.where.split('/')[1])
          .sort(),
      );
      for (const r of loaded) {
        expect([r.name, r.health, r.lastError ?? '']).toEqual([r.name, 'ok', '']);
        expect(new Date(r.lastEvaluation).getTime()).toBeGreaterThan(started);
      }
    }, 10_000);
  });

  it('every metric the dashboard and the alerts name is one the proxyrunner or the operator exports', async () => {
    const names = await prom.get<string[]>('/api/v1/label/__name__/values');
    expect(metricNames('sum by (le) (rate(a_bucket{x="y z"}[5m])) / on (pod) group_left (w) b > 0.9 and c offset 5m')).toEqual(['a_bucket', 'b', 'c']);
    const known = new Set(names.data);
    const referenced = new Set(
      [...dashboardExprs(dashboard, { namespace: '.+', mcpserver: '.+', datasource: 'prometheus' }), ...ruleExprs(rules)].flatMap((e) => metricNames(e.expr)),
    );
    expect(referenced.size).toBeGreaterThan(15);
    expect([...referenced].filter((n) => !known.has(n)).sort()).toEqual([]);
  });
});
