// bench:churn — the load test from the reference write-up (ToolHive PR 4079): 50
// concurrent keep-alive workers churning MCP sessions through the proxyrunner, which runs
// with --memory-limit 128Mi as in that write-up's pod. Three modes:
//   delete     initialize → DELETE
//   lifecycle  initialize → initialized → tools/list → tools/call ×2 → DELETE
//   abandon    initialize → initialized, then walk away (no DELETE): the cap must hold
// RSS (from /proc) and heap/sessions (from a real /metrics scrape) are sampled at regular
// session counts, the proxy's CPU (/proc) over the run; a table, per-mode JSON samples and an
// SVG chart are written, and each mode ends with one JSON summary line.
//
//   npm run bench:churn -- [--sessions 200000] [--modes delete,lifecycle,abandon]
//                          [--concurrency 50] [--memory-limit 128Mi] [--out bench-results]
//   npm run bench:churn -- --replicas 3 --store redis [--sessions 200000]
//       the fleet form (bench/fleetChurn.ts): initialize → DELETE over 3 proxies sharing a
//       real Redis, every DELETE through another replica, against one in-memory proxy
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { scrape } from '../test/support/metrics.ts';
import { startEchoServer, startEverything, startProxy, type ProxyProcess, type Running } from '../test/support/processes.ts';
import { lineChart, type Series } from './svgChart.ts';
import { churnSessions, type ChurnMode } from './load/sessions.ts';
import { cpuTicks, rssMiB } from './load/toolCalls.ts';
import { runFleetChurn } from './fleetChurn.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '200000' },
    modes: { type: 'string', default: 'delete,lifecycle,abandon' },
    concurrency: { type: 'string', default: '50' },
    'memory-limit': { type: 'string', default: '128Mi' },
    'max-sessions': { type: 'string', default: '10000' },
    'sample-every': { type: 'string' },
    upstream: { type: 'string', default: 'echo' },
    out: { type: 'string', default: 'bench-results' },
    replicas: { type: 'string', default: '1' },
    store: { type: 'string', default: 'memory' },
    'baseline-sessions': { type: 'string' },
  },
});

type Mode = ChurnMode;
const total = Number(values.sessions);
const concurrency = Number(values.concurrency);
const sampleEvery = Number(values['sample-every'] ?? Math.max(1000, Math.floor(total / 40)));
const modes = values.modes.split(',') as Mode[];
const MiB = 2 ** 20;

interface Sample {
  sessions: number;
  seconds: number;
  rss_mb: number;
  heap_used_mb: number;
  sessions_active: number;
}

async function sample(proxy: ProxyProcess, sessions: number, started: number): Promise<Sample> {
  const metrics = await scrape(proxy.metricsUrl);
  return {
    sessions,
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    rss_mb: Number(rssMiB(proxy.child.pid as number).toFixed(1)),
    heap_used_mb: Number(((metrics.value('nodejs_heap_size_used_bytes') ?? NaN) / MiB).toFixed(1)),
    sessions_active: metrics.value('mcpfleet_proxy_sessions_active') ?? NaN,
  };
}

async function runMode(mode: Mode) {
  const upstream: Running = values.upstream === 'everything' ? await startEverything('streamableHttp') : await startEchoServer();
  const proxy = await startProxy([
    '--transport',
    'streamable-http',
    '--target-url',
    `http://127.0.0.1:${upstream.port}/mcp`,
    '--memory-limit',
    values['memory-limit'],
    '--max-sessions',
    values['max-sessions'],
    '--log-level',
    'warn',
  ]);
  const pid = proxy.child.pid as number;
  await new Promise((r) => setTimeout(r, 1000));
  const started = performance.now();
  const ticksStart = cpuTicks(pid);
  const samples: Sample[] = [await sample(proxy, 0, started)];
  const rssStart = samples[0]?.rss_mb as number;
  let peak = rssStart;
  let peakActive = 0;
  const peakTimer = setInterval(() => {
    peak = Math.max(peak, rssMiB(pid));
  }, 200);
  const {
    sessions: done,
    errors,
    seconds: elapsed,
  } = await churnSessions({
    url: proxy.mcpUrl,
    mode,
    total,
    concurrency,
    every: sampleEvery,
    onProgress: async (at) => {
      const s = await sample(proxy, at, started);
      samples.push(s);
      peakActive = Math.max(peakActive, s.sessions_active);
      process.stdout.write(
        `  ${mode.padEnd(9)} ${String(at).padStart(7)} sessions  ${s.seconds.toFixed(1).padStart(6)} s  rss ${s.rss_mb.toFixed(1).padStart(6)} MiB  heap ${s.heap_used_mb.toFixed(1).padStart(5)} MiB  active ${s.sessions_active}\n`,
      );
    },
  });
  const cpuS = (cpuTicks(pid) - ticksStart) / 100; // the proxy's, the load generator excluded
  await new Promise((r) => setTimeout(r, 1000));
  const end = await sample(proxy, done, started);
  clearInterval(peakTimer);
  peak = Math.max(peak, ...samples.map((s) => s.rss_mb), end.rss_mb);
  await proxy.stop();
  await upstream.stop();
  const at20k = samples.find((s) => s.sessions >= Math.min(20_000, total / 10)) ?? samples[1] ?? end;
  const summary = {
    mode,
    sessions: done,
    rss_start_mb: Number(rssStart.toFixed(1)),
    rss_peak_mb: Number(peak.toFixed(1)),
    rss_end_mb: end.rss_mb,
    heap_end_mb: end.heap_used_mb,
    sessions_active_end: end.sessions_active,
    sessions_active_peak: Math.max(peakActive, end.sessions_active),
    rss_growth_from_20k_mb: Number((end.rss_mb - at20k.rss_mb).toFixed(1)),
    sessions_per_s: Math.round(done / elapsed),
    proxy_cpu_s: Number(cpuS.toFixed(2)),
    proxy_cpu_us_per_session: Number(((cpuS * 1e6) / Math.max(1, done)).toFixed(1)),
    failed_requests: errors,
  };
  return { summary, samples: [...samples, end] };
}

async function main(): Promise<void> {
  const out = path.resolve(values.out);
  mkdirSync(out, { recursive: true });
  console.log(
    `bench:churn  ${total} sessions per mode, ${concurrency} workers, proxy --memory-limit ${values['memory-limit']} --max-sessions ${values['max-sessions']}, upstream ${values.upstream}`,
  );
  const results = [];
  for (const mode of modes) {
    console.log(`\n== ${mode}`);
    const result = await runMode(mode);
    writeFileSync(path.join(out, `churn-${mode}.json`), JSON.stringify(result, null, 2));
    results.push(result);
  }
  const colors: Record<Mode, string> = { delete: '#1f77b4', lifecycle: '#2ca02c', abandon: '#d62728' };
  const series: Series[] = results.flatMap(({ summary, samples }) => [
    { name: `${summary.mode} RSS`, color: colors[summary.mode], points: samples.map((s) => [s.sessions, s.rss_mb] as [number, number]) },
    {
      name: `${summary.mode} heap used`,
      color: colors[summary.mode],
      dashed: true,
      points: samples.map((s) => [s.sessions, s.heap_used_mb] as [number, number]),
    },
  ]);
  const limitMiB = Number(/^(\d+)Mi$/.exec(values['memory-limit'])?.[1] ?? NaN);
  const svg = lineChart({
    title: `mcpfleet proxyrunner memory under session churn (--memory-limit ${values['memory-limit']})`,
    xLabel: 'sessions created',
    yLabel: 'MiB',
    series,
    rules: Number.isFinite(limitMiB) ? [{ y: limitMiB, label: `memory limit ${values['memory-limit']}` }] : [],
  });
  writeFileSync(path.join(out, 'churn.svg'), svg);
  console.log('\nmode        sessions  rss start  rss peak  rss end  growth≥20k  heap end  active end  active peak  sessions/s  failed  cpu µs/session');
  for (const { summary: s } of results) {
    console.log(
      `${s.mode.padEnd(10)} ${String(s.sessions).padStart(9)} ${s.rss_start_mb.toFixed(1).padStart(10)} ${s.rss_peak_mb.toFixed(1).padStart(9)} ${s.rss_end_mb.toFixed(1).padStart(8)} ${s.rss_growth_from_20k_mb.toFixed(1).padStart(11)} ${s.heap_end_mb.toFixed(1).padStart(9)} ${String(s.sessions_active_end).padStart(11)} ${String(s.sessions_active_peak).padStart(12)} ${String(s.sessions_per_s).padStart(11)} ${String(s.failed_requests).padStart(7)} ${s.proxy_cpu_us_per_session.toFixed(1).padStart(15)}`,
    );
  }
  console.log(`\nsamples: ${out}/churn-<mode>.json   chart: ${out}/churn.svg\n`);
  for (const { summary } of results) {
    const { mode, sessions, rss_start_mb, rss_peak_mb, rss_end_mb, heap_end_mb, sessions_active_end, proxy_cpu_us_per_session } = summary;
    console.log(JSON.stringify({ mode, sessions, rss_start_mb, rss_peak_mb, rss_end_mb, heap_end_mb, sessions_active_end, proxy_cpu_us_per_session }));
  }
}

async function fleet(): Promise<void> {
  const replicas = Number(values.replicas);
  if (!Number.isInteger(replicas) || replicas < 2) throw new Error('--store redis needs --replicas 2 or more');
  console.log(
    `bench:churn  ${total} sessions initialize → DELETE round-robin over ${replicas} proxies sharing Redis (every DELETE through another replica), ${concurrency} workers, --memory-limit ${values['memory-limit']}`,
  );
  const r = await runFleetChurn({
    sessions: total,
    replicas,
    concurrency,
    memoryLimit: values['memory-limit'],
    progressEvery: sampleEvery,
    ...(values['baseline-sessions'] !== undefined && { baselineSessions: Number(values['baseline-sessions']) }),
  });
  const mib = (v: number): string => v.toFixed(1);
  console.log('\nproxy  rss start  rss peak  rss end  growth (MiB)');
  r.rss_mib_start.forEach((start, i) =>
    console.log(
      `${String(i).padEnd(6)} ${mib(start).padStart(9)} ${mib(r.rss_mib_peak[i] as number).padStart(9)} ${mib(r.rss_mib_end[i] as number).padStart(8)} ${mib(r.rss_mib_growth[i] as number).padStart(13)}`,
    ),
  );
  console.log(`redis used_memory: ${r.redis_used_memory_start} B at start, ${r.redis_used_memory_end} B at end; keys at end: ${r.redis_keys_end}`);
  console.log(
    `summed over replicas: created ${r.created_total_summed}, closed client_delete ${r.closed_client_delete_summed}, closed otherwise ${r.closed_other_summed}; fleet gauge at end ${r.fleet_sessions_active_end}; failed ${r.failed}`,
  );
  console.log(
    `throughput: ${r.sessions_per_second} sessions/s over ${replicas} proxies with Redis; ${r.baseline_memory_sessions_per_second} sessions/s through one in-memory proxy (${r.baseline_memory_sessions} sessions, same run)`,
  );
  console.log(JSON.stringify(r));
  const exact =
    r.created_total_summed === total &&
    r.closed_client_delete_summed === total &&
    r.closed_other_summed === 0 &&
    r.fleet_sessions_active_end === 0 &&
    r.failed === 0;
  if (!exact) process.exitCode = 1;
}

if (values.store === 'redis') await fleet();
else await main();
