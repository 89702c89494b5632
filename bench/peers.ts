// bench:peers — the proxyrunner side by side with its peer, ToolHive's transparent proxy
// (Go; built from the Go module proxy by bench/peers/toolhive.ts at the version pinned in
// bench/peers/launcher/go.mod), in interleaved rounds against the same upstreams and the
// same load generators as bench:proxy and bench:churn (bench/load/):
//
// 1. tools/call overhead: a fresh server-everything (streamable HTTP) per round; 50
//    keep-alive workers call `echo` straight to it, through the proxyrunner and through
//    ToolHive's proxy, one after the other (the order rotates each round): throughput, p50,
//    p99, and each proxy's CPU per request from /proc/<pid>/stat. Then both proxies serve at
//    the same moment, the workers shared out: the machine's swings hit both alike, so the
//    CPU-per-request ratio from that phase is the steadier one.
// 2. Session churn: for each mode (delete, lifecycle, abandon) each proxy in turn (the
//    order alternates each round) gets a fresh echo upstream and `--sessions` sessions from
//    50 workers: RSS (from /proc) at start, sampled along, peak and end, and CPU per session.
//
// Medians over rounds are printed with their range, as a table and as JSON; `--svg` writes a
// chart of RSS against sessions (last round) and `--markdown` the README tables.
//
//   npm run bench:peers -- [--rounds 3] [--seconds 8] [--warmup 2] [--concurrency 50]
//                          [--sessions 20000] [--modes delete,lifecycle,abandon]
//                          [--memory-limit 128Mi] [--skip-calls] [--skip-churn]
//                          [--json out.json] [--svg out.svg] [--markdown out.md]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startEchoServer, startEverything, startProxy, type Running } from '../test/support/processes.ts';
import { churnSessions, type ChurnMode } from './load/sessions.ts';
import { cpuTicks, median, rssMiB, rssSplitMiB, sleep, toolCallLoad, type Result, type Target } from './load/toolCalls.ts';
import { ensureToolhiveProxy, startToolhiveProxy, toolhiveVersion } from './peers/toolhive.ts';
import { lineChart, type Series } from './svgChart.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '50' },
    sessions: { type: 'string', default: '20000' },
    modes: { type: 'string', default: 'delete,lifecycle,abandon' },
    'memory-limit': { type: 'string', default: '128Mi' },
    'skip-calls': { type: 'boolean', default: false },
    'skip-churn': { type: 'boolean', default: false },
    json: { type: 'string' },
    svg: { type: 'string' },
    markdown: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('npm run bench:peers -- [--rounds 3] [--seconds 8] [--warmup 2] [--concurrency 50] [--sessions 20000]');
  console.log('  [--modes delete,lifecycle,abandon] [--memory-limit 128Mi] [--skip-calls] [--skip-churn] [--json F] [--svg F] [--markdown F]');
  process.exit(0);
}
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const sessions = Number(values.sessions);
const modes = values.modes.split(',') as ChurnMode[];
const load = { warmupSeconds: Number(values.warmup), seconds: Number(values.seconds) };

type Peer = 'proxyrunner' | 'toolhive';
const PEERS: readonly Peer[] = ['proxyrunner', 'toolhive'];
/** A proxy under test: its URL and the pid whose CPU and RSS are read. */
interface Started {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const thvBinary = ensureToolhiveProxy();
const thvVersion = toolhiveVersion();

async function startPeer(peer: Peer, upstreamUrl: string): Promise<Started> {
  if (peer === 'toolhive') {
    const thv = await startToolhiveProxy(thvBinary, upstreamUrl);
    return { url: thv.mcpUrl, pid: thv.child.pid as number, stop: () => thv.stop() };
  }
  const args = ['--transport', 'streamable-http', '--target-url', upstreamUrl, '--log-level', 'warn', '--memory-limit', values['memory-limit']];
  const proxy = await startProxy(args);
  return { url: proxy.mcpUrl, pid: proxy.child.pid as number, stop: () => proxy.stop() };
}

// ---- 1. tools/call ----------------------------------------------------------------------------
interface CallRound {
  direct: Result;
  alone: Record<Peer, Result>;
  together: Record<Peer, Result>;
}

async function callRound(round: number): Promise<CallRound> {
  const upstream: Running = await startEverything('streamableHttp');
  const upstreamUrl = `http://127.0.0.1:${upstream.port}/mcp`;
  const started: Partial<Record<Peer, Started>> = {};
  try {
    for (const peer of PEERS) started[peer] = await startPeer(peer, upstreamUrl);
    const target = (peer: Peer): Target => ({ url: (started[peer] as Started).url, label: peer, pid: (started[peer] as Started).pid });
    const alone: Partial<Record<Peer, Result>> = {};
    let direct: Result | undefined;
    const runs = [
      async (): Promise<void> => void ([direct] = await toolCallLoad([{ url: upstreamUrl, label: 'direct' }], concurrency, load)),
      ...PEERS.map((peer) => async (): Promise<void> => void ([alone[peer]] = await toolCallLoad([target(peer)], concurrency, load))),
    ];
    // Rotate the order: the upstream slows as its event store fills, so no target always goes last.
    for (let i = 0; i < runs.length; i++) await (runs[(i + round - 1) % runs.length] as () => Promise<void>)();
    const [a, b] = await toolCallLoad(PEERS.map(target), Math.ceil(concurrency / PEERS.length), load);
    const result = { direct: direct as Result, alone: alone as Record<Peer, Result>, together: { proxyrunner: a as Result, toolhive: b as Result } };
    const line = (r: Result): string =>
      `${r.target.padEnd(11)} ${r.rps.toFixed(0).padStart(5)} req/s  p50 ${r.p50.toFixed(1).padStart(5)} ms  p99 ${r.p99.toFixed(1).padStart(5)} ms${r.cpuUsPerRequest === undefined ? '' : `  cpu ${r.cpuUsPerRequest.toFixed(0).padStart(4)} µs/req`}  errors ${r.errors}${r.errors ? ` ${JSON.stringify(r.errorStatuses)}` : ''}`;
    console.log(`  round ${round} tools/call: ${line(result.direct)}`);
    for (const peer of PEERS) console.log(`                        ${line(result.alone[peer])}`);
    console.log(
      `    side by side:  proxyrunner ${cpu(result.together.proxyrunner).toFixed(0)} µs/req  toolhive ${cpu(result.together.toolhive).toFixed(0)} µs/req  ratio ${(cpu(result.together.proxyrunner) / cpu(result.together.toolhive)).toFixed(2)}  errors ${result.together.proxyrunner.errors + result.together.toolhive.errors}`,
    );
    return result;
  } finally {
    for (const peer of PEERS) await started[peer]?.stop();
    await upstream.stop();
  }
}

const cpu = (r: Result): number => r.cpuUsPerRequest ?? NaN;

// ---- 2. churn ---------------------------------------------------------------------------------
interface ChurnRun {
  peer: Peer;
  mode: ChurnMode;
  sessions: number;
  errors: number;
  sessionsPerSecond: number;
  rssStart: number;
  rssPeak: number;
  rssEnd: number;
  /** RSS at the end, anonymous and file-backed (the binary's pages). */
  anonEnd: number;
  fileEnd: number;
  cpuUsPerSession: number;
  samples: [number, number][];
}

async function churnRun(peer: Peer, mode: ChurnMode): Promise<ChurnRun> {
  // A generous start-up timeout: on a saturated shared machine the SDK server can take >15 s to load.
  const upstream = await startEchoServer({ timeoutMs: 60_000 });
  const proxy = await startPeer(peer, `http://127.0.0.1:${upstream.port}/mcp`);
  try {
    await sleep(1000);
    const rssStart = rssMiB(proxy.pid);
    const samples: [number, number][] = [[0, rssStart]];
    let peak = rssStart;
    const peakTimer = setInterval(() => (peak = Math.max(peak, rssMiB(proxy.pid))), 200);
    const ticks = cpuTicks(proxy.pid);
    const result = await churnSessions({
      url: proxy.url,
      mode,
      total: sessions,
      concurrency,
      every: Math.max(500, Math.floor(sessions / 20)),
      onProgress: async (done) => void samples.push([done, rssMiB(proxy.pid)]),
    });
    const cpuUsPerSession = ((cpuTicks(proxy.pid) - ticks) * 10_000) / Math.max(1, result.sessions);
    await sleep(1000);
    clearInterval(peakTimer);
    const rssEnd = rssMiB(proxy.pid);
    const split = rssSplitMiB(proxy.pid);
    samples.push([result.sessions, rssEnd]);
    peak = Math.max(peak, rssEnd, ...samples.map(([, y]) => y));
    return {
      peer,
      mode,
      sessions: result.sessions,
      errors: result.errors,
      sessionsPerSecond: result.sessions / result.seconds,
      rssStart,
      rssPeak: peak,
      rssEnd,
      anonEnd: split.anon,
      fileEnd: split.file,
      cpuUsPerSession,
      samples,
    };
  } finally {
    await proxy.stop();
    await upstream.stop();
  }
}

// ---- the run ----------------------------------------------------------------------------------
const range = (xs: number[], digits: number): string => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

async function main(): Promise<void> {
  console.log(
    `bench:peers  mcpfleet proxyrunner (--memory-limit ${values['memory-limit']}) vs ToolHive ${thvVersion} transparent proxy; ${rounds} interleaved rounds; ` +
      `tools/call: ${concurrency} workers, ${load.seconds}s after ${load.warmupSeconds}s warm-up, server-everything; churn: ${sessions} sessions per mode (${modes.join(', ')}), ${concurrency} workers, echo server`,
  );
  const calls: CallRound[] = [];
  const churn: ChurnRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    if (!values['skip-calls']) calls.push(await callRound(round));
    if (!values['skip-churn']) {
      for (const mode of modes) {
        const order = round % 2 === 1 ? PEERS : [...PEERS].reverse();
        for (const peer of order) {
          const r = await churnRun(peer, mode);
          churn.push(r);
          console.log(
            `  round ${round} churn ${mode.padEnd(9)} ${peer.padEnd(11)} ${r.sessions} sessions  ${r.sessionsPerSecond.toFixed(0).padStart(5)}/s  rss ${r.rssStart.toFixed(1)} → ${r.rssEnd.toFixed(1)} MiB (peak ${r.rssPeak.toFixed(1)}; end anon ${r.anonEnd.toFixed(1)} + file ${r.fileEnd.toFixed(1)})  cpu ${r.cpuUsPerSession.toFixed(0)} µs/session  errors ${r.errors}`,
          );
        }
      }
    }
  }

  const summary: Record<string, unknown> = { toolhive_version: thvVersion, rounds, concurrency, memory_limit: values['memory-limit'] };
  const md: string[] = [];
  if (calls.length > 0) {
    const directP99 = median(calls.map((c) => c.direct.p99));
    const of = (peer: Peer, f: (r: Result) => number): number[] => calls.map((c) => f(c.alone[peer]));
    const ratios = calls.map((c) => cpu(c.together.proxyrunner) / cpu(c.together.toolhive));
    const rpsRatios = calls.map((c) => c.alone.proxyrunner.rps / c.alone.toolhive.rps);
    const rpsRatiosTogether = calls.map((c) => c.together.proxyrunner.rps / c.together.toolhive.rps);
    console.log(`\ntools/call, medians of ${calls.length} rounds (range)      proxyrunner            toolhive ${thvVersion}`);
    const row = (name: string, f: (peer: Peer) => string): void => console.log(`  ${name.padEnd(40)} ${f('proxyrunner').padEnd(22)} ${f('toolhive')}`);
    row('throughput (req/s, alone)', (p) =>
      range(
        of(p, (r) => r.rps),
        0,
      ),
    );
    row('added p99 (ms, vs direct)', (p) => (median(of(p, (r) => r.p99)) - directP99).toFixed(1));
    row('p99 (ms, alone)', (p) =>
      range(
        of(p, (r) => r.p99),
        1,
      ),
    );
    row('CPU per request (µs, alone)', (p) => range(of(p, cpu), 0));
    row('throughput (req/s, side by side)', (p) =>
      range(
        calls.map((c) => c.together[p].rps),
        0,
      ),
    );
    row('p99 (ms, side by side)', (p) =>
      range(
        calls.map((c) => c.together[p].p99),
        1,
      ),
    );
    row('CPU per request (µs, side by side)', (p) =>
      range(
        calls.map((c) => cpu(c.together[p])),
        0,
      ),
    );
    console.log(
      `  direct: ${range(
        calls.map((c) => c.direct.rps),
        0,
      )} req/s, p99 ${directP99.toFixed(1)} ms`,
    );
    console.log(
      `  proxyrunner / toolhive: CPU per request side by side ${range(ratios, 2)}; throughput alone ${range(rpsRatios, 2)}, side by side ${range(rpsRatiosTogether, 2)}`,
    );
    const errors = calls.reduce((n, c) => n + c.direct.errors + PEERS.reduce((m, p) => m + c.alone[p].errors + c.together[p].errors, 0), 0);
    Object.assign(summary, {
      direct_rps: Math.round(median(calls.map((c) => c.direct.rps))),
      direct_p99_ms: Number(directP99.toFixed(1)),
      proxyrunner_rps: Math.round(median(of('proxyrunner', (r) => r.rps))),
      toolhive_rps: Math.round(median(of('toolhive', (r) => r.rps))),
      throughput_ratio: Number(median(rpsRatios).toFixed(2)),
      throughput_ratio_side_by_side: Number(median(rpsRatiosTogether).toFixed(2)),
      proxyrunner_added_p99_ms: Number((median(of('proxyrunner', (r) => r.p99)) - directP99).toFixed(1)),
      toolhive_added_p99_ms: Number((median(of('toolhive', (r) => r.p99)) - directP99).toFixed(1)),
      proxyrunner_cpu_us: Math.round(median(calls.map((c) => cpu(c.together.proxyrunner)))),
      toolhive_cpu_us: Math.round(median(calls.map((c) => cpu(c.together.toolhive)))),
      cpu_ratio_side_by_side: Number(median(ratios).toFixed(2)),
      cpu_ratio_range: [Number(Math.min(...ratios).toFixed(2)), Number(Math.max(...ratios).toFixed(2))],
      call_errors: errors,
    });
    md.push(
      `| tools/call, ${concurrency} keep-alive workers, medians of ${calls.length} rounds (range) | mcpfleet proxyrunner | ToolHive ${thvVersion} transparent proxy |`,
      '| --- | --- | --- |',
      `| throughput, each alone (direct: ${Math.round(median(calls.map((c) => c.direct.rps)))} req/s) | ${range(
        of('proxyrunner', (r) => r.rps),
        0,
      )} req/s (**${median(rpsRatios).toFixed(2)}×** ToolHive's) | ${range(
        of('toolhive', (r) => r.rps),
        0,
      )} req/s |`,
      `| throughput, side by side (${Math.ceil(concurrency / 2)} workers each) | ${range(
        calls.map((c) => c.together.proxyrunner.rps),
        0,
      )} req/s (**${median(rpsRatiosTogether).toFixed(2)}×**) | ${range(
        calls.map((c) => c.together.toolhive.rps),
        0,
      )} req/s |`,
      `| p99, side by side | ${range(
        calls.map((c) => c.together.proxyrunner.p99),
        1,
      )} ms | ${range(
        calls.map((c) => c.together.toolhive.p99),
        1,
      )} ms |`,
      `| added p99 vs direct (direct p99 ${directP99.toFixed(1)} ms) | +${(median(of('proxyrunner', (r) => r.p99)) - directP99).toFixed(1)} ms | +${(median(of('toolhive', (r) => r.p99)) - directP99).toFixed(1)} ms |`,
      `| proxy CPU per request, each alone | ${range(of('proxyrunner', cpu), 0)} µs | ${range(of('toolhive', cpu), 0)} µs |`,
      `| proxy CPU per request, side by side | ${range(
        calls.map((c) => cpu(c.together.proxyrunner)),
        0,
      )} µs (**${median(ratios).toFixed(2)}×** ToolHive's, ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) | ${range(
        calls.map((c) => cpu(c.together.toolhive)),
        0,
      )} µs |`,
      `| failed requests | ${calls.reduce((n, c) => n + c.alone.proxyrunner.errors + c.together.proxyrunner.errors, 0)} | ${calls.reduce((n, c) => n + c.alone.toolhive.errors + c.together.toolhive.errors, 0)} |`,
      '',
    );
  }
  if (churn.length > 0) {
    console.log(
      `\nchurn, ${sessions} sessions, medians of ${rounds} rounds   RSS start → end (peak); end anon + file MiB          CPU µs/session   sessions/s   errors`,
    );
    md.push(
      `| churn, ${sessions.toLocaleString('en')} sessions, ${concurrency} workers, medians of ${rounds} rounds | proxyrunner RSS start → end (peak); at end anonymous + file-backed | ToolHive RSS, the same | CPU per session, proxyrunner / ToolHive | sessions/s | failed requests |`,
      '| --- | --- | --- | --- | --- | --- |',
    );
    const churnSummary: Record<string, unknown> = {};
    for (const mode of modes) {
      const cells = {} as Record<Peer, { rss: string; cpu: number; rate: number; errors: number }>;
      for (const peer of PEERS) {
        const runs = churn.filter((r) => r.peer === peer && r.mode === mode);
        const m = (f: (r: ChurnRun) => number): number => median(runs.map(f));
        cells[peer] = {
          rss: `${m((r) => r.rssStart).toFixed(1)} → ${m((r) => r.rssEnd).toFixed(1)} (${m((r) => r.rssPeak).toFixed(1)}); end ${m((r) => r.anonEnd).toFixed(1)} anon + ${m((r) => r.fileEnd).toFixed(1)} file`,
          cpu: m((r) => r.cpuUsPerSession),
          rate: m((r) => r.sessionsPerSecond),
          errors: runs.reduce((n, r) => n + r.errors, 0),
        };
        console.log(
          `  ${mode.padEnd(9)} ${peer.padEnd(11)}                  ${cells[peer].rss.padEnd(52)} ${cells[peer].cpu.toFixed(0).padStart(8)} ${cells[peer].rate.toFixed(0).padStart(12)} ${String(cells[peer].errors).padStart(8)}`,
        );
        churnSummary[`${mode}_${peer}`] = {
          rss_start_mb: Number(m((r) => r.rssStart).toFixed(1)),
          rss_end_mb: Number(m((r) => r.rssEnd).toFixed(1)),
          rss_peak_mb: Number(m((r) => r.rssPeak).toFixed(1)),
          rss_end_anon_mb: Number(m((r) => r.anonEnd).toFixed(1)),
          rss_end_file_mb: Number(m((r) => r.fileEnd).toFixed(1)),
          cpu_us_per_session: Math.round(cells[peer].cpu),
          sessions_per_s: Math.round(cells[peer].rate),
          errors: cells[peer].errors,
        };
      }
      const { proxyrunner: p, toolhive: t } = cells;
      md.push(
        `| ${mode} | ${p.rss} MiB | ${t.rss} MiB | ${p.cpu.toFixed(0)} / ${t.cpu.toFixed(0)} µs | ${p.rate.toFixed(0)} / ${t.rate.toFixed(0)} | ${p.errors} / ${t.errors} |`,
      );
    }
    md.push('');
    summary['churn'] = churnSummary;
    if (values.svg) {
      const colors: Record<ChurnMode, string> = { delete: '#1f77b4', lifecycle: '#2ca02c', abandon: '#d62728' };
      const last = churn.filter((r) => churn.filter((s) => s.peer === r.peer && s.mode === r.mode).at(-1) === r);
      const series: Series[] = last.map((r) => ({
        name: `${r.peer === 'proxyrunner' ? 'proxyrunner' : 'ToolHive'} ${r.mode}`,
        color: colors[r.mode],
        dashed: r.peer === 'toolhive',
        points: r.samples,
      }));
      const limit = Number(/^(\d+)Mi$/.exec(values['memory-limit'])?.[1] ?? NaN);
      writeFileSync(
        values.svg,
        lineChart({
          title: `RSS under session churn: mcpfleet proxyrunner (solid) vs ToolHive ${thvVersion} transparent proxy (dashed)`,
          xLabel: 'sessions created',
          yLabel: 'RSS, MiB',
          series,
          rules: Number.isFinite(limit) ? [{ y: limit, label: `proxyrunner --memory-limit ${values['memory-limit']}` }] : [],
          width: 1060,
        }),
      );
      console.log(`\nchart: ${values.svg}`);
    }
  }
  if (values.markdown) writeFileSync(values.markdown, md.join('\n'));
  console.log('\n' + md.join('\n'));
  if (values.json) writeFileSync(values.json, JSON.stringify({ summary, calls, churn }, null, 2));
  console.log(JSON.stringify(summary));
}

await main();
