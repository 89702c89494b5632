// bench:authz — what Cedar authorization and audit cost per request.
//
// 1. End to end, side by side: three proxyrunners in front of one echo server, serving at
//    the same moment under the same tools/call load — authorization off, Cedar on
//    (--authz-config), Cedar and audit on (--audit-file) — each one's CPU per request read
//    from /proc. Running them together makes the machine's swings hit all alike, so the
//    ratios hold even on a busy machine. (No authentication here: the caller is anonymous.)
// 2. In process: the CPU of one authorization decision for a tools/call with a realistic
//    token's claims (groups, scopes, …), uncached (every call a new principal) and cached
//    (the same principal again), and of filtering a 12-tool tools/list; once with policies
//    that read no claim_*/arg_* attributes and once with ones that do (then they are passed
//    to the engine and part of the cache key).
//
//   npm run bench:authz -- [--concurrency 10] [--seconds 8] [--rounds 3]   (--rounds 0: in process only)
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startEchoServer, startProxy, type ProxyProcess } from '../test/support/processes.ts';
import { McpHttpClient, toolCall } from '../test/support/mcpHttp.ts';
import { parseAuthzConfig } from '../proxyrunner/src/authz/config.ts';
import { compilePolicies } from '../proxyrunner/src/authz/engine.ts';
import { createAuthorizer } from '../proxyrunner/src/authz/authorizer.ts';
import { itemOperation } from '../proxyrunner/src/authz/operations.ts';
import { silentLogger } from '../common/log.ts';

const { values } = parseArgs({
  options: { concurrency: { type: 'string', default: '10' }, seconds: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' } },
});
const concurrency = Number(values.concurrency);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);

/** The end-to-end set, which reads claims and arguments (so they are in every query and cache key). */
const POLICIES = [
  'permit(principal, action == Action::"call_tool", resource == Tool::"echo");',
  'permit(principal in THVGroup::"engineering", action == Action::"call_tool", resource) when { resource.name like "deploy*" };',
  'permit(principal in THVGroup::"admins", action, resource);',
  'permit(principal, action == Action::"get_prompt", resource);',
  'permit(principal, action == Action::"read_resource", resource) when { context has claim_scope && context.claim_scope like "*read*" };',
  'forbid(principal, action == Action::"call_tool", resource == Tool::"get-env");',
  'forbid(principal, action, resource) when { context has arg_path && context.arg_path like "/etc/*" };',
  'permit(principal == Client::"ci-bot", action == Action::"call_tool", resource == Tool::"run-tests");',
];
const CONFIG = JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies: POLICIES, entities_json: '[]' } });

const cpuTicks = (pid: number): number => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function sideBySide(proxies: ProxyProcess[]): Promise<{ cpuUs: number; rps: number; errors: number }[]> {
  let stop = false;
  let measuring = false;
  const runs = await Promise.all(
    proxies.map(async (proxy) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
      const client = new McpHttpClient(proxy.mcpUrl, agent);
      const sessions = await Promise.all(Array.from({ length: concurrency }, () => client.initialize()));
      return { proxy, agent, client, sessions, done: 0, errors: 0, ticks: 0 };
    }),
  );
  const workers = runs.flatMap((run) =>
    run.sessions.map(async (sessionId) => {
      let id = 10;
      while (!stop) {
        const res = await run.client.request('POST', toolCall(id++, 'echo', { message: 'bench' }), sessionId);
        if (!measuring) continue;
        if (res.status === 200 && res.body.includes('Echo: bench')) run.done++;
        else run.errors++;
      }
    }),
  );
  // Long enough for the engine's WebAssembly to be compiled to its optimized tier.
  await sleep(5_000);
  for (const run of runs) run.ticks = cpuTicks(run.proxy.child.pid as number);
  measuring = true;
  await sleep(seconds * 1000);
  measuring = false;
  for (const run of runs) run.ticks = cpuTicks(run.proxy.child.pid as number) - run.ticks;
  stop = true;
  await Promise.all(workers);
  for (const run of runs) run.agent.destroy();
  return runs.map((r) => ({ cpuUs: (r.ticks * 10_000) / Math.max(1, r.done), rps: r.done / seconds, errors: r.errors }));
}

/** The same set without the policies that read claim_ or arg_ attributes. */
const PLAIN = POLICIES.filter((p) => !p.includes('claim_') && !p.includes('arg_'));

function inProcess(policies: string[], slot: string): { uncachedUs: number; cachedUs: number; listUncachedUs: number; listCachedUs: number } {
  const compiled = compilePolicies(parseAuthzConfig(JSON.stringify({ type: 'cedarv1', cedar: { policies } })), slot);
  const cached = createAuthorizer(() => compiled, { authzDecision: () => {} }, silentLogger);
  const uncached = createAuthorizer(() => compiled, { authzDecision: () => {} }, silentLogger, 0);
  const principal = {
    subject: 'a1b2c3d4-0000-4000-8000-000000000001',
    claims: {
      iss: 'https://idp.example.com/realms/main',
      sub: 'a1b2c3d4-0000-4000-8000-000000000001',
      aud: ['mcp-weather', 'account'],
      exp: 1_900_000_000,
      iat: 1_899_996_400,
      azp: 'claude-desktop',
      scope: 'openid profile email mcp:read mcp:tools',
      email: 'alice@example.com',
      name: 'Alice Example',
      groups: ['engineering', 'oncall', 'staff', 'berlin', 'platform'],
    },
  };
  const call = itemOperation('tool', 'echo', { message: 'hello', count: 3 });
  const tools = {
    jsonrpc: '2.0' as const,
    id: 1,
    result: { tools: Array.from({ length: 12 }, (_, i) => ({ name: i === 0 ? 'echo' : `tool-${i}`, description: 'x', inputSchema: { type: 'object' } })) },
  };
  const measure = (n: number, fn: () => void): number => {
    for (let i = 0; i < 500; i++) fn();
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / n;
  };
  return {
    uncachedUs: measure(3_000, () => void uncached.decide(principal, call)),
    cachedUs: measure(20_000, () => void cached.decide(principal, call)),
    listUncachedUs: measure(300, () => void uncached.filterList(principal, 'tools/list', tools)),
    listCachedUs: measure(3_000, () => void cached.filterList(principal, 'tools/list', tools)),
  };
}

async function main(): Promise<void> {
  console.log(`bench:authz  ${concurrency} clients per proxy, ${seconds}s x ${rounds} rounds, tools/call echo, ${POLICIES.length} policies`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-authz-'));
  const configFile = path.join(dir, 'authz.json');
  fs.writeFileSync(configFile, CONFIG);
  const ratios: { authz: number; audit: number }[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const upstream = await startEchoServer();
      const target = ['--transport', 'streamable-http', '--target-url', `http://127.0.0.1:${upstream.port}/mcp`, '--log-level', 'warn'];
      const proxies = [
        await startProxy(target),
        await startProxy([...target, '--authz-config', configFile]),
        await startProxy([...target, '--authz-config', configFile, '--audit-file', path.join(dir, `audit-${round}.jsonl`)]),
      ];
      try {
        const [off, authz, audit] = (await sideBySide(proxies)) as [
          { cpuUs: number; rps: number; errors: number },
          { cpuUs: number; rps: number; errors: number },
          { cpuUs: number; rps: number; errors: number },
        ];
        console.log(
          `  round ${round}: off ${off.cpuUs.toFixed(0)} µs/req (${off.rps.toFixed(0)} req/s)   cedar ${authz.cpuUs.toFixed(0)} µs/req (${authz.rps.toFixed(0)} req/s, ×${(authz.cpuUs / off.cpuUs).toFixed(2)})   cedar+audit ${audit.cpuUs.toFixed(0)} µs/req (${audit.rps.toFixed(0)} req/s, ×${(audit.cpuUs / off.cpuUs).toFixed(2)})   errors ${off.errors + authz.errors + audit.errors}`,
        );
        ratios.push({ authz: authz.cpuUs / off.cpuUs, audit: audit.cpuUs / off.cpuUs });
      } finally {
        for (const p of proxies) await p.stop();
        await upstream.stop();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const round1 = (x: number): number => Number(x.toFixed(1));
  const plain = inProcess(PLAIN, 'bench-plain');
  const reading = inProcess(POLICIES, 'bench-reading');
  const summary = {
    cedar_cpu_ratio: ratios.length ? Number(median(ratios.map((r) => r.authz)).toFixed(2)) : null,
    cedar_audit_cpu_ratio: ratios.length ? Number(median(ratios.map((r) => r.audit)).toFixed(2)) : null,
    decision_uncached_us: round1(plain.uncachedUs),
    decision_cached_us: round1(plain.cachedUs),
    list12_uncached_us: round1(plain.listUncachedUs),
    list12_cached_us: round1(plain.listCachedUs),
    attrs_decision_uncached_us: round1(reading.uncachedUs),
    attrs_decision_cached_us: round1(reading.cachedUs),
    attrs_list12_uncached_us: round1(reading.listUncachedUs),
  };
  console.log(`\nmedian CPU per request vs off: cedar ×${summary.cedar_cpu_ratio}, cedar+audit ×${summary.cedar_audit_cpu_ratio}`);
  console.log('in process, CPU µs:            decision uncached / cached   12-tool list uncached / cached');
  console.log(
    `  policies read no claim_/arg_  ${plain.uncachedUs.toFixed(1).padStart(8)} / ${plain.cachedUs.toFixed(1).padEnd(8)}   ${plain.listUncachedUs.toFixed(1).padStart(8)} / ${plain.listCachedUs.toFixed(1)}`,
  );
  console.log(
    `  policies read claims and args ${reading.uncachedUs.toFixed(1).padStart(8)} / ${reading.cachedUs.toFixed(1).padEnd(8)}   ${reading.listUncachedUs.toFixed(1).padStart(8)} / ${reading.listCachedUs.toFixed(1)}`,
  );
  console.log(JSON.stringify(summary));
}

await main();
