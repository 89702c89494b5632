// The alert rules through promtool (Debian's Prometheus package): the rule file is valid, the
// unit tests in alerts.promtool.yaml pass (synthetic series: every alert fires when it should
// and stays quiet in the look-alike healthy cases), and those unit tests have teeth: a set of
// plausible mistakes in the rules each makes them fail.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { ROOT } from '../support/processes.ts';
import { loadRules, prometheusBinDir, prometheusVersion, promtool, RULES_FILE, type Rule, type RuleFile } from '../support/prometheus.ts';

jest.setTimeout(300_000);

const UNIT_TESTS = path.join(ROOT, 'test/monitoring/alerts.promtool.yaml');
const README = path.join(ROOT, 'README.md');

interface UnitTests {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

let tmp: string;
beforeAll(() => {
  prometheusBinDir(); // fetch once, outside the first test's time
  tmp = mkdtempSync(path.join(os.tmpdir(), 'mcpfleet-rules-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const rules = loadRules();
const alerts = rules.groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => r.alert !== undefined);

/** The unit tests run against another rule file (absolute path). */
function unitTestsAgainst(ruleFile: string, name: string): ReturnType<typeof promtool> {
  const tests = parseYaml(readFileSync(UNIT_TESTS, 'utf8')) as UnitTests;
  tests.rule_files = [ruleFile];
  const file = path.join(tmp, `${name}.promtool.yaml`);
  writeFileSync(file, stringify(tests));
  return promtool(['test', 'rules', file]);
}

describe('promtool', () => {
  it('is the Debian package', () => {
    expect(prometheusVersion()).toMatch(/^[23]\.\d+\.\d+\+ds/); // Debian's repack of the upstream source
  });

  it('check rules passes on the rule file, and counts every rule', () => {
    const result = promtool(['check', 'rules', RULES_FILE]);
    expect(`${result.stdout}${result.stderr}`).toContain(`SUCCESS: ${rules.groups.flatMap((g) => g.rules).length} rules found`);
    expect(result.code).toBe(0);
  });

  it('check rules rejects a broken rule file (the check is not vacuous)', () => {
    const broken: RuleFile = structuredClone(rules);
    (broken.groups[0]?.rules[0] as Rule).expr = 'sum by (namespace (mcpfleet_proxy_sessions_active)';
    const file = path.join(tmp, 'broken.yaml');
    writeFileSync(file, stringify(broken));
    const result = promtool(['check', 'rules', file]);
    expect(result.code).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toMatch(/parse error/);
  });

  it('test rules: every unit test passes', () => {
    const result = promtool(['test', 'rules', UNIT_TESTS]);
    if (result.code !== 0) throw new Error(`promtool test rules failed:\n${result.stdout}${result.stderr}`);
    expect(result.stdout).toContain('SUCCESS');
  });

  it('test rules: every alert has a case where it fires, and only real alerts are tested', () => {
    const tests = parseYaml(readFileSync(UNIT_TESTS, 'utf8')) as UnitTests;
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    const firing = new Set(cases.filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname));
    const quiet = new Set(cases.filter((c) => c.exp_alerts.length === 0).map((c) => c.alertname));
    const names = alerts.map((a) => a.alert);
    expect([...firing].sort()).toEqual([...names].sort());
    for (const name of [...firing, ...quiet]) expect(names).toContain(name);
    // Most alerts also have an explicit "not yet / not this" evaluation.
    expect(quiet.size).toBeGreaterThanOrEqual(6);
  });
});

// Each mistake is one an author could plausibly make; the unit tests must catch all of them.
const MUTANTS: { alert: string; change: string; apply: (r: Rule) => void }[] = [
  { alert: 'MCPFleetProxySessionLeak', change: 'no young-pod guard', apply: (r) => (r.expr = r.expr.replace('> 1800', '> 0')) },
  { alert: 'MCPFleetProxySessionLeak', change: 'no minimum volume', apply: (r) => (r.expr = r.expr.replace('>= 100', '> 0')) },
  { alert: 'MCPFleetProxySessionLeak', change: 'closes not required to be zero', apply: (r) => (r.expr = r.expr.replace('[30m])) == 0', '[30m])) >= 0')) },
  { alert: 'MCPFleetProxySessionLeak', change: 'no for', apply: (r) => delete r.for },
  { alert: 'MCPFleetProxySessionsEvicted', change: 'a 1h window', apply: (r) => (r.expr = r.expr.replace('[15m]', '[1h]')) },
  {
    alert: 'MCPFleetProxyMemoryNearLimit',
    change: 'a zero limit divided by',
    apply: (r) => (r.expr = r.expr.replace('mcpfleet_proxy_memory_limit_bytes > 0', 'mcpfleet_proxy_memory_limit_bytes')),
  },
  { alert: 'MCPFleetProxyMemoryNearLimit', change: 'threshold 95%', apply: (r) => (r.expr = r.expr.replace('> 0.9', '> 0.95')) },
  { alert: 'MCPFleetProxyUpstreamErrors', change: 'no minimum count', apply: (r) => (r.expr = r.expr.replace('>= 10', '>= 0')) },
  { alert: 'MCPFleetProxyUpstreamErrors', change: 'threshold 20%', apply: (r) => (r.expr = r.expr.replace('> 0.05', '> 0.2')) },
  { alert: 'MCPFleetProxyAuthzDenialsSurge', change: 'no minimum count', apply: (r) => (r.expr = r.expr.replace('>= 20', '>= 0')) },
  { alert: 'MCPFleetProxyAuthzDenialsSurge', change: 'threshold 1%', apply: (r) => (r.expr = r.expr.replace('> 0.2', '> 0.01')) },
  { alert: 'MCPFleetProxyUpstreamRestarting', change: 'threshold 20', apply: (r) => (r.expr = r.expr.replace('> 3', '> 20')) },
  {
    alert: 'MCPFleetProxyInternalErrors',
    change: 'rate instead of increase over 1m',
    apply: (r) => (r.expr = r.expr.replace('increase(mcpfleet_proxy_internal_errors_total[10m])', 'rate(mcpfleet_proxy_internal_errors_total[1m])')),
  },
  { alert: 'MCPFleetProxyNotReady', change: 'for 1m', apply: (r) => (r.for = '1m') },
  { alert: 'MCPFleetProxyDown', change: 'every target', apply: (r) => (r.expr = r.expr.replace('up{mcpserver!=""}', 'up')) },
  { alert: 'MCPFleetProxySessionStoreDown', change: 'for 30s', apply: (r) => (r.for = '30s') },
  { alert: 'MCPFleetProxySessionStoreDown', change: 'min instead of max', apply: (r) => (r.expr = r.expr.replace('max by', 'min by').replace('== 0', '== 1')) },
  { alert: 'MCPFleetProxySessionStoreErrors', change: 'no minimum count', apply: (r) => (r.expr = r.expr.replace('>= 10', '> 0')) },
  {
    alert: 'MCPFleetProxySessionStoreErrors',
    change: 'also while disconnected',
    apply: (r) => (r.expr = r.expr.replace('(mcpfleet_proxy_session_store_up) == 1', '(mcpfleet_proxy_session_store_up) >= 0')),
  },
  { alert: 'MCPFleetProxySessionStoreSlow', change: 'no minimum rate', apply: (r) => (r.expr = r.expr.replace('[5m])) > 1', '[5m])) > 0')) },
  {
    alert: 'MCPFleetProxySessionStoreSlow',
    change: 'the median',
    apply: (r) => (r.expr = r.expr.replace('histogram_quantile(0.99', 'histogram_quantile(0.5')),
  },
  { alert: 'MCPFleetOperatorReconcileErrors', change: 'for 5m', apply: (r) => (r.for = '5m') },
  {
    alert: 'MCPFleetMCPServerNotReady',
    change: 'one alert per operator replica',
    apply: (r) => (r.expr = r.expr.replace('max by (namespace, mcpserver)', 'max by (namespace, mcpserver, pod)')),
  },
  { alert: 'MCPFleetMCPServerNotReady', change: 'for 5m', apply: (r) => (r.for = '5m') },
  { alert: 'MCPFleetOperatorNoLeader', change: 'min instead of max', apply: (r) => (r.expr = r.expr.replace('max by (namespace)', 'min by (namespace)')) },
];

describe('the unit tests catch mistakes in the rules', () => {
  it.each(MUTANTS.map((m) => [m.alert, m.change, m] as const))('%s: %s', (_alert, _change, mutant) => {
    const copy: RuleFile = structuredClone(rules);
    const rule = copy.groups.flatMap((g) => g.rules).find((r) => r.alert === mutant.alert);
    if (!rule) throw new Error(`no alert ${mutant.alert}`);
    const before = JSON.stringify(rule);
    mutant.apply(rule);
    expect(JSON.stringify(rule)).not.toBe(before); // the mutation applied
    const file = path.join(tmp, `${mutant.alert}-${MUTANTS.indexOf(mutant)}.rules.yaml`);
    writeFileSync(file, stringify(copy));
    expect(promtool(['check', 'rules', file]).code).toBe(0); // still a valid rule file
    const result = unitTestsAgainst(file, `mutant-${MUTANTS.indexOf(mutant)}`);
    expect(result.code).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toContain(mutant.alert);
  });
});

/** GitHub's heading anchor. */
const anchor = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

const headings = (markdown: string): string[] => [...markdown.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => anchor(m[1] as string));

describe('every alert', () => {
  // The README's "Runbooks" section is where every runbook_url points.
  const readme = readFileSync(README, 'utf8');
  const start = readme.search(/^##\s+Runbooks\s*$/m);
  const end = readme.indexOf('\n## ', start + 1);
  const anchors = new Set(headings(readme.slice(start, end === -1 ? undefined : end)));

  it.each(alerts.map((a) => [a.alert, a] as const))('%s has a severity, a for, a summary, a description and a runbook section', (name, rule) => {
    expect(name).toMatch(/^MCPFleet[A-Za-z]+$/);
    expect(['warning', 'critical']).toContain(rule.labels?.['severity']);
    expect(rule.for).toMatch(/^\d+[smh]$/);
    expect(rule.annotations?.['summary']?.length).toBeGreaterThan(10);
    expect(rule.annotations?.['description']?.length).toBeGreaterThan(20);
    const url = rule.annotations?.['runbook_url'] ?? '';
    expect(url).toMatch(/^https:\/\/\S+\/README\.md#[a-z0-9-]+$/);
    const fragment = url.split('#')[1] as string;
    expect(fragment).toBe(name.toLowerCase());
    expect(anchors).toContain(fragment);
  });
});
