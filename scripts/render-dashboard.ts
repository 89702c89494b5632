// dashboard:render — a picture of the Grafana dashboard drawn from real data: the built
// proxyrunner in front of the SDK echo server, a real Prometheus (Debian's package, 1 s
// scrapes) and a couple of minutes of varying load (a ramp of full sessions, a burst of
// abandoned ones past the cap, an upstream outage, long-lived sessions that find their
// upstream session gone, then a quiet tail in which the abandoned sessions time out). Every proxy panel of charts/mcpfleet/files/dashboard.json is then
// queried with its own PromQL (query_range) and drawn, at its place in the dashboard's grid,
// into one SVG. Operator panels are left out: no operator runs here.
//
//   npm run dashboard:render -- [--seconds 120] [--tail 25] [--out docs/dashboard]
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { McpHttpClient, toolCall } from '../test/support/mcpHttp.ts';
import { scrape } from '../test/support/metrics.ts';
import { freePort, ROOT, startProxy, waitForPort } from '../test/support/processes.ts';
import {
  allPanels,
  loadDashboard,
  prometheusVersion,
  startPrometheus,
  substitute,
  type GrafanaPanel,
  type PrometheusProcess,
} from '../test/support/prometheus.ts';
import { abandonedSession, fullSession, malformedRequest } from '../test/monitoring/load.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    tail: { type: 'string', default: '25' },
    out: { type: 'string', default: 'docs/dashboard' },
  },
});
const SECONDS = Number(values.seconds);
const TAIL = Number(values.tail);
const OUT = path.resolve(ROOT, values.out);
const LABELS = { namespace: 'team-a', mcpserver: 'echo', pod: 'mcp-echo-proxy-6d5f7c9b8-x2x4q' };
const VARS = { namespace: '.+', mcpserver: '.+', datasource: 'prometheus' };
const STEP = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the system under load --------------------------------------------------------------

function startEcho(port: number): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, 'test/fixtures/echoServer.ts'), '--port', String(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
}
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** The load at a fraction `f` of the run: full-session workers, abandoning workers, upstream up. */
function plan(f: number): { full: number; abandon: number; upstream: boolean } {
  if (f >= 1) return { full: 1, abandon: 0, upstream: true }; // the tail: a trickle
  if (f < 0.12) return { full: 2, abandon: 0, upstream: true };
  if (f < 0.4) return { full: Math.round(2 + 10 * Math.sin(((f - 0.12) / 0.28) * (Math.PI / 2))), abandon: 0, upstream: true };
  if (f < 0.52) return { full: 4, abandon: 4, upstream: true };
  if (f < 0.64) return { full: 5, abandon: 0, upstream: true };
  if (f < 0.76) return { full: 4, abandon: 0, upstream: false };
  return { full: Math.round(6 - 3 * ((f - 0.76) / 0.24)), abandon: 0, upstream: true };
}

interface LoadResult {
  echo: ChildProcess;
  failures: number;
  /** The long-lived clients keep going through the tail; this ends them (DELETE). */
  stopLongLived(): Promise<void>;
}

async function runLoad(proxyUrl: string, echoPort: number, firstEcho: ChildProcess): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const client = new McpHttpClient(proxyUrl, agent);
  const started = Date.now();
  const fraction = () => (Date.now() - started) / (SECONDS * 1000);
  let echo = firstEcho;
  let failures = 0;
  let running = true;
  let longRunning = true;

  const worker = (kind: 'full' | 'abandon', index: number, pauseMs: number) => async () => {
    while (running) {
      const p = plan(fraction());
      if (index >= p[kind]) {
        await sleep(100);
        continue;
      }
      try {
        if (kind === 'full') await fullSession(client);
        else await abandonedSession(client);
      } catch {
        failures++;
        await sleep(100);
      }
      await sleep(pauseMs);
    }
  };
  // Long-lived clients: one session each, a call a second; on 404 (their session is gone
  // upstream) they initialize again.
  const longLived = async (): Promise<void> => {
    let id: string | undefined;
    let n = 10;
    while (longRunning) {
      try {
        id ??= await client.initialize();
        const res = await client.request('POST', toolCall(n++, 'echo', { message: 'still here' }), id);
        if (res.status === 404) id = undefined;
      } catch {
        failures++;
      }
      await sleep(1000);
    }
    if (id) await client.request('DELETE', undefined, id).catch(() => undefined);
  };
  const junk = async (): Promise<void> => {
    while (running) {
      await malformedRequest(client).catch(() => undefined);
      await sleep(4000);
    }
  };
  const upstreamControl = async (): Promise<void> => {
    while (running) {
      const want = plan(fraction()).upstream;
      const up = echo.exitCode === null && echo.signalCode === null;
      if (up && !want) {
        console.log(`  ${((Date.now() - started) / 1000).toFixed(0)} s: stopping the upstream`);
        await stopChild(echo);
      } else if (!up && want) {
        console.log(`  ${((Date.now() - started) / 1000).toFixed(0)} s: starting the upstream again (it has forgotten every session)`);
        echo = startEcho(echoPort);
        await waitForPort(echoPort, 15_000, echo);
      }
      await sleep(250);
    }
  };
  const longTasks = Array.from({ length: 5 }, () => longLived());
  const tasks = [
    ...Array.from({ length: 12 }, (_, i) => worker('full', i, 40)()),
    ...Array.from({ length: 4 }, (_, i) => worker('abandon', i, 60)()),
    junk(),
    upstreamControl(),
  ];
  const progress = setInterval(() => console.log(`  ${((Date.now() - started) / 1000).toFixed(0)} s: ${JSON.stringify(plan(fraction()))}`), 10_000);
  await sleep((SECONDS + TAIL) * 1000);
  running = false;
  clearInterval(progress);
  await Promise.all(tasks);
  return {
    echo,
    failures,
    async stopLongLived() {
      longRunning = false;
      await Promise.all(longTasks);
      agent.destroy();
    },
  };
}

// ---- drawing ----------------------------------------------------------------------------

const C = {
  page: '#111217',
  panel: '#181b1f',
  border: '#2c3235',
  text: '#ccccdc',
  dim: '#8e8e9e',
  grid: '#25282d',
  red: '#f2495c',
  green: '#73bf69',
  orange: '#ff9830',
};
const PALETTE = ['#7eb26d', '#eab839', '#6ed0e0', '#ef843c', '#e24d42', '#1f78c1', '#ba43a9', '#705da0', '#508642', '#cca300', '#447ebc', '#c15c17'];
const NAMED: Record<string, string> = { red: C.red, green: C.green, orange: C.orange, text: C.text };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmtNum = (v: number, digits = 3): string => {
  const r = Number(v.toPrecision(digits));
  return Math.abs(r) >= 1e6 ? `${(r / 1e6).toPrecision(3)}M` : Math.abs(r) >= 1e4 ? `${(r / 1e3).toPrecision(3)}k` : String(r);
};
function fmt(unit: string | undefined, v: number): string {
  if (!Number.isFinite(v)) return '—';
  switch (unit) {
    case 'bytes': {
      const units = ['B', 'KiB', 'MiB', 'GiB'];
      let i = 0;
      while (Math.abs(v) >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
      }
      return `${fmtNum(v)} ${units[i]}`;
    }
    case 's':
      if (v === 0) return '0 s';
      if (v < 1e-3) return `${fmtNum(v * 1e6)} µs`;
      if (v < 1) return `${fmtNum(v * 1e3)} ms`;
      return `${fmtNum(v)} s`;
    case 'percentunit':
      return `${fmtNum(v * 100)}%`;
    case 'reqps':
      return `${fmtNum(v)} req/s`;
    default:
      return fmtNum(v);
  }
}

/** Nice ticks from 0 (or min) to at least max; byte axes step in powers of two of MiB. */
function ticks(min: number, max: number, unit: string | undefined): number[] {
  if (!(max > min)) max = min + 1;
  const range = max - min;
  let step: number;
  if (unit === 'bytes') {
    step = 2 ** 20;
    while (range / step > 5) step *= 2;
    while (range / step < 2 && step > 1024) step /= 2;
  } else {
    const raw = range / 4;
    const pow = 10 ** Math.floor(Math.log10(raw));
    step = [1, 2, 2.5, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  }
  const out: number[] = [];
  for (let v = Math.floor(min / step) * step; v < max + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

interface Line {
  name: string;
  color: string;
  dashed: boolean;
  width: number;
  fill: number;
  points: [number, number][];
}

type Override = { matcher: { id: string; options: string }; properties: { id: string; value: unknown }[] };
interface FieldDefaults {
  unit?: string;
  min?: number;
  max?: number;
  decimals?: number;
  custom?: { fillOpacity?: number; lineWidth?: number; thresholdsStyle?: { mode: string } };
  thresholds?: { steps: { color: string; value: number | null }[] };
}

function styleFor(name: string, index: number, defaults: FieldDefaults, overrides: Override[]): Omit<Line, 'name' | 'points'> {
  const style = {
    color: PALETTE[index % PALETTE.length] as string,
    dashed: false,
    width: defaults.custom?.lineWidth ?? 1,
    fill: defaults.custom?.fillOpacity ?? 0,
  };
  for (const o of overrides) {
    const { id, options } = o.matcher;
    const hit = id === 'byName' ? options === name : id === 'byRegexp' ? new RegExp(options.replace(/^\/|\/$/g, '')).test(name) : false;
    if (!hit) continue;
    for (const p of o.properties) {
      if (p.id === 'color') style.color = NAMED[(p.value as { fixedColor: string }).fixedColor] ?? (p.value as { fixedColor: string }).fixedColor;
      if (p.id === 'custom.lineStyle') style.dashed = true;
      if (p.id === 'custom.lineWidth') style.width = p.value as number;
      if (p.id === 'custom.fillOpacity') style.fill = p.value as number;
    }
  }
  return style;
}

const legendName = (format: string | undefined, metric: Record<string, string>): string =>
  format ? format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, l: string) => metric[l] ?? '') : JSON.stringify(metric);

async function panelData(prom: PrometheusProcess, panel: GrafanaPanel, start: number, end: number): Promise<Line[]> {
  const defaults = (panel.fieldConfig?.defaults ?? {}) as FieldDefaults;
  const overrides = (panel.fieldConfig?.overrides ?? []) as Override[];
  const lines: Line[] = [];
  for (const t of panel.targets ?? []) {
    const res = await prom.queryRange(substitute(t.expr, VARS), start, end, STEP);
    if (res.status !== 'success' || res.data.resultType !== 'matrix') throw new Error(`${panel.title}/${t.refId}: ${res.error}`);
    for (const s of res.data.result.sort((a, b) => legendName(t.legendFormat, a.metric).localeCompare(legendName(t.legendFormat, b.metric)))) {
      const name = legendName(t.legendFormat, s.metric);
      lines.push({ name, ...styleFor(name, lines.length, defaults, overrides), points: s.values.map(([ts, v]) => [ts, Number(v)]) });
    }
  }
  return lines;
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

function frame(box: Box, title: string): string[] {
  return [
    `<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" rx="3" fill="${C.panel}" stroke="${C.border}"/>`,
    `<text x="${box.x + 10}" y="${box.y + 20}" font-size="13" font-weight="600" fill="${C.text}">${esc(title)}</text>`,
  ];
}

function timeseries(box: Box, panel: GrafanaPanel, lines: Line[], start: number, end: number): string {
  const defaults = (panel.fieldConfig?.defaults ?? {}) as FieldDefaults;
  const out = frame(box, panel.title);
  // Legend rows at the bottom.
  const legend: { x: number; row: number; line: Line }[] = [];
  let lx = 0;
  let row = 0;
  for (const line of lines) {
    const w = 24 + line.name.length * 6.2 + 14;
    if (lx > 0 && lx + w > box.w - 20) {
      lx = 0;
      row++;
    }
    legend.push({ x: lx, row, line });
    lx += w;
  }
  const legendH = lines.length ? (row + 1) * 16 + 4 : 0;
  const plot = { x: box.x + 62, y: box.y + 34, w: box.w - 62 - 14, h: box.h - 34 - 22 - legendH };
  const values = lines.flatMap((l) => l.points.map(([, v]) => v)).filter(Number.isFinite);
  const dataMax = values.length ? Math.max(...values) : 1;
  const lo = defaults.min ?? Math.min(0, ...values);
  const threshold =
    defaults.custom?.thresholdsStyle?.mode === 'line' ? (defaults.thresholds?.steps.find((s) => s.value !== null)?.value ?? undefined) : undefined;
  const hiWanted = Math.max(dataMax, threshold ?? -Infinity);
  const ys = ticks(lo, defaults.max !== undefined && defaults.max >= hiWanted ? defaults.max : hiWanted * 1.05 || 1, defaults.unit);
  const hi = ys[ys.length - 1] as number;
  const sx = (t: number) => plot.x + ((t - start) / (end - start)) * plot.w;
  const sy = (v: number) => plot.y + plot.h - ((v - lo) / (hi - lo || 1)) * plot.h;
  for (const v of ys) {
    out.push(`<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" stroke="${C.grid}"/>`);
    out.push(`<text x="${plot.x - 6}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end" font-size="10.5" fill="${C.dim}">${esc(fmt(defaults.unit, v))}</text>`);
  }
  const span = end - start;
  const tickEvery = [15, 30, 60, 120, 300].find((s) => span / s <= 8) ?? 600;
  for (let t = Math.ceil(start / tickEvery) * tickEvery; t <= end; t += tickEvery) {
    const label = new Date(t * 1000).toISOString().slice(11, 19);
    out.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${plot.y}" y2="${plot.y + plot.h}" stroke="${C.grid}"/>`);
    out.push(`<text x="${sx(t).toFixed(1)}" y="${plot.y + plot.h + 15}" text-anchor="middle" font-size="10.5" fill="${C.dim}">${label}</text>`);
  }
  if (threshold !== undefined) {
    out.push(
      `<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${sy(threshold).toFixed(1)}" y2="${sy(threshold).toFixed(1)}" stroke="${C.red}" stroke-dasharray="6 4"/>`,
    );
  }
  for (const line of lines) {
    // Split at gaps (NaN: no traffic for a quantile; missing steps).
    const segments: [number, number][][] = [];
    let current: [number, number][] = [];
    let prevT = -Infinity;
    for (const [t, v] of line.points) {
      if (!Number.isFinite(v) || t - prevT > STEP * 1.5) {
        if (current.length) segments.push(current);
        current = [];
      }
      if (Number.isFinite(v)) current.push([t, v]);
      prevT = Number.isFinite(v) ? t : -Infinity;
    }
    if (current.length) segments.push(current);
    for (const seg of segments) {
      const d = seg.map(([t, v], i) => `${i ? 'L' : 'M'}${sx(t).toFixed(1)},${sy(Math.min(v, hi)).toFixed(1)}`).join(' ');
      if (line.fill > 0 && seg.length > 1) {
        const first = seg[0] as [number, number];
        const last = seg[seg.length - 1] as [number, number];
        out.push(
          `<path d="${d} L${sx(last[0]).toFixed(1)},${sy(Math.max(lo, 0)).toFixed(1)} L${sx(first[0]).toFixed(1)},${sy(Math.max(lo, 0)).toFixed(1)} Z" fill="${line.color}" fill-opacity="${(line.fill / 100).toFixed(2)}" stroke="none"/>`,
        );
      }
      out.push(
        `<path d="${d}" fill="none" stroke="${line.color}" stroke-width="${line.width === 1 ? 1.3 : line.width}"${line.dashed ? ' stroke-dasharray="8 6"' : ''} stroke-linejoin="round"/>`,
      );
    }
  }
  if (!lines.length) out.push(`<text x="${plot.x + plot.w / 2}" y="${plot.y + plot.h / 2}" text-anchor="middle" fill="${C.dim}">No data</text>`);
  const ly0 = box.y + box.h - legendH + 8;
  for (const { x, row: r, line } of legend) {
    const y = ly0 + r * 16;
    out.push(
      `<line x1="${box.x + 12 + x}" x2="${box.x + 28 + x}" y1="${y}" y2="${y}" stroke="${line.color}" stroke-width="3"${line.dashed ? ' stroke-dasharray="4 3"' : ''}/>`,
    );
    out.push(`<text x="${box.x + 33 + x}" y="${y + 4}" font-size="11" fill="${C.text}">${esc(line.name)}</text>`);
  }
  return out.join('\n');
}

function stat(box: Box, panel: GrafanaPanel, lines: Line[]): string {
  const defaults = (panel.fieldConfig?.defaults ?? {}) as FieldDefaults;
  const out = frame(box, panel.title);
  const line = lines[0];
  const finite = (line?.points ?? []).filter(([, v]) => Number.isFinite(v));
  const last = finite[finite.length - 1]?.[1] ?? NaN;
  const steps = defaults.thresholds?.steps ?? [];
  const colorName = [...steps].reverse().find((s) => s.value === null || last >= s.value)?.color ?? 'green';
  const color = NAMED[colorName] ?? colorName;
  if (finite.length > 1) {
    const max = Math.max(...finite.map(([, v]) => v), 1e-9);
    const t0 = finite[0]?.[0] as number;
    const t1 = finite[finite.length - 1]?.[0] as number;
    const px = (t: number) => box.x + ((t - t0) / (t1 - t0 || 1)) * box.w;
    const py = (v: number) => box.y + box.h - 4 - (v / max) * (box.h * 0.45);
    const d = finite.map(([t, v], i) => `${i ? 'L' : 'M'}${px(t).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
    out.push(`<path d="${d} L${box.x + box.w},${box.y + box.h - 4} L${box.x},${box.y + box.h - 4} Z" fill="${color}" fill-opacity="0.15"/>`);
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-opacity="0.6" stroke-width="1.2"/>`);
  }
  const shown =
    defaults.unit === 'short' || defaults.unit === undefined
      ? defaults.decimals !== undefined
        ? last.toFixed(defaults.decimals)
        : fmtNum(last)
      : fmt(defaults.unit, last);
  out.push(
    `<text x="${box.x + box.w / 2}" y="${box.y + box.h / 2 + 18}" text-anchor="middle" font-size="34" font-weight="600" fill="${color}">${esc(shown)}</text>`,
  );
  return out.join('\n');
}

// ---- main -------------------------------------------------------------------------------

async function main(): Promise<void> {
  const dashboard = loadDashboard();
  const version = prometheusVersion();
  const echoPort = await freePort();
  const proxyHolder: { stop?: () => Promise<void> } = {};
  console.log(`dashboard:render  ${SECONDS} s of load + ${TAIL} s tail; Prometheus ${version}`);
  // The upstream must be up before the proxy starts (its readiness probe), then the load
  // controls it.
  const firstEcho = startEcho(echoPort);
  await waitForPort(echoPort, 15_000, firstEcho);
  const proxy = await startProxy([
    '--transport',
    'streamable-http',
    '--target-url',
    `http://127.0.0.1:${echoPort}/mcp`,
    '--memory-limit',
    '128Mi',
    '--max-sessions',
    '150',
    '--session-idle-timeout',
    '15s',
    '--log-level',
    'error',
  ]);
  proxyHolder.stop = () => proxy.stop();
  const prom = await startPrometheus({
    scrapeInterval: '1s',
    targets: [{ job: 'mcpfleet-proxyrunner', target: `127.0.0.1:${proxy.metricsPort}`, labels: LABELS }],
  });
  let echo: ChildProcess = firstEcho;
  let load: LoadResult | undefined;
  try {
    await prom.waitForTargetsUp();
    const start = Math.floor(Date.now() / 1000);
    load = await runLoad(proxy.mcpUrl, echoPort, firstEcho);
    echo = load.echo;
    console.log(`  load done (${load.failures} failed client operations, most of them during the outage)`);
    const end = Math.floor(Date.now() / 1000);
    await prom.waitForSampleAfter('mcpfleet_proxy_sessions_active', end * 1000);

    // What the run did, from the proxy itself and from Prometheus.
    const own = await scrape(proxy.metricsUrl);
    const reasons = ['client_delete', 'upstream_not_found', 'idle_timeout', 'evicted', 'upstream_closed'];
    const promClosed = Object.fromEntries(
      (await prom.vector('sum by (reason) (mcpfleet_proxy_sessions_closed_total)')).map((s): [string, number] => [
        String(s.metric['reason']),
        Number(s.value[1]),
      ]),
    );
    const summary = {
      seconds: end - start,
      prometheus: version,
      sessions_created: own.value('mcpfleet_proxy_sessions_created_total'),
      sessions_active_end: own.value('mcpfleet_proxy_sessions_active'),
      closed_by_reason_proxy: Object.fromEntries(reasons.map((r) => [r, own.value('mcpfleet_proxy_sessions_closed_total', { reason: r })])),
      closed_by_reason_prometheus: promClosed,
      requests: own.value('mcpfleet_proxy_requests_total'),
      upstream_errors: Object.fromEntries(
        ['connect', 'timeout', 'reset', 'protocol', 'process_exit'].map((k) => [k, own.value('mcpfleet_proxy_upstream_errors_total', { kind: k })]),
      ),
    };
    console.log(JSON.stringify(summary, null, 2));

    // The proxy panels, in the dashboard's grid (operator rows and panels dropped).
    const isOperator = (p: GrafanaPanel) => (p.targets ?? []).some((t) => /mcpfleet_operator_/.test(t.expr));
    const panels = allPanels(dashboard);
    const operatorRowY = panels.find((p) => p.type === 'row' && p.title === 'Operator')?.gridPos.y ?? Infinity;
    const shown = panels.filter((p) => !isOperator(p) && p.gridPos.y < operatorRowY);
    const stats = shown.filter((p) => p.type === 'stat');
    const W = 1800;
    const PAD = 12;
    const HEADER = 64;
    const col = (W - 2 * PAD) / 24;
    const cellH = 30;
    const gap = 8;
    const toBox = (g: { x: number; y: number; w: number; h: number }): Box => ({
      x: PAD + g.x * col + gap / 2,
      y: HEADER + g.y * (cellH + gap),
      w: g.w * col - gap,
      h: g.h * cellH + (g.h - 1) * gap,
    });
    const body: string[] = [];
    for (const [i, p] of stats.entries()) {
      // The stat row re-flowed across the width (its operator stat is not drawn).
      const w = 24 / stats.length;
      body.push(stat(toBox({ x: i * w, y: p.gridPos.y, w, h: p.gridPos.h }), p, await panelData(prom, p, start, end)));
    }
    for (const p of shown.filter((q) => q.type !== 'stat')) {
      const box = toBox(p.gridPos);
      if (p.type === 'row') {
        body.push(`<text x="${box.x}" y="${box.y + 22}" font-size="15" font-weight="600" fill="${C.text}">⌄ ${esc(p.title)}</text>`);
        continue;
      }
      body.push(timeseries(box, p, await panelData(prom, p, start, end), start, end));
    }
    const maxY = Math.max(...shown.map((p) => p.gridPos.y + p.gridPos.h));
    const H = HEADER + maxY * (cellH + gap) + PAD;
    const when = new Date(start * 1000).toISOString().slice(0, 16).replace('T', ' ');
    const svg = [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Inter, Helvetica, Arial, sans-serif">`,
      `<rect width="100%" height="100%" fill="${C.page}"/>`,
      `<text x="${PAD + 4}" y="28" font-size="20" font-weight="600" fill="${C.text}">${esc(dashboard.title)}</text>`,
      `<text x="${W - PAD - 4}" y="28" text-anchor="end" font-size="12" fill="${C.dim}">namespace: All · MCPServer: All · ${esc(when)} UTC, ${end - start} s</text>`,
      `<text x="${PAD + 4}" y="50" font-size="12" fill="${C.dim}">${esc(`Drawn by npm run dashboard:render with the dashboard's own queries: a real proxyrunner (--memory-limit 128Mi --max-sessions 150 --session-idle-timeout 15s) in front of the SDK echo server, scraped every second by Prometheus ${version} (Debian). Operator panels not shown.`)}</text>`,
      ...body,
      '</svg>',
    ].join('\n');
    mkdirSync(OUT, { recursive: true });
    writeFileSync(path.join(OUT, 'mcpfleet.svg'), `${svg}\n`);
    writeFileSync(path.join(OUT, 'render.json'), `${JSON.stringify(summary, null, 2)}\n`);
    console.log(`\nwrote ${path.relative(ROOT, path.join(OUT, 'mcpfleet.svg'))} and render.json`);
  } finally {
    await load?.stopLongLived();
    await prom.stop();
    await proxyHolder.stop?.();
    await stopChild(echo);
  }
}

await main();
