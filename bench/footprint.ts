// bench:footprint — where the proxyrunner's resident memory goes, side by side with bare node.
// Every subject is a real process; its RSS is split from /proc/<pid>/smaps by mapping:
//   node file   pages of the node binary read from disk (its text, rodata: touched code, ICU,
//               builtins' sources and code cache); reclaimable, but counted in RSS and the cgroup
//   libs file   other file-backed pages (libc, libstdc++...)
//   bin anon    the node binary's own writable data (.data/.bss)
//   brk heap    glibc malloc's main arena ([heap])
//   V8 heap     V8's committed heap spaces (new, old, code, trusted...), from the process itself
//   anon other  the rest of the anonymous memory: malloc mmaps and arenas, thread stacks, V8's
//               isolate and zone memory, the code range, Buffers outside the heap
// Subjects: bare node; node importing each library the proxy may load (one process each, with
// the proxy's heap flags at 128Mi); the proxyrunner idle in each mode (streamable-http, legacy SSE
// upstream, stdio spawn, stdio attach to a fake apiserver); the same under initialize → DELETE
// churn (measured while the load runs, after warm-up).
//
//   npm run bench:footprint -- [--sessions 10000] [--memory-limit 128Mi] [--modes streamable-http,sse,stdio,attach]
//                              [--skip-modules]
//   MCPFLEET_PROXYRUNNER=/path/to/other/dist/proxyrunner/src/main.js npm run bench:footprint
//       the same against another build (e.g. an older commit's dist/, kept inside this tree
//       so that its imports resolve node_modules).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { scrape } from '../test/support/metrics.ts';
import { fakeKubeconfig, startFakeApiserver } from '../test/support/fakeApiserver.ts';
import { everythingStdioCommand, PROXYRUNNER, startEchoServer, startEverything, startProxy, type Running } from '../test/support/processes.ts';
import { churnSessions } from './load/sessions.ts';
import { heapFlags, heapSizing } from '../common/memory.ts';
import { parseBytes } from '../common/quantity.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '10000' },
    'memory-limit': { type: 'string', default: '128Mi' },
    modes: { type: 'string', default: 'streamable-http,sse,stdio,attach' },
    'skip-modules': { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '50' },
  },
});

const MiB = 2 ** 20;
const ROOT = path.resolve(import.meta.dirname, '..');
const NODE = realpathSync(process.execPath);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The categories above, in MiB. */
interface Footprint {
  rss: number;
  nodeFile: number;
  libsFile: number;
  binAnon: number;
  brk: number;
  v8Heap: number;
  anonOther: number;
  /** V8 committed bytes per space (MiB), for the detail lines. */
  spaces: Record<string, number>;
}

/** RSS and anonymous kB per category, from smaps. */
export function smapsCategories(
  text: string,
  nodePath: string,
): { rss: number; nodeFile: number; libsFile: number; binAnon: number; brk: number; anon: number } {
  const out = { rss: 0, nodeFile: 0, libsFile: 0, binAnon: 0, brk: 0, anon: 0 };
  let name = '';
  let rss = 0;
  const flush = (anon: number): void => {
    out.rss += rss;
    if (name === nodePath) {
      out.nodeFile += rss - anon;
      out.binAnon += anon;
    } else if (name === '[heap]') out.brk += anon;
    else if (name.startsWith('/')) {
      out.libsFile += rss - anon;
      out.anon += anon;
    } else out.anon += anon;
  };
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      name = head[1] ?? '';
      rss = 0;
      continue;
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (field?.[1] === 'Rss') rss = Number(field[2]);
    else if (field?.[1] === 'Anonymous') flush(Number(field[2]));
  }
  return out;
}

function footprint(pid: number, spacesBytes: Record<string, number>): Footprint {
  const c = smapsCategories(readFileSync(`/proc/${pid}/smaps`, 'utf8'), NODE);
  const kib = (v: number): number => v / 1024;
  const spaces = Object.fromEntries(Object.entries(spacesBytes).map(([k, v]) => [k, v / MiB]));
  const v8Heap = Object.values(spaces).reduce((a, b) => a + b, 0);
  return {
    rss: kib(c.rss),
    nodeFile: kib(c.nodeFile),
    libsFile: kib(c.libsFile),
    binAnon: kib(c.binAnon),
    brk: kib(c.brk),
    v8Heap,
    anonOther: kib(c.anon) - v8Heap,
    spaces,
  };
}

async function proxySpaces(metricsUrl: string): Promise<Record<string, number>> {
  const m = await scrape(metricsUrl);
  const spaces: Record<string, number> = {};
  for (const s of m.samples) if (s.name === 'nodejs_heap_space_size_total_bytes' && s.value > 0) spaces[s.labels['space'] as string] = s.value;
  return spaces;
}

const limitBytes = parseBytes(values['memory-limit']);
const proxyHeapFlags = heapFlags(heapSizing(limitBytes));

/** A node process that imports `specifier` (nothing for bare node), then reports its V8 spaces on stdout and waits. */
async function moduleSubject(label: string, specifier: string | undefined): Promise<[string, Footprint]> {
  const script = `${specifier ? `await import(${JSON.stringify(specifier)});` : ''}
    const v8 = await import('node:v8');
    setTimeout(() => {
      const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().filter((s) => s.space_size > 0).map((s) => [s.space_name.replace(/_space$/, ''), s.space_size]));
      process.stdout.write(JSON.stringify(spaces) + '\\n');
    }, 1500);
    setInterval(() => {}, 60000);`;
  const child = spawn(process.execPath, [...(specifier ? proxyHeapFlags : []), '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const line = await firstLine(child);
    return [label, footprint(child.pid as number, JSON.parse(line) as Record<string, number>)];
  } finally {
    child.kill('SIGKILL');
  }
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before reporting`)));
  });
}

interface ModeSetup {
  args: string[];
  env?: NodeJS.ProcessEnv;
  command?: string[];
  close(): Promise<void>;
}

async function setupMode(mode: string): Promise<ModeSetup> {
  const memory = ['--memory-limit', values['memory-limit'], '--log-level', 'warn'];
  if (mode === 'streamable-http') {
    const up: Running = await startEchoServer();
    return { args: ['--transport', 'streamable-http', '--target-url', `http://127.0.0.1:${up.port}/mcp`, ...memory], close: () => up.stop() };
  }
  if (mode === 'sse') {
    const up = await startEverything('sse');
    return { args: ['--transport', 'sse', '--target-url', `http://127.0.0.1:${up.port}/sse`, ...memory], close: () => up.stop() };
  }
  if (mode === 'stdio') return { args: ['--transport', 'stdio', ...memory], command: everythingStdioCommand(), close: async () => {} };
  if (mode === 'attach') {
    const api = await startFakeApiserver({ container: everythingStdioCommand() });
    api.pods.push({ name: 'mcp-0', labels: { app: 'demo' } });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'footprint-'));
    writeFileSync(path.join(dir, 'config'), fakeKubeconfig(api.url));
    return {
      args: ['--transport', 'stdio', '--attach-selector', 'app=demo', '--attach-namespace', 'ns', ...memory],
      env: { KUBECONFIG: path.join(dir, 'config') },
      close: () => api.close(),
    };
  }
  throw new Error(`unknown mode ${mode}`);
}

async function waitReady(metricsUrl: string): Promise<void> {
  const readyz = metricsUrl.replace(/\/metrics$/, '/readyz');
  for (let i = 0; i < 300; i++) {
    if (
      (await fetch(readyz).then(
        (r) => r.status,
        () => 0,
      )) === 200
    )
      return;
    await sleep(100);
  }
  throw new Error(`${readyz} never ready`);
}

async function proxyMode(mode: string): Promise<[string, Footprint][]> {
  const setup = await setupMode(mode);
  const proxy = await startProxy(setup.args, { ...(setup.env && { env: setup.env }), ...(setup.command && { command: setup.command }), path: '/mcp' });
  const pid = proxy.child.pid as number;
  try {
    await waitReady(proxy.metricsUrl);
    await sleep(3_000);
    const idle = footprint(pid, await proxySpaces(proxy.metricsUrl));
    const total = Number(values.sessions);
    let busy: Footprint | undefined;
    const { errors } = await churnSessions({
      url: proxy.mcpUrl,
      mode: 'delete',
      total,
      concurrency: Number(values.concurrency),
      every: Math.floor(total / 10),
      // Measured while the workers keep going, once most of the run is behind (steady state).
      onProgress: async (done) => {
        if (done >= total * 0.8 && !busy) busy = footprint(pid, await proxySpaces(proxy.metricsUrl));
      },
    });
    if (errors > 0) console.error(`${mode}: ${errors} failed requests under churn`);
    return [
      [`proxy ${mode} idle`, idle],
      [`proxy ${mode} churn`, busy ?? footprint(pid, await proxySpaces(proxy.metricsUrl))],
    ];
  } finally {
    await proxy.stop();
    await setup.close();
  }
}

const MODULES: [string, string][] = [
  ['node:http (ESM import)', 'node:http'],
  ['node:https', 'node:https'],
  ['prom-client', 'prom-client'],
  ['@opentelemetry/api', '@opentelemetry/api'],
  ['http-proxy-3', 'http-proxy-3'],
  ['ioredis', 'ioredis'],
  ['yaml', 'yaml'],
  ['jose', 'jose'],
  ['cedar-wasm', '@cedar-policy/cedar-wasm/nodejs'],
  ['@modelcontextprotocol/sdk server', '@modelcontextprotocol/sdk/server/index.js'],
  ['zod', 'zod'],
];

function row(label: string, f: Footprint, base: Footprint | undefined): string {
  const n = (v: number): string => v.toFixed(1).padStart(11);
  const delta = base ? `${f.rss - base.rss >= 0 ? '+' : ''}${(f.rss - base.rss).toFixed(1)}`.padStart(11) : ''.padStart(11);
  return `${label.padEnd(40)}${n(f.rss)}${delta}${n(f.nodeFile)}${n(f.libsFile)}${n(f.binAnon)}${n(f.brk)}${n(f.v8Heap)}${n(f.anonOther)}`;
}

async function main(): Promise<void> {
  const rows: [string, Footprint][] = [];
  const bare = await moduleSubject('bare node', undefined);
  rows.push(bare);
  if (!values['skip-modules']) {
    rows.push(await moduleSubject('node + heap flags only', 'node:path'));
    for (const [label, spec] of MODULES) rows.push(await moduleSubject(`node + ${label}`, spec));
    rows.push(await moduleSubject('node + proxyrunner app.js', path.join(path.dirname(PROXYRUNNER), 'app.js')));
  }
  for (const mode of values.modes.split(',')) rows.push(...(await proxyMode(mode)));

  console.log(
    `bench:footprint  node ${process.version}, ${os.cpus().length} CPUs, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, proxy --memory-limit ${values['memory-limit']} (${proxyHeapFlags.join(' ')}), churn ${values.sessions} sessions initialize → DELETE`,
  );
  console.log(
    `${'MiB'.padEnd(40)}${['RSS', 'vs bare', 'node file', 'libs file', 'bin anon', 'brk heap', 'V8 heap', 'anon other'].map((h) => h.padStart(11)).join('')}`,
  );
  for (const [label, f] of rows) console.log(row(label, f, bare[1]));
  console.log('\nV8 committed per space (MiB):');
  for (const [label, f] of rows)
    console.log(
      `${label.padEnd(40)}${Object.entries(f.spaces)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join('  ')}`,
    );
  for (const [label, f] of rows)
    console.log(
      JSON.stringify({ subject: label, ...Object.fromEntries(Object.entries(f).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(1)) : v])) }),
    );
}

await main();
