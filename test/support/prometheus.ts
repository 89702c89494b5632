// A real Prometheus for tests and the dashboard renderer: Debian's package, unpacked by
// test/monitoring/prometheus.sh (no daemon, no install), started on a free loopback port with a
// temp storage dir. Also: reading the PromQL out of the dashboard and the rule file, with
// Grafana's variables replaced by concrete values, so every expression can be sent to it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { freePort, ROOT } from './processes.ts';

export const PROMETHEUS_SCRIPT = path.join(ROOT, 'test/monitoring/prometheus.sh');
export const RULES_FILE = path.join(ROOT, 'charts/mcpfleet/files/prometheus-rules.yaml');
export const DASHBOARD_FILE = path.join(ROOT, 'charts/mcpfleet/files/dashboard.json');

let binDir: string | undefined;

/** The directory holding `prometheus` and `promtool` (fetched and unpacked on first use). */
export function prometheusBinDir(): string {
  if (binDir) return binDir;
  const run = spawnSync('bash', [PROMETHEUS_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
  if (run.status !== 0) throw new Error(`${PROMETHEUS_SCRIPT} failed (${run.status ?? run.signal}):\n${run.stderr}`);
  const last = run.stdout.trim().split('\n').pop();
  if (!last) throw new Error(`${PROMETHEUS_SCRIPT} printed no directory:\n${run.stderr}`);
  binDir = last;
  return binDir;
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function promtool(args: string[], cwd = ROOT): ToolResult {
  const run = spawnSync(path.join(prometheusBinDir(), 'promtool'), args, { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

export function prometheusVersion(): string {
  const run = spawnSync(path.join(prometheusBinDir(), 'prometheus'), ['--version'], { encoding: 'utf8' });
  return /version (\S+)/.exec(`${run.stdout}${run.stderr}`)?.[1] ?? 'unknown';
}

// ---- the Prometheus API ------------------------------------------------------------------

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}
export interface PromSeries {
  metric: Record<string, string>;
  values: [number, string][];
}
export interface PromResponse<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
}
export type QueryData =
  | { resultType: 'vector'; result: PromSample[] }
  | { resultType: 'scalar' | 'string'; result: [number, string] }
  | { resultType: 'matrix'; result: PromSeries[] };

export interface ScrapeTarget {
  job: string;
  /** host:port */
  target: string;
  /** Target labels, as a PodMonitor's relabelling would attach them. */
  labels?: Record<string, string>;
  /** honor_labels of its job (all targets of one job share it). */
  honorLabels?: boolean;
}

export interface PrometheusOptions {
  targets: ScrapeTarget[];
  scrapeInterval?: string;
  ruleFiles?: string[];
}

export interface PrometheusProcess {
  url: string;
  child: ChildProcess;
  /** Its log (bounded). */
  logs(): string;
  /** Raw API answer of an instant query (status "success" or "error"). */
  query(expr: string, time?: number): Promise<PromResponse<QueryData>>;
  queryRange(expr: string, start: number, end: number, step: number): Promise<PromResponse<QueryData>>;
  /** An instant query that must succeed and return a vector. */
  vector(expr: string, time?: number): Promise<PromSample[]>;
  get<T>(apiPath: string): Promise<PromResponse<T>>;
  /** Waits until `selector`'s newest sample was scraped at or after `ms` (epoch milliseconds). */
  waitForSampleAfter(selector: string, ms: number, timeoutMs?: number): Promise<void>;
  /** Waits until every configured target has been scraped successfully. */
  waitForTargetsUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusProcess> {
  const bin = path.join(prometheusBinDir(), 'prometheus');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpfleet-prometheus-'));
  const interval = options.scrapeInterval ?? '1s';
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: options.ruleFiles ?? [],
    // One scrape config per job (Prometheus refuses a repeated job_name); each target keeps its labels.
    scrape_configs: [...new Set(options.targets.map((t) => t.job))].map((job) => {
      const targets = options.targets.filter((t) => t.job === job);
      return {
        job_name: job,
        honor_labels: targets.some((t) => t.honorLabels ?? false),
        static_configs: targets.map((t) => ({ targets: [t.target], labels: t.labels ?? {} })),
      };
    }),
  };
  const configFile = path.join(dir, 'prometheus.yml');
  writeFileSync(configFile, JSON.stringify(config, null, 2)); // JSON is YAML
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    bin,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1d',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir },
  );
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    log = (log + chunk).slice(-200_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const post = async <T>(apiPath: string, form: Record<string, string>): Promise<PromResponse<T>> => {
    const res = await fetch(`${url}${apiPath}`, { method: 'POST', body: new URLSearchParams(form) });
    const body = (await res.json()) as PromResponse<T>;
    return body;
  };
  const get = async <T>(apiPath: string): Promise<PromResponse<T>> => (await (await fetch(`${url}${apiPath}`)).json()) as PromResponse<T>;
  const query = (expr: string, time?: number) => post<QueryData>('/api/v1/query', { query: expr, ...(time === undefined ? {} : { time: String(time) }) });
  const queryRange = (expr: string, start: number, end: number, step: number) =>
    post<QueryData>('/api/v1/query_range', { query: expr, start: String(start), end: String(end), step: String(step) });
  const vector = async (expr: string, time?: number): Promise<PromSample[]> => {
    const res = await query(expr, time);
    if (res.status !== 'success' || res.data.resultType !== 'vector') throw new Error(`${expr}: ${res.error ?? res.data.resultType}`);
    return res.data.result;
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited (${child.exitCode}) before it was ready:\n${log}`);
    }
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready after 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    child,
    logs: () => log,
    query,
    queryRange,
    vector,
    get,
    async waitForSampleAfter(selector, ms, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const samples = await vector(`min(timestamp(${selector}))`);
        const at = Number(samples[0]?.value[1] ?? 0) * 1000;
        if (at >= ms) return;
        if (Date.now() > until)
          throw new Error(
            `no sample of ${selector} scraped after ${new Date(ms).toISOString()} within ${timeoutMs} ms (newest: ${at ? new Date(at).toISOString() : 'none'})`,
          );
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async waitForTargetsUp(timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const res = await get<{ activeTargets: { scrapePool: string; health: string; lastError: string }[] }>('/api/v1/targets?state=active');
        const targets = res.data.activeTargets;
        if (targets.length === options.targets.length && targets.every((t) => t.health === 'up')) return;
        if (Date.now() > until)
          throw new Error(`targets not all up after ${timeoutMs} ms: ${JSON.stringify(targets.map((t) => [t.scrapePool, t.health, t.lastError]))}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    stop,
  };
}

// ---- PromQL of the dashboard and the rules ----------------------------------------------

export interface GrafanaTarget {
  expr: string;
  refId: string;
  legendFormat?: string;
  instant?: boolean;
}
export interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: GrafanaTarget[];
  fieldConfig?: {
    defaults?: { unit?: string; min?: number; max?: number; thresholds?: { steps: { color: string; value: number | null }[] } };
    overrides?: unknown[];
  };
  panels?: GrafanaPanel[];
}
export interface GrafanaVariable {
  name: string;
  type: string;
  query?: string | { query: string };
  definition?: string;
  datasource?: { type?: string; uid?: string };
  allValue?: string;
  includeAll?: boolean;
}
export interface GrafanaDashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: GrafanaPanel[];
  templating: { list: GrafanaVariable[] };
}

export function loadDashboard(file = DASHBOARD_FILE): GrafanaDashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as GrafanaDashboard;
}

/** Every panel, including those nested in collapsed rows. */
export function allPanels(dashboard: GrafanaDashboard): GrafanaPanel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Grafana's built-in interval variables as concrete durations (Prometheus has none of them). */
export const GRAFANA_INTERVALS: Record<string, string> = {
  __rate_interval: '10s',
  __interval: '2s',
  __range: '5m',
  __range_s: '300',
  __range_ms: '300000',
  __interval_ms: '2000',
};

/**
 * Replaces `$var`, `${var}` and `[[var]]` with values (template variables and Grafana's
 * intervals). A reference left unknown is an error, so nothing reaches Prometheus unreplaced.
 */
export function substitute(expr: string, values: Record<string, string>): string {
  const all = { ...GRAFANA_INTERVALS, ...values };
  const out = expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c) as string;
    const value = all[name];
    if (value === undefined) throw new Error(`unknown variable ${whole} in ${expr}`);
    return value;
  });
  return out;
}

export interface NamedExpr {
  /** Where it comes from, for messages: "panel 7 Sessions active / A". */
  where: string;
  expr: string;
}

/** PromQL inside a variable's `label_values(<selector>, label)` or `query_result(<expr>)`. */
export function variableExpr(v: GrafanaVariable): string | undefined {
  const raw = typeof v.query === 'string' ? v.query : v.query?.query;
  if (raw === undefined || v.type !== 'query') return undefined;
  const lv = /^\s*label_values\((.*),\s*\w+\s*\)\s*$/s.exec(raw);
  if (lv) return lv[1];
  const qr = /^\s*query_result\((.*)\)\s*$/s.exec(raw);
  if (qr) return qr[1];
  return raw;
}

/** Every PromQL expression of the dashboard (panel targets and variable queries), substituted. */
export function dashboardExprs(dashboard: GrafanaDashboard, values: Record<string, string>): NamedExpr[] {
  const out: NamedExpr[] = [];
  for (const panel of allPanels(dashboard)) {
    for (const t of panel.targets ?? []) out.push({ where: `panel ${panel.id} "${panel.title}" / ${t.refId}`, expr: substitute(t.expr, values) });
  }
  for (const v of dashboard.templating.list) {
    const expr = variableExpr(v);
    if (expr !== undefined) out.push({ where: `variable ${v.name}`, expr: substitute(expr, values) });
  }
  return out;
}

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

export function loadRules(file = RULES_FILE): RuleFile {
  return parseYaml(readFileSync(file, 'utf8')) as RuleFile;
}

export function ruleExprs(rules: RuleFile): NamedExpr[] {
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `${g.name}/${r.alert ?? r.record}`, expr: r.expr })));
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'inf', 'nan']);

/** Metric names in a PromQL expression (identifiers that are not functions, keywords or labels). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(offset\s+-?|@\s*)[\w.]+/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const out: string[] = [];
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = stripped.slice((m.index ?? 0) + m[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(m[0].toLowerCase())) continue;
    out.push(m[0]);
  }
  return out;
}
