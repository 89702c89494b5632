// bench:curves — does the cost grow linearly? It runs the existing benchmarks at several sizes,
// each as its own process (no load code of its own): bench/operator.ts --compare 1 (a floor run
// and an operator run on fresh control planes) at 250, 500, 1,000 and 2,000 MCPServers, and
// bench/churn.ts in delete mode at 50k, 200k and 1M sessions. It prints the cost per unit
// (seconds per server, CPU µs and RSS per session) next to each size, and for every series the
// log-log slope of its total against the size: 1 is linear, below 1 sublinear (fixed costs
// spread out), above 1.1 is flagged SUPERLINEAR. No threshold fails anything: a shared machine
// is too noisy for that; the table is for reading.
//
//   npm run bench:curves -- [--servers 250,500,1000,2000] [--sessions 50000,200000,1000000]
//                           [--idle 35] [--timeout 1800] [--operator-args="--concurrency 16"]
//                           [--out bench-results/curves] [--json curves.json] [--resume]
//
// --timeout and --operator-args go to every bench/operator.ts run as they are (a 2,000-server run
// on a shared machine can need more than operator.ts's own 900 s default).
// --servers '' or --sessions '' skips that half; --resume reuses a size's result file already in
// --out instead of running it again. Each run's own output goes to stderr.
import { spawn } from 'node:child_process';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: '250,500,1000,2000' },
    sessions: { type: 'string', default: '50000,200000,1000000' },
    idle: { type: 'string', default: '35' },
    timeout: { type: 'string', default: '1800' },
    'operator-args': { type: 'string', default: '' },
    out: { type: 'string', default: 'bench-results/curves' },
    json: { type: 'string' },
    resume: { type: 'boolean', default: false },
  },
});
const sizes = (list: string): number[] =>
  list
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(Number);
const SERVERS = sizes(values.servers);
const SESSIONS = sizes(values.sessions);
const OUT = path.resolve(values.out);
/** Log-log slope above which a series is called superlinear. */
const SUPERLINEAR_SLOPE = 1.1;

const exists = (file: string): Promise<boolean> =>
  access(file).then(
    () => true,
    () => false,
  );
const log = (msg: string): void => void process.stderr.write(`[bench:curves] ${msg}\n`);

/** Runs one benchmark script with Node, its output passed to stderr; rejects on a non-zero exit. */
function run(script: string, args: readonly string[]): Promise<void> {
  log(`node ${path.relative(process.cwd(), script)} ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', process.stderr, process.stderr] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(script)} ${args.join(' ')} exited with ${code}`))));
  });
}

/** What curves reads of bench/operator.ts --compare's JSON. */
interface OperatorCompare {
  summary: { floorMedianSeconds: number; operatorMedianSeconds: number; ratio: number; operatorPeakRssMiB: number; idleWrites: number[] };
  operators: { operatorCpuSeconds: number; apiserver: { requests: Record<string, number>; cpuSeconds: number } }[];
  floors: { apiserver: { requests: Record<string, number>; cpuSeconds: number } }[];
}

/** What curves reads of bench/churn.ts's churn-delete.json. */
interface ChurnResult {
  summary: {
    sessions: number;
    rss_start_mb: number;
    rss_end_mb: number;
    rss_peak_mb: number;
    sessions_per_s: number;
    proxy_cpu_s: number;
    proxy_cpu_us_per_session: number;
  };
}

interface Point {
  size: number;
  total: number;
}

/** Least-squares slope of log(total) against log(size): 1 linear, > 1 superlinear. */
function logLogSlope(points: readonly Point[]): number {
  const xs = points.map((p) => Math.log(p.size));
  const ys = points.map((p) => Math.log(p.total));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

function verdict(points: readonly Point[]): string {
  if (points.length < 2 || points.some((p) => !(p.total > 0))) return '';
  const slope = logLogSlope(points);
  return `slope ${slope.toFixed(2)}${slope > SUPERLINEAR_SLOPE ? '  SUPERLINEAR' : slope < 0.9 ? '  (sublinear)' : '  (linear)'}`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

async function operatorCurve(): Promise<{ size: number; result: OperatorCompare }[]> {
  const out: { size: number; result: OperatorCompare }[] = [];
  for (const n of SERVERS) {
    const file = path.join(OUT, `operator-${n}.json`);
    if (!(values.resume && (await exists(file))))
      await run(path.join(HERE, 'operator.ts'), [
        '--count',
        String(n),
        '--compare',
        '1',
        '--idle',
        values.idle,
        '--timeout',
        values.timeout,
        ...(values['operator-args'] ? [`--operator-args=${values['operator-args']}`] : []),
        '--json',
        file,
      ]);
    out.push({ size: n, result: JSON.parse(await readFile(file, 'utf8')) as OperatorCompare });
  }
  return out;
}

async function churnCurve(): Promise<{ size: number; result: ChurnResult }[]> {
  const out: { size: number; result: ChurnResult }[] = [];
  for (const n of SESSIONS) {
    const dir = path.join(OUT, `churn-${n}`);
    if (!(values.resume && (await exists(path.join(dir, 'churn-delete.json')))))
      await run(path.join(HERE, 'churn.ts'), ['--sessions', String(n), '--modes', 'delete', '--out', dir]);
    out.push({ size: n, result: JSON.parse(await readFile(path.join(dir, 'churn-delete.json'), 'utf8')) as ChurnResult });
  }
  return out;
}

function printOperator(points: { size: number; result: OperatorCompare }[]): string {
  const row = (name: string, unit: (r: OperatorCompare, n: number) => number, totalOf: (r: OperatorCompare) => number, digits: number): string[] => [
    name,
    ...points.map(({ size, result }) => unit(result, size).toFixed(digits)),
    verdict(points.map(({ size, result }) => ({ size, total: totalOf(result) }))),
  ];
  const op = (r: OperatorCompare): OperatorCompare['operators'][number] => r.operators[0] as OperatorCompare['operators'][number];
  const fl = (r: OperatorCompare): OperatorCompare['floors'][number] => r.floors[0] as OperatorCompare['floors'][number];
  const rows: string[][] = [
    ['MCPServers', ...points.map((p) => String(p.size)), 'total against size'],
    row(
      'floor: ms per server to all pods Ready',
      (r, n) => (r.summary.floorMedianSeconds * 1000) / n,
      (r) => r.summary.floorMedianSeconds,
      1,
    ),
    row(
      'operator: ms per server to all Ready',
      (r, n) => (r.summary.operatorMedianSeconds * 1000) / n,
      (r) => r.summary.operatorMedianSeconds,
      1,
    ),
    ['operator / floor', ...points.map((p) => `${p.result.summary.ratio.toFixed(2)}x`), ''],
    row(
      'operator CPU ms per server',
      (r, n) => (op(r).operatorCpuSeconds * 1000) / n,
      (r) => op(r).operatorCpuSeconds,
      2,
    ),
    row(
      'operator peak RSS MiB',
      (r) => r.summary.operatorPeakRssMiB,
      (r) => r.summary.operatorPeakRssMiB,
      1,
    ),
    row(
      'apiserver requests per server, floor',
      (r, n) => total(fl(r).apiserver.requests) / n,
      (r) => total(fl(r).apiserver.requests),
      2,
    ),
    row(
      'apiserver requests per server, operator',
      (r, n) => total(op(r).apiserver.requests) / n,
      (r) => total(op(r).apiserver.requests),
      2,
    ),
    row(
      'apiserver CPU ms per server, floor',
      (r, n) => (fl(r).apiserver.cpuSeconds * 1000) / n,
      (r) => fl(r).apiserver.cpuSeconds,
      1,
    ),
    row(
      'apiserver CPU ms per server, operator',
      (r, n) => (op(r).apiserver.cpuSeconds * 1000) / n,
      (r) => op(r).apiserver.cpuSeconds,
      1,
    ),
    ['operator writes in the idle window', ...points.map((p) => p.result.summary.idleWrites.join(',')), ''],
  ];
  return table(rows);
}

function printChurn(points: { size: number; result: ChurnResult }[]): string {
  const s = (p: { result: ChurnResult }): ChurnResult['summary'] => p.result.summary;
  const rows: string[][] = [
    ['sessions (delete mode)', ...points.map((p) => String(p.size)), 'total against size'],
    [
      'proxy CPU µs per session',
      ...points.map((p) => s(p).proxy_cpu_us_per_session.toFixed(1)),
      verdict(points.map((p) => ({ size: p.size, total: s(p).proxy_cpu_s }))),
    ],
    [
      'wall µs per session',
      ...points.map((p) => (1e6 / s(p).sessions_per_s).toFixed(0)),
      verdict(points.map((p) => ({ size: p.size, total: p.size / s(p).sessions_per_s }))),
    ],
    ['RSS end MiB', ...points.map((p) => s(p).rss_end_mb.toFixed(1)), verdict(points.map((p) => ({ size: p.size, total: s(p).rss_end_mb })))],
    [
      'RSS growth bytes per session',
      ...points.map((p) => (((s(p).rss_end_mb - s(p).rss_start_mb) * 2 ** 20) / p.size).toFixed(1)),
      verdict(points.map((p) => ({ size: p.size, total: Math.max(1e-3, s(p).rss_end_mb - s(p).rss_start_mb) }))),
    ],
  ];
  return table(rows);
}

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const operator = SERVERS.length > 0 ? await operatorCurve() : [];
  const churn = SESSIONS.length > 0 ? await churnCurve() : [];
  let text = `\nbench:curves  (a slope of the total against the size: 1 linear; > ${SUPERLINEAR_SLOPE} flagged SUPERLINEAR)\n`;
  if (operator.length > 0) text += `\n${printOperator(operator)}`;
  if (churn.length > 0) text += `\n${printChurn(churn)}`;
  process.stdout.write(text);
  if (values.json) await writeFile(values.json, JSON.stringify({ operator, churn }, null, 2));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:curves failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
