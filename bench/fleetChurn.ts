// Session churn across a fleet sharing Redis (issue 14 item 2, a short form of the issue's
// bench): N initialize → DELETE sessions round-robin over 3 proxyrunners
// (--session-storage redis), every DELETE through a different replica than its
// initialize. Prints each proxy's RSS before/after, Redis used_memory before/after, the
// summed counters and the fleet gauge. Usage: node bench/fleetChurn.ts [sessions=20000]
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { McpHttpClient } from '../test/support/mcpHttp.ts';
import { scrape } from '../test/support/metrics.ts';
import { startEchoServer, startProxy } from '../test/support/processes.ts';
import { startRedis } from '../test/support/redis.ts';

const SESSIONS = Number(process.argv[2] ?? 20_000);
const CONCURRENCY = 16;
const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const redis = await startRedis();
const upstream = await startEchoServer();
const args = [
  '--transport',
  'streamable-http',
  '--target-url',
  `http://127.0.0.1:${upstream.port}/mcp`,
  '--session-storage',
  'redis',
  '--redis-address',
  redis.address,
  '--memory-limit',
  '128Mi',
];
const proxies = await Promise.all([0, 1, 2].map(() => startProxy(args)));
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });
const clients = proxies.map((p) => new McpHttpClient(p.mcpUrl, agent));
const redisMemory = (): number => Number(/used_memory:(\d+)/.exec(redis.cli('INFO', 'memory'))?.[1]);

async function churn(count: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < count; i = next++) {
        const id = await clients[i % 3]!.initialize();
        const res = await clients[(i + 1) % 3]!.request('DELETE', undefined, id);
        if (res.status !== 200) throw new Error(`DELETE ${res.status}`);
      }
    }),
  );
}

await churn(500); // warm-up
console.error('warm-up done');
await new Promise((r) => setTimeout(r, 2_000));
const rssBefore = proxies.map((p) => rssMiB(p.child.pid as number));
const redisBefore = redisMemory();
const started = Date.now();
await churn(SESSIONS);
const seconds = (Date.now() - started) / 1000;
await new Promise((r) => setTimeout(r, 2_000));
const rssAfter = proxies.map((p) => rssMiB(p.child.pid as number));
let created = 0;
let closed = 0;
let fleet = 0;
for (const p of proxies) {
  const m = await scrape(p.metricsUrl);
  created += m.value('mcpfleet_proxy_sessions_created_total') ?? 0;
  closed += m.value('mcpfleet_proxy_sessions_closed_total', { reason: 'client_delete' }) ?? 0;
  fleet += m.value('mcpfleet_proxy_fleet_sessions_active') ?? 0;
}
console.log(
  JSON.stringify({
    sessions: SESSIONS,
    sessions_per_second: Math.round(SESSIONS / seconds),
    rss_mib_before: rssBefore.map((v) => Number(v.toFixed(1))),
    rss_mib_after: rssAfter.map((v) => Number(v.toFixed(1))),
    redis_used_memory_before: redisBefore,
    redis_used_memory_after: redisMemory(),
    created_total_summed: created,
    closed_client_delete_summed: closed,
    fleet_sessions_active: fleet,
  }),
);
agent.destroy();
for (const p of proxies) await p.stop();
await upstream.stop();
await redis.stop();
