// The tools/call load generator shared by bench:proxy and bench:peers: keep-alive clients,
// one MCP session each, call the `echo` tool in a loop against one or more targets at once;
// after a warm-up, latencies are recorded over a measured window and each serving
// process's CPU time (user + system, from /proc/<pid>/stat) is charged to its requests.
// With several targets they serve at the same moment under the same machine load, which
// makes their CPU per request directly comparable on a noisy machine.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { McpHttpClient, percentile, toolCall } from '../../test/support/mcpHttp.ts';

export interface Target {
  url: string;
  label: string;
  /** The serving process, whose CPU time is charged to its requests. */
  pid?: number;
  /** Extra request headers (e.g. a bearer token). */
  headers?: Record<string, string>;
  /** The tool the clients call (default echo; a tool-config variant calls it by a new name). */
  tool?: string;
}

export interface Result {
  target: string;
  requests: number;
  errors: number;
  /** Failed requests by HTTP status (0: no response), e.g. {"504": 3}. */
  errorStatuses: Record<string, number>;
  rps: number;
  p50: number;
  p99: number;
  /** The serving process's CPU (user+system) per measured request, in microseconds. */
  cpuUsPerRequest: number | undefined;
}

export interface LoadOptions {
  /** Seconds of load before measuring (JIT, pools, caches warm). */
  warmupSeconds: number;
  /** Seconds measured. */
  seconds: number;
}

/** user + system CPU time of a process so far, in clock ticks (100 per second on Linux). */
export const cpuTicks = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
};

/** Resident set size of a process, in MiB, from /proc/<pid>/status. */
export const rssMiB = (pid: number): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
};

/** RSS split as the kernel counts it: anonymous (heap, stacks) and file-backed (the binary's and
 * libraries' pages: clean, reclaimable, shared by processes mapping the same file). MiB. */
export const rssSplitMiB = (pid: number): { anon: number; file: number } => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { anon: kib('RssAnon') / 1024, file: kib('RssFile') / 1024 };
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The middle value (upper middle for an even count); NaN for none. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/**
 * Drives `perTarget` keep-alive clients at each target at once, all measured over the same
 * window; every session is DELETEd at the end.
 */
export async function toolCallLoad(targets: Target[], perTarget: number, options: LoadOptions): Promise<Result[]> {
  let measuring = false;
  let stop = false;
  const runs = await Promise.all(
    targets.map(async (target) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: perTarget });
      const client = new McpHttpClient(target.url, agent, target.headers);
      const sessions = await Promise.all(Array.from({ length: perTarget }, () => client.initialize()));
      const errorStatuses: Record<string, number> = {};
      return { target, agent, client, sessions, latencies: [] as number[], errors: 0, errorStatuses, ticks: 0 };
    }),
  );
  const workers = runs.flatMap((run) =>
    run.sessions.map(async (sessionId) => {
      let id = 10;
      while (!stop) {
        const res = await run.client
          .request('POST', toolCall(id++, run.target.tool ?? 'echo', { message: 'bench' }), sessionId)
          .catch(() => ({ status: 0, body: '', ms: 0 }));
        if (!measuring) continue;
        if (res.status === 200 && res.body.includes('Echo: bench')) run.latencies.push(res.ms);
        else {
          run.errors++;
          run.errorStatuses[res.status] = (run.errorStatuses[res.status] ?? 0) + 1;
        }
      }
    }),
  );
  await sleep(options.warmupSeconds * 1000);
  measuring = true;
  const started = performance.now();
  for (const run of runs) run.ticks = run.target.pid ? cpuTicks(run.target.pid) : 0;
  await sleep(options.seconds * 1000);
  measuring = false;
  for (const run of runs) run.ticks = run.target.pid ? cpuTicks(run.target.pid) - run.ticks : 0;
  const elapsed = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(workers);
  return Promise.all(
    runs.map(async ({ target, agent, client, sessions, latencies, errors, errorStatuses, ticks }) => {
      await Promise.all(sessions.map((s) => client.request('DELETE', undefined, s)));
      agent.destroy();
      latencies.sort((a, b) => a - b);
      const cpuUsPerRequest = target.pid ? (ticks * 10_000) / Math.max(1, latencies.length) : undefined;
      return {
        target: target.label,
        requests: latencies.length,
        errors,
        errorStatuses,
        rps: latencies.length / elapsed,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        cpuUsPerRequest,
      };
    }),
  );
}
