// bench/authn.ts — what authentication costs the proxy in CPU per request. One proxyrunner
// process per phase, the same workload (POST tools/list through the transparent path to a
// minimal upstream that answers at once, so the proxy's own work is as large a share as it
// can be), the proxy's CPU time read from /proc:
//   off       no authentication
//   cached    a bearer token per client, reused (the steady state: the verified-token cache
//             answers, the signature is checked once per token)
//   uncached  a fresh token on every request (every request pays an RS256 verification;
//             the worst case, not what a real client does)
// Phases rotate order each round; medians are reported.
//
//   node bench/authn.ts [--concurrency 16] [--seconds 6] [--rounds 3]
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fakeHttpUpstream, readBody } from '../test/support/fakeUpstream.ts';
import { startProxy, type ProxyProcess } from '../test/support/processes.ts';
import { startTestIssuer } from '../test/support/testIssuer.ts';

const { values } = parseArgs({
  options: { concurrency: { type: 'string', default: '16' }, seconds: { type: 'string', default: '6' }, rounds: { type: 'string', default: '3' } },
});
const concurrency = Number(values.concurrency);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const RESOURCE = 'https://mcp.example.test/mcp';
const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });

const cpuTicks = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
};

const issuer = await startTestIssuer();
const upstream = await fakeHttpUpstream(async (req, res) => {
  await readBody(req);
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}');
});
const claims = { sub: 'bench', aud: RESOURCE, exp: Math.floor(Date.now() / 1000) + 3600 };
const clientTokens = await Promise.all(Array.from({ length: concurrency }, (_, i) => issuer.sign({ ...claims, sub: `bench-${i}` })));
// Enough distinct tokens for the uncached phase (signed before measuring; the bench's CPU is not the proxy's).
const freshTokens: string[] = [];

type Phase = 'off' | 'cached' | 'uncached';

async function run(phase: Phase): Promise<{ rps: number; cpuUs: number; errors: number }> {
  const args = ['--transport', 'streamable-http', '--target-url', upstream.url, '--log-level', 'warn'];
  if (phase !== 'off') args.push('--oidc-issuer', issuer.url, '--resource-url', RESOURCE);
  const proxy: ProxyProcess = await startProxy(args);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let fresh = 0;
  let stop = false;
  let measuring = false;
  let done = 0;
  let errors = 0;
  const post = (token: string | undefined): Promise<number> =>
    new Promise((resolve) => {
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', 'content-length': String(BODY.length) };
      if (token) headers['authorization'] = `Bearer ${token}`;
      const req = http.request(proxy.mcpUrl, { method: 'POST', headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end(BODY);
    });
  const workers = Array.from({ length: concurrency }, async (_, i) => {
    while (!stop) {
      const token = phase === 'off' ? undefined : phase === 'cached' ? clientTokens[i] : freshTokens[fresh++ % freshTokens.length];
      const status = await post(token);
      if (!measuring) continue;
      if (status === 200) done++;
      else errors++;
    }
  });
  await new Promise((r) => setTimeout(r, 1_000)); // warm-up (JWKS fetched, JIT warm)
  const pid = proxy.child.pid as number;
  const t0 = cpuTicks(pid);
  const started = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const ticks = cpuTicks(pid) - t0;
  const elapsed = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(workers);
  agent.destroy();
  await proxy.stop();
  return { rps: done / elapsed, cpuUs: (ticks * 10_000) / Math.max(1, done), errors };
}

// The uncached phase reuses a token only after the pool wraps; size it to the expected rate.
process.stdout.write('signing tokens for the uncached phase... ');
for (let i = 0; i < 6_000; i++) freshTokens.push(await issuer.sign({ ...claims, sub: `fresh-${i}` }));
console.log(`${freshTokens.length}`);

const phases: Phase[] = ['off', 'cached', 'uncached'];
const results: Record<Phase, { rps: number; cpuUs: number; errors: number }[]> = { off: [], cached: [], uncached: [] };
for (let round = 0; round < rounds; round++) {
  for (let i = 0; i < phases.length; i++) {
    const phase = phases[(i + round) % phases.length] as Phase;
    const r = await run(phase);
    results[phase].push(r);
    console.log(
      `round ${round + 1} ${phase.padEnd(8)} ${r.rps.toFixed(0).padStart(6)} req/s  proxy cpu ${r.cpuUs.toFixed(0).padStart(4)} µs/req  errors ${r.errors}`,
    );
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const off = median(results.off.map((r) => r.cpuUs));
console.log('\nmedian proxy CPU per request:');
for (const phase of phases) {
  const cpu = median(results[phase].map((r) => r.cpuUs));
  console.log(
    `  ${phase.padEnd(8)} ${cpu.toFixed(0).padStart(4)} µs/req  (${((cpu / off - 1) * 100).toFixed(1)}% vs off)  ${median(results[phase].map((r) => r.rps)).toFixed(0)} req/s`,
  );
}
console.log(
  JSON.stringify({
    concurrency,
    seconds,
    rounds,
    off_cpu_us: Math.round(off),
    cached_cpu_us: Math.round(median(results.cached.map((r) => r.cpuUs))),
    uncached_cpu_us: Math.round(median(results.uncached.map((r) => r.cpuUs))),
  }),
);
await upstream.close();
await issuer.close();
