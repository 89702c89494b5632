// The Grafana dashboard's structure: a datasource variable used by every panel and query,
// the namespace/MCPServer selectors wired into every proxy query, unique ids, a layout that
// fits, and the panels the issue asks for. (Its PromQL is evaluated against a real Prometheus
// in prometheus.test.ts.)
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { allPanels, DASHBOARD_FILE, loadDashboard, variableExpr, type GrafanaPanel } from '../support/prometheus.ts';

const dashboard = loadDashboard();
const panels = allPanels(dashboard);
const dataPanels = panels.filter((p) => p.type !== 'row');
const targets = dataPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, ...t })));
const DS = '${datasource}';

/** Every vector selector `name{...}` (or bare `name`) of the metrics matching `prefix`. */
function selectors(expr: string, prefix: RegExp): { name: string; matchers: string }[] {
  const out: { name: string; matchers: string }[] = [];
  for (const m of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?/g)) {
    const name = m[1] as string;
    const after = expr.slice((m.index ?? 0) + m[0].length);
    if (!prefix.test(name) || /^\s*\(/.test(after)) continue;
    out.push({ name, matchers: m[2] ?? '' });
  }
  return out;
}

const PROXY_METRIC = /^(mcpfleet_proxy_|process_|nodejs_|up$)/;
const OPERATOR_METRIC = /^mcpfleet_operator_/;
const PER_MCPSERVER_OPERATOR = /^mcpfleet_operator_(mcpservers|mcpserver_ready)$/;

const find = (re: RegExp): GrafanaPanel[] => dataPanels.filter((p) => (p.targets ?? []).some((t) => re.test(t.expr)));

describe('dashboard.json', () => {
  it('is a Grafana dashboard at a current schema version, with a stable uid', () => {
    const raw = readFileSync(DASHBOARD_FILE, 'utf8');
    expect((): unknown => JSON.parse(raw)).not.toThrow();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.schemaVersion).toBeLessThanOrEqual(41);
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.title).toBe('mcpfleet');
    // No hard-coded datasource: every uid is the variable (or Grafana's built-in annotations).
    const uids = [...raw.matchAll(/"uid":\s*"([^"]*)"/g)].map((m) => m[1]);
    expect(new Set(uids)).toEqual(new Set([DS, '-- Grafana --', dashboard.uid]));
  });

  it('has the datasource, namespace and mcpserver variables, chained', () => {
    const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(Object.keys(vars)).toEqual(['datasource', 'namespace', 'mcpserver']);
    expect(vars['datasource']).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const name of ['namespace', 'mcpserver']) {
      const v = vars[name];
      expect(v).toMatchObject({ type: 'query', includeAll: true, allValue: '.+', datasource: { type: 'prometheus', uid: DS } });
      expect(variableExpr(v as NonNullable<typeof v>)).toContain('mcpfleet_proxy_build_info');
    }
    expect(String(JSON.stringify(vars['namespace']?.query))).toMatch(/label_values\(mcpfleet_proxy_build_info, namespace\)/);
    expect(variableExpr(vars['mcpserver'] as NonNullable<(typeof vars)['mcpserver']>)).toBe('mcpfleet_proxy_build_info{namespace=~"$namespace"}');
  });

  it('gives every panel a unique id, and every panel and query the datasource variable', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dataPanels) {
      expect([p.title, p.datasource]).toEqual([p.title, { type: 'prometheus', uid: DS }]);
      expect(p.title.length).toBeGreaterThan(3);
      expect((p.description ?? '').length).toBeGreaterThan(10);
      expect((p.targets ?? []).length).toBeGreaterThan(0);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
    }
    for (const t of targets) {
      expect([t.panel.title, t.refId, (t as { datasource?: unknown }).datasource]).toEqual([t.panel.title, t.refId, { type: 'prometheus', uid: DS }]);
      expect(t.expr.trim().length).toBeGreaterThan(0);
    }
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const cells = new Set<string>();
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w).toBeLessThanOrEqual(24);
      expect(w).toBeGreaterThan(0);
      expect(h).toBeGreaterThan(0);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          const cell = `${i},${j}`;
          if (cells.has(cell)) throw new Error(`panel ${p.id} "${p.title}" overlaps another at ${cell}`);
          cells.add(cell);
        }
    }
  });

  it('filters every proxyrunner query by namespace and MCPServer, and operator queries only where the series are per MCPServer', () => {
    for (const t of targets) {
      for (const s of selectors(t.expr, PROXY_METRIC)) {
        expect([t.panel.title, s.name, s.matchers]).toEqual([t.panel.title, s.name, expect.stringContaining('namespace=~"$namespace"')]);
        expect([t.panel.title, s.name, s.matchers]).toEqual([t.panel.title, s.name, expect.stringContaining('mcpserver=~"$mcpserver"')]);
      }
      for (const s of selectors(t.expr, OPERATOR_METRIC)) {
        // The operator's own series carry the operator pod's namespace, not an MCPServer's.
        if (PER_MCPSERVER_OPERATOR.test(s.name)) expect(s.matchers).toContain('namespace=~"$namespace"');
        else expect([t.panel.title, s.name, s.matchers]).toEqual([t.panel.title, s.name, expect.not.stringContaining('$namespace')]);
      }
    }
  });

  it('uses $__rate_interval for every rate and increase, and dedupes operator replicas', () => {
    let windows = 0;
    for (const t of targets) {
      for (const m of t.expr.matchAll(/\b(rate|increase|irate)\(\s*[a-zA-Z_:][\w:]*(?:\{(?:"[^"]*"|[^}"])*\})?\s*\[([^\]]+)\]/g)) {
        windows++;
        expect([t.panel.title, m[2]]).toEqual([t.panel.title, '$__rate_interval']);
      }
      if (/mcpfleet_operator_(mcpservers|mcpserver_ready|queue_depth)\b/.test(t.expr))
        expect([t.panel.title, t.expr]).toEqual([t.panel.title, expect.stringMatching(/max by \(/)]);
    }
    expect(windows).toBeGreaterThanOrEqual(12);
  });

  it('has the panels issue 4 asks for', () => {
    const ask: [string, RegExp, string?][] = [
      ['sessions active', /mcpfleet_proxy_sessions_active/],
      ['sessions created', /rate\(mcpfleet_proxy_sessions_created_total/],
      ['sessions closed by reason', /sum by \(reason\) \(rate\(mcpfleet_proxy_sessions_closed_total/],
      ['requests by JSON-RPC method', /sum by \(rpc_method\) \(rate\(mcpfleet_proxy_requests_total/, 'reqps'],
      ['latency p50 by method', /histogram_quantile\(0\.5, sum by \(le, rpc_method\) \(rate\(mcpfleet_proxy_request_duration_seconds_bucket/, 's'],
      ['latency p99 by method', /histogram_quantile\(0\.99, sum by \(le, rpc_method\) \(rate\(mcpfleet_proxy_request_duration_seconds_bucket/, 's'],
      ['upstream errors', /sum by \(kind\) \(rate\(mcpfleet_proxy_upstream_errors_total/],
      ['proxy RSS', /process_resident_memory_bytes/, 'bytes'],
      ['proxy heap', /nodejs_heap_size_used_bytes/, 'bytes'],
      ['memory limit', /mcpfleet_proxy_memory_limit_bytes\{[^}]*\} > 0\)$/, 'bytes'],
      ['reconcile rate and errors by result', /sum by \(result\) \(rate\(mcpfleet_operator_reconciles_total/],
      ['queue depth', /mcpfleet_operator_queue_depth/],
      ['MCPServers by phase', /sum by \(phase\) \(max by \(namespace, phase\) \(mcpfleet_operator_mcpservers/],
      ['MCPServers Ready', /mcpfleet_operator_mcpserver_ready/],
      // Issue 13: access control at the proxy.
      ['authentication by result', /sum by \(result\) \(rate\(mcpfleet_proxy_auth_total/, 'reqps'],
      ['authorization decisions by action and decision', /sum by \(action, decision\) \(rate\(mcpfleet_proxy_authz_decisions_total/, 'reqps'],
      // Issue 14: the shared session store (Redis).
      ['fleet session gauge', /sum by \(namespace, mcpserver\) \(mcpfleet_proxy_fleet_sessions_active/],
      ['session store connected', /mcpfleet_proxy_session_store_up/],
      ['session store errors by operation', /sum by \(op\) \(rate\(mcpfleet_proxy_session_store_errors_total/],
      ['requests refused for the store', /reason="session_store_unavailable"/],
      ['session store latency p99', /histogram_quantile\(0\.99, sum by \(le, op\) \(rate\(mcpfleet_proxy_session_store_duration_seconds_bucket/, 's'],
    ];
    for (const [what, re, unit] of ask) {
      const found = find(re);
      expect([what, found.length > 0]).toEqual([what, true]);
      if (unit) expect([what, found.some((p) => p.fieldConfig?.defaults?.unit === unit)]).toEqual([what, true]);
    }
    // RSS, heap and limit on one panel: memory against the limit.
    expect(
      find(/process_resident_memory_bytes/).filter(
        (p) => find(/nodejs_heap_size_used_bytes/).includes(p) && find(/mcpfleet_proxy_memory_limit_bytes/).includes(p),
      ),
    ).toHaveLength(1);
  });
});
