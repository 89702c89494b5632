// bench:proxy — the same tools/call workload straight to the upstream, through the
// proxyrunner, and through a naive node:http pass-through (bench/naiveProxy.ts, the
// baseline the proxy must beat), side by side in one run. Everything shares this machine's cores, so the
// proxy's own CPU cost shows directly in the ratio.
//
// Each round starts a fresh upstream and a fresh proxy (server-everything slows down as its
// event store fills) and alternates which side goes first; medians are reported, plus the
// proxy's own CPU time per request (from /proc), the figure that explains the ratio.
// Each round ends with the proxyrunner and the naive proxy serving at the same moment (half
// the clients each): run-to-run swings of this machine hit both alike there, so their CPU per
// request compares more steadily than across the sequential runs.
//
//   npm run bench:proxy -- [--concurrency 50] [--seconds 10] [--rounds 3] [--upstream everything|echo]
//                          [--memory-limit 128Mi] [--undici] [--auth] [--tool-config] [--json out.json]
//
// --undici adds a second naive baseline whose upstream client is undici instead of node:http,
// in every phase: it shows what a faster client library alone would save.
//
// --auth (and every other feature flag in bench/proxyFeatures.ts) ends each round with one
// more side-by-side phase: a plain proxyrunner next to one per variant of the feature (auth:
// JWT validation; JWT validation and Cedar), each variant's CPU per request as a ratio to
// the plain one's.
//
// --tracing instead compares two proxyrunners serving side by side: tracing off, and tracing on
// (sampling 1.0, OTLP/HTTP to an in-process sink that accepts and discards), CPU per request
// and their ratio; then RSS of the traced proxy over --churn sessions (initialize → tools/call →
// DELETE), which must stay flat.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePort, ROOT, startEchoServer, startEverything, startProxy, track, waitForPort, type Running } from '../test/support/processes.ts';
import { rssMiB, toolCallLoad, type Result, type Target } from './load/toolCalls.ts';
import { McpHttpClient, toolCall } from '../test/support/mcpHttp.ts';
import { FEATURES, type FeatureSetup } from './proxyFeatures.ts';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    'memory-limit': { type: 'string' },
    json: { type: 'string' },
    'proxy-args': { type: 'string', default: '' },
    upstream: { type: 'string', default: 'everything' },
    undici: { type: 'boolean', default: false },
    auth: { type: 'boolean', default: false },
    tracing: { type: 'boolean', default: false },
    churn: { type: 'string', default: '5000' },
    'tool-config': { type: 'boolean', default: false },
  },
});
const concurrency = Number(values.concurrency);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const rounds = Number(values.rounds);

/** The shared generator (bench/load/toolCalls.ts) with this run's warm-up and window. */
const load = (targets: Target[], perTarget: number): Promise<Result[]> => toolCallLoad(targets, perTarget, { warmupSeconds: warmup, seconds });

/** The feature flags given (bench/proxyFeatures.ts), in table order. */
const features = Object.keys(FEATURES).filter((flag) => (values as Record<string, unknown>)[flag] === true);

/** bench/naiveProxy.ts in its own process, as the proxyrunner runs in its own. */
async function startNaive(targetUrl: string, client: 'http' | 'undici'): Promise<Running> {
  const port = await freePort();
  const args = [path.join(ROOT, 'bench/naiveProxy.ts'), '--port', String(port), '--target', new URL(targetUrl).origin, '--client', client];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const running = track(child, port);
  await waitForPort(port, 15_000, child);
  return running;
}

/** Per feature round: each variant's CPU per request over the plain proxy's, side by side. */
const featureRatios: { flag: string; ratios: Record<string, number>; rps: Record<string, number> }[] = [];

/**
 * A fresh plain proxyrunner and one per variant of the feature, all serving at once (the
 * clients shared out). Warm-up is at least 5 s: long enough for Cedar's WebAssembly to reach
 * its optimized tier and for the verified-token cache to hold every client's token.
 */
async function featureRound(flag: string, upstreamUrl: string, extra: string[]): Promise<(typeof featureRatios)[number]> {
  const base = ['--transport', 'streamable-http', '--target-url', upstreamUrl, '--log-level', 'warn', ...extra];
  const variants = FEATURES[flag] ?? [];
  const setups: FeatureSetup[] = [];
  const proxies = [await startProxy(base)];
  try {
    for (const variant of variants) {
      const setup = await variant.setup();
      setups.push(setup);
      proxies.push(await startProxy([...base, ...setup.proxyArgs]));
    }
    const labels = ['off', ...variants.map((v) => v.label)];
    const targets: Target[] = proxies.map((p, i) => ({
      url: p.mcpUrl,
      label: labels[i] as string,
      pid: p.child.pid,
      ...(i > 0 ? { headers: setups[i - 1]?.headers, tool: setups[i - 1]?.tool } : {}),
    }));
    const results = await toolCallLoad(targets, Math.ceil(concurrency / targets.length), { warmupSeconds: Math.max(warmup, 5), seconds });
    const off = results[0] as Result;
    const ratios: Record<string, number> = {};
    const rps: Record<string, number> = { off: off.rps };
    for (const r of results.slice(1)) {
      ratios[r.target] = (r.cpuUsPerRequest ?? NaN) / (off.cpuUsPerRequest ?? NaN);
      rps[r.target] = r.rps;
    }
    console.log(
      `  --${flag}: ${results.map((r) => `${r.target} ${(r.cpuUsPerRequest ?? NaN).toFixed(0)} µs/req (${r.rps.toFixed(0)} req/s, errors ${r.errors})`).join('   ')}   ${Object.entries(
        ratios,
      )
        .map(([label, x]) => `${label}/off ×${x.toFixed(2)}`)
        .join('  ')}`,
    );
    return { flag, ratios, rps };
  } finally {
    for (const proxy of proxies) await proxy.stop();
    for (const setup of setups) await setup.close();
  }
}

// everything: server-everything (the default, as in the reference measurement);
// echo: the lean SDK server from test/fixtures, which makes the proxy's share larger.
async function main(): Promise<void> {
  const extra = values['proxy-args'] ? values['proxy-args'].split(' ') : [];
  if (values['memory-limit']) extra.push('--memory-limit', values['memory-limit']);
  console.log(
    `bench:proxy  upstream=${values.upstream}  concurrency=${concurrency}  ${seconds}s x ${rounds} rounds (after ${warmup}s warm-up)  proxy: sessions tracked, metrics on${extra.length ? ' ' + extra.join(' ') : ', V8 default heap'}`,
  );
  const direct: Result[] = [];
  const proxied: Result[] = [];
  const naive: Result[] = [];
  const naiveUndici: Result[] = [];
  const sideBySide: { proxy: Result; naive: Result; naiveUndici?: Result }[] = [];
  for (let round = 1; round <= rounds; round++) {
    const upstream: Running = values.upstream === 'everything' ? await startEverything('streamableHttp') : await startEchoServer();
    const upstreamUrl = `http://127.0.0.1:${upstream.port}/mcp`;
    const proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstreamUrl, '--log-level', 'warn', ...extra]);
    const naiveProxy = await startNaive(upstreamUrl, 'http');
    const undiciProxy = values.undici ? await startNaive(upstreamUrl, 'undici') : undefined;
    try {
      const proxyTarget: Target = { url: proxy.mcpUrl, label: 'proxy', pid: proxy.child.pid };
      const naiveTarget: Target = { url: `http://127.0.0.1:${naiveProxy.port}/mcp`, label: 'naive', pid: naiveProxy.child.pid };
      const runs = [
        async (): Promise<void> => void direct.push(...(await load([{ url: upstreamUrl, label: 'direct' }], concurrency))),
        async (): Promise<void> => void proxied.push(...(await load([proxyTarget], concurrency))),
        async (): Promise<void> => void naive.push(...(await load([naiveTarget], concurrency))),
      ];
      const undiciTarget: Target | undefined = undiciProxy && { url: `http://127.0.0.1:${undiciProxy.port}/mcp`, label: 'undici', pid: undiciProxy.child.pid };
      if (undiciTarget) runs.push(async (): Promise<void> => void naiveUndici.push(...(await load([undiciTarget], concurrency))));
      // Rotate the order each round: the upstream slows as it fills, so no target always goes last.
      for (let i = 0; i < runs.length; i++) await (runs[(i + round - 1) % runs.length] as () => Promise<void>)();
      // Then all proxies at once, the clients shared out: the same load on the machine for each.
      const together = [proxyTarget, naiveTarget, ...(undiciTarget ? [undiciTarget] : [])];
      const [p, n, u] = await load(together, Math.ceil(concurrency / together.length));
      sideBySide.push({ proxy: p as Result, naive: n as Result, ...(u ? { naiveUndici: u } : {}) });
      for (const flag of features) featureRatios.push(await featureRound(flag, upstreamUrl, extra));
    } finally {
      await undiciProxy?.stop();
      await naiveProxy.stop();
      await proxy.stop();
      await upstream.stop();
    }
  }
  const median = (list: Result[], key: 'rps' | 'p50' | 'p99' | 'cpuUsPerRequest'): number => {
    const sorted = list.map((r) => r[key] ?? NaN).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] as number;
  };
  const row = (name: string, list: Result[]): string =>
    `${name.padEnd(8)} ${median(list, 'rps').toFixed(0).padStart(9)} ${median(list, 'p50').toFixed(2).padStart(9)} ${median(list, 'p99').toFixed(2).padStart(9)} ${String(list.reduce((n, r) => n + r.errors, 0)).padStart(7)}`;
  console.log('\ntarget       req/s   p50(ms)   p99(ms)  errors');
  console.log(row('direct', direct));
  console.log(row('proxy', proxied));
  console.log(row('naive', naive));
  if (naiveUndici.length > 0) console.log(row('undici', naiveUndici));
  for (const r of [...direct, ...proxied, ...naive, ...naiveUndici]) {
    const cpu = r.cpuUsPerRequest === undefined ? '' : `  proxy cpu ${r.cpuUsPerRequest.toFixed(0)} µs/req`;
    console.log(`  run ${r.target.padEnd(6)} ${r.rps.toFixed(0)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  errors ${r.errors}${cpu}`);
  }
  const cpuOf = (r: Result): number => r.cpuUsPerRequest ?? NaN;
  const medianOf = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const together = values.undici ? 3 : 2;
  console.log(`\nside by side (all serving at the same moment, ${Math.ceil(concurrency / together)} clients each): CPU per request`);
  for (const { proxy: p, naive: n, naiveUndici: u } of sideBySide) {
    const undici = u ? `   undici ${cpuOf(u).toFixed(0)} µs/req (${u.rps.toFixed(0)} req/s)   undici/naive ${(cpuOf(u) / cpuOf(n)).toFixed(2)}` : '';
    console.log(
      `  proxy ${cpuOf(p).toFixed(0)} µs/req (${p.rps.toFixed(0)} req/s)   naive ${cpuOf(n).toFixed(0)} µs/req (${n.rps.toFixed(0)} req/s)   proxy/naive ${(cpuOf(p) / cpuOf(n)).toFixed(2)}${undici}`,
    );
  }
  const sideRatio = medianOf(sideBySide.map(({ proxy: p, naive: n }) => cpuOf(p) / cpuOf(n)));
  const undiciRatios = sideBySide.flatMap(({ naive: n, naiveUndici: u }) => (u ? [cpuOf(u) / cpuOf(n)] : []));
  const undiciRatio = undiciRatios.length > 0 ? medianOf(undiciRatios) : undefined;
  console.log(`  median proxy/naive CPU per request: ${sideRatio.toFixed(2)}${undiciRatio === undefined ? '' : `; undici/naive: ${undiciRatio.toFixed(2)}`}`);
  const summary = {
    concurrency,
    direct_rps: Math.round(median(direct, 'rps')),
    proxy_rps: Math.round(median(proxied, 'rps')),
    throughput_ratio: Number((median(proxied, 'rps') / median(direct, 'rps')).toFixed(3)),
    direct_p50_ms: Number(median(direct, 'p50').toFixed(2)),
    proxy_p50_ms: Number(median(proxied, 'p50').toFixed(2)),
    direct_p99_ms: Number(median(direct, 'p99').toFixed(2)),
    proxy_p99_ms: Number(median(proxied, 'p99').toFixed(2)),
    added_p99_ms: Number((median(proxied, 'p99') - median(direct, 'p99')).toFixed(2)),
    proxy_cpu_us_per_request: Math.round(median(proxied, 'cpuUsPerRequest')),
    naive_rps: Math.round(median(naive, 'rps')),
    naive_throughput_ratio: Number((median(naive, 'rps') / median(direct, 'rps')).toFixed(3)),
    naive_p99_ms: Number(median(naive, 'p99').toFixed(2)),
    naive_added_p99_ms: Number((median(naive, 'p99') - median(direct, 'p99')).toFixed(2)),
    naive_cpu_us_per_request: Math.round(median(naive, 'cpuUsPerRequest')),
    side_by_side_cpu_ratio: Number(sideRatio.toFixed(2)),
    ...(naiveUndici.length > 0
      ? {
          undici_rps: Math.round(median(naiveUndici, 'rps')),
          undici_added_p99_ms: Number((median(naiveUndici, 'p99') - median(direct, 'p99')).toFixed(2)),
          undici_cpu_us_per_request: Math.round(median(naiveUndici, 'cpuUsPerRequest')),
          side_by_side_undici_cpu_ratio: Number((undiciRatio as number).toFixed(2)),
        }
      : {}),
    errors: [
      ...direct,
      ...proxied,
      ...naive,
      ...naiveUndici,
      ...sideBySide.flatMap((x) => [x.proxy, x.naive, ...(x.naiveUndici ? [x.naiveUndici] : [])]),
    ].reduce((n, r) => n + r.errors, 0),
  };
  const featureSummary: Record<string, { cpu_ratio: number; cpu_ratio_range: [number, number] }> = {};
  for (const flag of features) {
    const rounds = featureRatios.filter((f) => f.flag === flag);
    console.log(`\n--${flag}, side by side with a plain proxyrunner (${rounds.length} rounds): CPU per request vs off`);
    for (const variant of FEATURES[flag] ?? []) {
      const xs = rounds.map((r) => r.ratios[variant.label] ?? NaN);
      const entry = {
        cpu_ratio: Number(medianOf(xs).toFixed(2)),
        cpu_ratio_range: [Number(Math.min(...xs).toFixed(2)), Number(Math.max(...xs).toFixed(2))] as [number, number],
      };
      featureSummary[`${flag}:${variant.label}`] = entry;
      console.log(
        `  ${variant.label.padEnd(12)} ×${entry.cpu_ratio.toFixed(2)} (×${entry.cpu_ratio_range[0].toFixed(2)} – ×${entry.cpu_ratio_range[1].toFixed(2)})`,
      );
    }
  }
  if (features.length > 0) Object.assign(summary, { features: featureSummary });
  if (values.json) (await import('node:fs')).writeFileSync(values.json, JSON.stringify(summary, null, 2));
  console.log('\n' + JSON.stringify(summary));
}

/** An OTLP/HTTP endpoint that accepts every export and discards it (counts requests and bytes). */
async function startOtlpSink(): Promise<{ url: string; exports: () => number; bytes: () => number; close(): void }> {
  let exports = 0;
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, exports: () => exports, bytes: () => bytes, close: () => server.close() };
}

async function tracingMain(): Promise<void> {
  const extra = values['proxy-args'] ? values['proxy-args'].split(' ') : [];
  if (values['memory-limit']) extra.push('--memory-limit', values['memory-limit']);
  const churn = Number(values.churn);
  console.log(`bench:proxy --tracing  upstream=${values.upstream}  ${concurrency} clients shared by both  ${seconds}s x ${rounds} rounds  ${extra.join(' ')}`);
  const sink = await startOtlpSink();
  const ratios: number[] = [];
  const rows: { off: Result; on: Result }[] = [];
  let churnRss: number[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const upstream: Running = values.upstream === 'everything' ? await startEverything('streamableHttp') : await startEchoServer();
      const upstreamUrl = `http://127.0.0.1:${upstream.port}/mcp`;
      const base = ['--transport', 'streamable-http', '--target-url', upstreamUrl, '--log-level', 'warn', ...extra];
      const off = await startProxy(base);
      const on = await startProxy([...base, '--otel-endpoint', sink.url, '--otel-sampling-rate', '1', '--otel-service-name', 'bench']);
      try {
        const targets: Target[] = [
          { url: off.mcpUrl, label: 'off', pid: off.child.pid },
          { url: on.mcpUrl, label: 'on', pid: on.child.pid },
        ];
        // Alternate which one the clients list first.
        const ordered = round % 2 === 0 ? [...targets].reverse() : targets;
        const results = await load(ordered, Math.ceil(concurrency / 2));
        const offResult = results.find((r) => r.target === 'off') as Result;
        const onResult = results.find((r) => r.target === 'on') as Result;
        rows.push({ off: offResult, on: onResult });
        ratios.push((onResult.cpuUsPerRequest as number) / (offResult.cpuUsPerRequest as number));
        if (round === rounds) churnRss = await churnRssOf(on, churn);
      } finally {
        await on.stop();
        await off.stop();
        await upstream.stop();
      }
    }
  } finally {
    sink.close();
  }
  console.log('\nside by side: CPU per request, tracing off vs on (sampling 1.0)');
  for (const { off, on } of rows) {
    console.log(
      `  off ${(off.cpuUsPerRequest as number).toFixed(0)} µs/req (${off.rps.toFixed(0)} req/s, p99 ${off.p99.toFixed(2)} ms)   on ${(on.cpuUsPerRequest as number).toFixed(0)} µs/req (${on.rps.toFixed(0)} req/s, p99 ${on.p99.toFixed(2)} ms)   on/off ${((on.cpuUsPerRequest as number) / (off.cpuUsPerRequest as number)).toFixed(2)}   errors ${off.errors + on.errors}`,
    );
  }
  const medianRatio = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)] as number;
  console.log(
    `  median on/off CPU per request: ${medianRatio.toFixed(2)}x   (OTLP exports received: ${sink.exports()}, ${(sink.bytes() / 2 ** 20).toFixed(1)} MiB)`,
  );
  console.log(`\nRSS of the traced proxy over ${churn} sessions (initialize → tools/call → DELETE), MiB: ${churnRss.map((r) => r.toFixed(1)).join(' → ')}`);
  const summary = {
    tracing_cpu_ratio: Number(medianRatio.toFixed(2)),
    off_cpu_us_per_request: rows.map((r) => Math.round(r.off.cpuUsPerRequest as number)),
    on_cpu_us_per_request: rows.map((r) => Math.round(r.on.cpuUsPerRequest as number)),
    churn_rss_mib: churnRss.map((r) => Number(r.toFixed(1))),
    errors: rows.reduce((n, r) => n + r.off.errors + r.on.errors, 0),
  };
  if (values.json) (await import('node:fs')).writeFileSync(values.json, JSON.stringify(summary, null, 2));
  console.log('\n' + JSON.stringify(summary));
}

/** Session churn against one proxy, RSS sampled after every tenth of it. */
async function churnRssOf(proxy: { mcpUrl: string; child: { pid?: number | undefined } }, sessions: number): Promise<number[]> {
  const pid = proxy.child.pid as number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const client = new McpHttpClient(proxy.mcpUrl, agent);
  const samples = [rssMiB(pid)];
  const step = Math.max(1, Math.floor(sessions / 10));
  let done = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < sessions) {
      next++;
      const sessionId = await client.initialize();
      await client.request('POST', toolCall(2, 'echo', { message: 'churn' }), sessionId);
      await client.request('DELETE', undefined, sessionId);
      done++;
      if (done % step === 0) samples.push(rssMiB(pid));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, 20) }, worker));
  agent.destroy();
  return samples;
}

if (values.tracing) await tracingMain();
else await main();
