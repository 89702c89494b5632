// Session churn across a fleet sharing Redis (issue 14): N initialize → DELETE sessions
// round-robin over R proxyrunners (--session-storage redis, a real redis-server), every
// DELETE through a different replica than its initialize. Measures each proxy's RSS
// (after a warm-up of min(20,000, N/10) sessions, as bench:churn's "growth 20k→200k", and at
// the end: flat under churn means growth < 5 MiB), Redis
// used_memory (INFO memory) before and after, the counters summed over the replicas (must
// equal the sessions churned, exactly), the fleet gauge at the end (0), and, in the same
// run, the throughput of one in-memory proxy doing the same churn, for comparison.
//
//   npm run bench:churn -- --replicas 3 --store redis [--sessions 200000] [--concurrency 50]
//   node bench/fleetChurn.ts [sessions=20000]         (the same, with defaults)
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { McpHttpClient } from '../test/support/mcpHttp.ts';
import { scrape } from '../test/support/metrics.ts';
import { startEchoServer, startProxy, type ProxyProcess } from '../test/support/processes.ts';
import { startRedis } from '../test/support/redis.ts';
import { REMOVED_TTL_MS } from '../proxyrunner/src/sessions/store.ts';

export interface FleetChurnOptions {
  sessions: number;
  replicas: number;
  concurrency: number;
  memoryLimit: string;
  /** Sessions churned through the one in-memory proxy of the comparison (default: min(sessions, 50,000)). */
  baselineSessions?: number;
  /** Progress lines every this many sessions (0: none). */
  progressEvery?: number;
}

export interface FleetChurnResult {
  sessions: number;
  replicas: number;
  seconds: number;
  sessions_per_second: number;
  rss_mib_start: number[];
  rss_mib_peak: number[];
  rss_mib_end: number[];
  rss_mib_growth: number[];
  redis_used_memory_start: number;
  redis_used_memory_end: number;
  redis_keys_end: number;
  /** Churned before the measured run (not in the figures below; the counters minus these). */
  warm_up_sessions: number;
  created_total_summed: number;
  closed_client_delete_summed: number;
  closed_other_summed: number;
  fleet_sessions_active_end: number;
  failed: number;
  baseline_memory_sessions: number;
  baseline_memory_sessions_per_second: number;
}

/** RSS of a live process; NaN once it has exited (the exit itself is reported where it happens). */
const rssMiB = (pid: number): number => {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return Number.NaN;
  }
};
const round = (v: number): number => Number(v.toFixed(1));

/** initialize on replica i, DELETE on replica i+1 (a different one whenever there are several). */
async function churn(clients: McpHttpClient[], count: number, concurrency: number, onProgress?: (done: number) => void): Promise<number> {
  let next = 0;
  let done = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        try {
          const id = await (clients[i % clients.length] as McpHttpClient).initialize();
          const res = await (clients[(i + 1) % clients.length] as McpHttpClient).request('DELETE', undefined, id);
          if (res.status !== 200) {
            failed++;
            if (failed <= 5) console.error(`DELETE answered HTTP ${res.status}: ${res.body.slice(0, 200)}`);
          }
        } catch (err) {
          failed++;
          // Which step and why, for the first few: a failure must be explainable.
          if (failed <= 5) console.error(`session ${i} failed: ${(err as Error).message.slice(0, 300)}`);
        }
        onProgress?.(++done);
      }
    }),
  );
  return failed;
}

async function summed(proxies: ProxyProcess[]): Promise<{ created: number; clientDelete: number; other: number; fleet: number }> {
  const out = { created: 0, clientDelete: 0, other: 0, fleet: 0 };
  for (const p of proxies) {
    const m = await scrape(p.metricsUrl);
    out.created += m.value('mcpfleet_proxy_sessions_created_total') ?? 0;
    out.clientDelete += m.value('mcpfleet_proxy_sessions_closed_total', { reason: 'client_delete' }) ?? 0;
    for (const reason of ['upstream_not_found', 'idle_timeout', 'evicted', 'upstream_closed'])
      out.other += m.value('mcpfleet_proxy_sessions_closed_total', { reason }) ?? 0;
    out.fleet += m.value('mcpfleet_proxy_fleet_sessions_active') ?? 0;
  }
  return out;
}

export async function runFleetChurn(options: FleetChurnOptions): Promise<FleetChurnResult> {
  const redis = await startRedis();
  const upstream = await startEchoServer();
  const base = ['--transport', 'streamable-http', '--target-url', `http://127.0.0.1:${upstream.port}/mcp`, '--memory-limit', options.memoryLimit];
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency * 2 });
  const stops: (() => Promise<void>)[] = [() => redis.stop(), () => upstream.stop()];
  let stopping = false; // set before the bench stops the proxies itself
  const warmUp = Math.max(500, Math.min(20_000, Math.floor(options.sessions / 10)));
  try {
    // One after another: started together on a loaded machine, they can miss startProxy's deadline.
    const proxies: ProxyProcess[] = [];
    for (let i = 0; i < options.replicas; i++) {
      const proxy = await startProxy([...base, '--session-storage', 'redis', '--redis-address', redis.address, '--log-level', 'warn']);
      // A proxy that exits during the bench is the finding: say so at once, with its log.
      proxy.child.once('exit', (code, signal) => {
        if (!stopping) process.stdout.write(`  proxy ${i} EXITED (code ${code}, signal ${signal}); its log (last 4 KiB):\n${proxy.stderr().slice(-4096)}\n`);
      });
      stops.unshift(() => proxy.stop());
      proxies.push(proxy);
    }
    const clients = proxies.map((p) => new McpHttpClient(p.mcpUrl, agent));
    const pids = proxies.map((p) => p.child.pid as number);
    const redisMemory = (): number => Number(/used_memory:(\d+)/.exec(redis.cli('INFO', 'memory'))?.[1]);

    let failed = await churn(clients, warmUp, options.concurrency);
    await new Promise((r) => setTimeout(r, 2_000));
    const rssStart = pids.map(rssMiB);
    const peak = [...rssStart];
    const peakTimer = setInterval(() => pids.forEach((pid, i) => (peak[i] = Math.max(peak[i] as number, rssMiB(pid)))), 250);
    const redisStart = redisMemory();
    const started = performance.now();
    const every = options.progressEvery ?? 0;
    failed += await churn(clients, options.sessions, options.concurrency, (done) => {
      if (every > 0 && done % every === 0) {
        const secs = (performance.now() - started) / 1000;
        process.stdout.write(
          `  redis x${options.replicas} ${String(done).padStart(7)} sessions  ${secs.toFixed(1).padStart(6)} s  rss ${pids.map((pid) => rssMiB(pid).toFixed(1)).join(' / ')} MiB\n`,
        );
      }
    });
    const seconds = (performance.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 2_000));
    clearInterval(peakTimer);
    const rssEnd = pids.map(rssMiB);
    const counts = await summed(proxies);
    // Each close leaves a tombstone key for REMOVED_TTL_MS (store.ts): read Redis once they are gone.
    const keys = (): number => Number(/keys=(\d+)/.exec(redis.cli('INFO', 'keyspace'))?.[1] ?? 0);
    for (const until = Date.now() + REMOVED_TTL_MS + 10_000; keys() > 1 && Date.now() < until;) await new Promise((r) => setTimeout(r, 1_000));
    const redisEnd = redisMemory();
    const keysEnd = keys();
    // A failed session is a finding, not noise: show what each proxy logged (warn and above).
    if (failed > 0) {
      proxies.forEach((p, i) => process.stdout.write(`  proxy ${i} log (last 4 KiB):\n${p.stderr().slice(-4096) || '  (nothing)'}\n`));
      process.stdout.write(`  echo upstream log (last 2 KiB):\n${upstream.stderr().slice(-2048) || '  (nothing)'}\n`);
    }
    stopping = true;
    for (const stop of stops.splice(0, proxies.length)) await stop();

    // The comparison: one proxy, sessions in its own memory, the same churn.
    const baselineSessions = options.baselineSessions ?? Math.min(options.sessions, 50_000);
    const single = await startProxy([...base, '--log-level', 'warn']);
    stops.unshift(() => single.stop());
    const singleClient = [new McpHttpClient(single.mcpUrl, agent)];
    await churn(singleClient, warmUp, options.concurrency);
    const baseStarted = performance.now();
    failed += await churn(singleClient, baselineSessions, options.concurrency);
    const baseSeconds = (performance.now() - baseStarted) / 1000;

    return {
      sessions: options.sessions,
      replicas: options.replicas,
      seconds: round(seconds),
      sessions_per_second: Math.round(options.sessions / seconds),
      rss_mib_start: rssStart.map(round),
      rss_mib_peak: peak.map(round),
      rss_mib_end: rssEnd.map(round),
      rss_mib_growth: rssEnd.map((v, i) => round(v - (rssStart[i] as number))),
      redis_used_memory_start: redisStart,
      redis_used_memory_end: redisEnd,
      redis_keys_end: keysEnd,
      warm_up_sessions: warmUp,
      created_total_summed: counts.created - warmUp,
      closed_client_delete_summed: counts.clientDelete - warmUp,
      closed_other_summed: counts.other,
      fleet_sessions_active_end: counts.fleet,
      failed,
      baseline_memory_sessions: baselineSessions,
      baseline_memory_sessions_per_second: Math.round(baselineSessions / baseSeconds),
    };
  } finally {
    stopping = true;
    agent.destroy();
    for (const stop of stops) await stop();
  }
}

if (import.meta.main) {
  const result = await runFleetChurn({ sessions: Number(process.argv[2] ?? 20_000), replicas: 3, concurrency: 16, memoryLimit: '128Mi' });
  console.log(JSON.stringify(result));
}
