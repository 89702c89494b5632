// Issue 14 item 2: three real proxyrunners share one real redis-server in front of one
// streamable-HTTP upstream (the SDK echo server). Create on A, use on B, DELETE on C: every
// replica and the fleet gauge agree, and sum() over the replicas of the counters is exact.
// Redis SIGKILLed and restarted mid-run: clear 503s and not-ready, then full recovery with
// nothing double-counted. The cap and idle expiry apply to the fleet.
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { INIT_BODY, McpHttpClient, toolCall } from '../support/mcpHttp.ts';
import { eventually, scrape } from '../support/metrics.ts';
import { startEchoServer, startProxy, type ProxyProcess, type Running } from '../support/processes.ts';
import { startRedis, type RedisServer } from '../support/redis.ts';

jest.setTimeout(60_000);

const agent = new http.Agent({ keepAlive: true });
const cleanups: (() => Promise<void>)[] = [];
let prefix = '';
let redis: RedisServer;
let upstream: Running;
beforeAll(async () => {
  redis = await startRedis();
  upstream = await startEchoServer();
});
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});
afterAll(async () => {
  agent.destroy();
  await upstream?.stop();
  await redis?.stop();
});

async function fleetOf(n: number, extra: string[] = []): Promise<ProxyProcess[]> {
  prefix = `t-${randomUUID().slice(0, 8)}`; // each test its own table in the shared Redis
  const args = [
    '--transport',
    'streamable-http',
    '--target-url',
    `http://127.0.0.1:${upstream.port}/mcp`,
    '--session-storage',
    'redis',
    '--redis-address',
    redis.address,
    '--redis-key-prefix',
    prefix,
    ...extra,
  ];
  const proxies = await Promise.all(Array.from({ length: n }, () => startProxy(args)));
  for (const proxy of proxies) cleanups.push(() => proxy.stop());
  for (const proxy of proxies) await eventually(async () => expect(await ready(proxy)).toBe(200));
  return proxies;
}

async function ready(proxy: ProxyProcess): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${proxy.metricsPort}/readyz`);
  await res.text();
  return res.status;
}

/** sum() over the replicas, as Prometheus would compute it. */
async function summed(proxies: ProxyProcess[], name: string, labels: Record<string, string> = {}): Promise<number> {
  let total = 0;
  for (const proxy of proxies) total += (await scrape(proxy.metricsUrl)).value(name, labels) ?? 0;
  return total;
}

async function fleetCounts(proxies: ProxyProcess[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {
    created: await summed(proxies, 'mcpfleet_proxy_sessions_created_total'),
    fleetActive: await summed(proxies, 'mcpfleet_proxy_fleet_sessions_active'),
  };
  for (const reason of ['client_delete', 'upstream_not_found', 'idle_timeout', 'evicted']) {
    counts[reason] = await summed(proxies, 'mcpfleet_proxy_sessions_closed_total', { reason });
  }
  return counts;
}

const client = (proxy: ProxyProcess): McpHttpClient => new McpHttpClient(proxy.mcpUrl, agent);

describe('--session-storage redis: three replicas, one session table', () => {
  it('create on A, use on B, DELETE on C: every replica and the fleet gauge agree, counted once', async () => {
    const [a, b, c] = (await fleetOf(3)) as [ProxyProcess, ProxyProcess, ProxyProcess];
    const id = await client(a).initialize();
    expect(await fleetCounts([a, b, c])).toEqual({ created: 1, fleetActive: 1, client_delete: 0, upstream_not_found: 0, idle_timeout: 0, evicted: 0 });
    const used = await client(b).request('POST', toolCall(2, 'echo', { message: 'via B' }), id);
    expect(used.status).toBe(200);
    expect(used.body).toContain('via B');
    expect((await scrape(b.metricsUrl)).value('mcpfleet_proxy_sessions_active')).toBe(1); // B now holds a copy
    expect((await client(c).request('DELETE', undefined, id)).status).toBe(200);
    expect(await fleetCounts([a, b, c])).toEqual({ created: 1, fleetActive: 0, client_delete: 1, upstream_not_found: 0, idle_timeout: 0, evicted: 0 });
    // Every replica dropped its copy (pub/sub), so A and B answer as for any unknown session.
    await eventually(async () => {
      for (const proxy of [a, b, c]) expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_active')).toBe(0);
    });
    expect((await client(b).request('POST', toolCall(3, 'echo', { message: 'x' }), id)).status).toBe(404);
    expect((await client(a).request('DELETE', undefined, id)).status).toBe(404);
    expect(await fleetCounts([a, b, c])).toEqual({ created: 1, fleetActive: 0, client_delete: 1, upstream_not_found: 0, idle_timeout: 0, evicted: 0 });
    expect(redis.cli('ZCARD', `${prefix}:sessions`)).toBe('0');
  });

  it("the cap is the fleet's: the least recently used session anywhere is evicted, once", async () => {
    const proxies = await fleetOf(3, ['--max-sessions', '2']);
    const ids: string[] = [];
    for (const proxy of proxies) ids.push(await client(proxy).initialize());
    expect(await fleetCounts(proxies)).toEqual({ created: 3, fleetActive: 2, client_delete: 0, upstream_not_found: 0, idle_timeout: 0, evicted: 1 });
    // The evicted one (the first) is gone everywhere; the other two still work through any replica.
    expect((await client(proxies[2] as ProxyProcess).request('POST', toolCall(2, 'echo', { message: 'x' }), ids[0])).status).toBe(404);
    for (const id of ids.slice(1))
      expect((await client(proxies[0] as ProxyProcess).request('POST', toolCall(2, 'echo', { message: 'x' }), id)).status).toBe(200);
  });

  it("idle expiry is the fleet's: a session idle on every replica ends once", async () => {
    const proxies = await fleetOf(3, ['--session-idle-timeout', '1s']);
    const id = await client(proxies[0] as ProxyProcess).initialize();
    await client(proxies[1] as ProxyProcess).request('POST', toolCall(2, 'echo', { message: 'x' }), id);
    await eventually(async () => expect(await summed(proxies, 'mcpfleet_proxy_sessions_closed_total', { reason: 'idle_timeout' })).toBe(1), 10_000);
    await new Promise((r) => setTimeout(r, 1_500)); // several more sweeps on every replica
    expect(await fleetCounts(proxies)).toEqual({ created: 1, fleetActive: 0, client_delete: 0, upstream_not_found: 0, idle_timeout: 1, evicted: 0 });
  });

  it('Redis killed and restarted mid-run: clear 503s and not ready, then recovery, counts exact', async () => {
    const [a, b, c] = (await fleetOf(3)) as [ProxyProcess, ProxyProcess, ProxyProcess];
    const before = await client(a).initialize();
    expect((await client(b).request('POST', toolCall(2, 'echo', { message: 'x' }), before)).status).toBe(200);
    await redis.kill();
    for (const proxy of [a, b, c]) await eventually(async () => expect(await ready(proxy)).toBe(503));
    const refused = await client(c).request('POST', toolCall(3, 'echo', { message: 'x' }), before);
    expect(refused.status).toBe(503);
    expect(refused.body).toContain('Session store unavailable');
    expect((await client(b).request('POST', toolCall(4, 'echo', { message: 'x' }), before)).status).toBe(503); // a local copy too: a DELETE elsewhere may have been missed
    expect(
      (
        await client(a).request(
          'POST',
          '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}',
        )
      ).status,
    ).toBe(503);
    expect(await summed([a, b, c], 'mcpfleet_proxy_requests_rejected_total', { reason: 'session_store_unavailable' })).toBe(3);
    expect(await summed([a, b, c], 'mcpfleet_proxy_session_store_up')).toBe(0);
    await redis.restart();
    for (const proxy of [a, b, c]) await eventually(async () => expect(await ready(proxy)).toBe(200), 15_000);
    expect(await summed([a, b, c], 'mcpfleet_proxy_session_store_up')).toBe(3);
    expect((await client(c).request('POST', toolCall(5, 'echo', { message: 'back' }), before)).status).toBe(200);
    const after = await client(b).initialize();
    expect((await client(a).request('DELETE', undefined, before)).status).toBe(200);
    expect((await client(c).request('DELETE', undefined, after)).status).toBe(200);
    expect(await fleetCounts([a, b, c])).toEqual({ created: 2, fleetActive: 0, client_delete: 2, upstream_not_found: 0, idle_timeout: 0, evicted: 0 });
    expect(await summed([a, b, c], 'mcpfleet_proxy_session_store_errors_total')).toBeGreaterThan(0);
  });

  it('the cap and idle expiry together across replicas: each session ends once, by one reason, and a session in use lives on', async () => {
    const proxies = await fleetOf(3, ['--max-sessions', '3', '--session-idle-timeout', '3s']);
    const ids: string[] = [];
    // Five sessions round-robin over the replicas against a fleet cap of 3: the two oldest go.
    for (let i = 0; i < 5; i++) ids.push(await client(proxies[i % 3] as ProxyProcess).initialize());
    expect(await fleetCounts(proxies)).toEqual({ created: 5, fleetActive: 3, client_delete: 0, upstream_not_found: 0, idle_timeout: 0, evicted: 2 });
    // Keep the newest busy through a replica other than its own, let the other two idle out.
    const kept = ids[4] as string;
    let keeping = true;
    let call = 10;
    const statuses: number[] = [];
    const keepAlive = (async () => {
      while (keeping) {
        statuses.push((await client(proxies[call % 2] as ProxyProcess).request('POST', toolCall(call++, 'echo', { message: 'busy' }), kept)).status);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    try {
      await eventually(async () => expect(await summed(proxies, 'mcpfleet_proxy_sessions_closed_total', { reason: 'idle_timeout' })).toBe(2), 20_000);
    } finally {
      keeping = false;
      await keepAlive;
    }
    expect(new Set(statuses)).toEqual(new Set([200]));
    for (const id of ids.slice(0, 4))
      expect((await client(proxies[2] as ProxyProcess).request('POST', toolCall(99, 'echo', { message: 'x' }), id)).status).toBe(404);
    expect(await fleetCounts(proxies)).toEqual({ created: 5, fleetActive: 1, client_delete: 0, upstream_not_found: 0, idle_timeout: 2, evicted: 2 });
    expect((await client(proxies[1] as ProxyProcess).request('DELETE', undefined, kept)).status).toBe(200);
    expect(await fleetCounts(proxies)).toEqual({ created: 5, fleetActive: 0, client_delete: 1, upstream_not_found: 0, idle_timeout: 2, evicted: 2 });
  });

  it('Redis killed and restarted while clients churn sessions through every replica: only clear 503s, then every session completes, counts exact', async () => {
    const proxies = await fleetOf(3);
    const statuses = new Map<number, number>();
    const unclear: string[] = [];
    let completed = 0;
    let stopping = false;
    const note = (status: number, body: string): void => {
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === 503 && !body.includes('Session store unavailable')) unclear.push(body.slice(0, 200));
    };
    /** Sends until it is answered `want` (503 while Redis is down is the only other answer allowed). */
    const until = async (want: number, send: () => Promise<{ status: number; body: string; sessionId?: string | undefined }>) => {
      for (;;) {
        const res = await send();
        note(res.status, res.body);
        if (res.status === want) return res;
        if (res.status !== 503) throw new Error(`unexpected HTTP ${res.status}: ${res.body.slice(0, 200)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const loop = async (worker: number): Promise<void> => {
      for (let round = 0; !stopping; round++) {
        // initialize on one replica, use on the next, DELETE on the third
        const [p, q, r] = [0, 1, 2].map((k) => client(proxies[(worker + round + k) % 3] as ProxyProcess)) as [McpHttpClient, McpHttpClient, McpHttpClient];
        const init = await until(200, () => p.request('POST', INIT_BODY));
        const id = init.sessionId as string;
        await until(202, () => q.request('POST', JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), id));
        const used = await until(200, () => q.request('POST', toolCall(2, 'echo', { message: `w${worker}` }), id));
        expect(used.body).toContain(`Echo: w${worker}`);
        await until(200, () => r.request('DELETE', undefined, id));
        completed++;
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => loop(w));
    await eventually(async () => expect(completed).toBeGreaterThanOrEqual(20), 20_000);
    await redis.kill();
    for (const proxy of proxies) await eventually(async () => expect(await ready(proxy)).toBe(503), 15_000);
    await eventually(async () => expect(statuses.get(503) ?? 0).toBeGreaterThanOrEqual(6), 15_000);
    const atRestart = completed;
    await redis.restart();
    for (const proxy of proxies) await eventually(async () => expect(await ready(proxy)).toBe(200), 15_000);
    await eventually(async () => expect(completed).toBeGreaterThanOrEqual(atRestart + 20), 30_000);
    stopping = true;
    await Promise.all(workers);
    expect(unclear).toEqual([]);
    expect([...statuses.keys()].sort()).toEqual([200, 202, 503]);
    // Every session was created once and ended once, by its client's DELETE, whatever replica and whenever Redis was down.
    expect(await fleetCounts(proxies)).toEqual({
      created: completed,
      fleetActive: 0,
      client_delete: completed,
      upstream_not_found: 0,
      idle_timeout: 0,
      evicted: 0,
    });
    expect(redis.cli('ZCARD', `${prefix}:sessions`)).toBe('0');
    await eventually(async () => {
      for (const proxy of proxies) expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_active')).toBe(0);
    });
  }, 120_000);
});
