// The diagnostics listener both programs serve, separate from any traffic port so a
// NetworkPolicy can fence it: /metrics (the program's Prometheus registry), /healthz (the
// process answers), /readyz (the program says what "ready" means: the proxyrunner's upstream
// is reachable, the operator's caches are synced), and with debug on the Node analogue of
// pprof: /debug/heap (V8 heap statistics) and /debug/heap/snapshot (a .heapsnapshot for
// Chrome DevTools' comparison view, streamed to the client: nothing is written to disk).
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import v8 from 'node:v8';
import { pipeline } from 'node:stream/promises';
import type { Registry } from 'prom-client';
import type { Logger } from './log.ts';

export interface Readiness {
  ready: boolean;
  detail: string;
}

/** What /readyz answers: 200 when ready, else 503, with `body` as JSON either way. */
export interface ReadinessReport {
  ready: boolean;
  body: Record<string, unknown>;
}

export interface DiagnosticsOptions {
  /** Names heap snapshot downloads (`<program>-<pid>-<ms>.heapsnapshot`). */
  program: string;
  registry: Registry;
  readiness: () => ReadinessReport;
  /** Serve /debug/*: off unless asked for (a heap snapshot pauses the process). */
  enableDebug: boolean;
  /** Program-specific fields for /debug/heap (e.g. live sessions). */
  debugFields?: () => Record<string, unknown>;
  log: Logger;
}

export function createDiagnostics(opts: DiagnosticsOptions): RequestListener {
  return (req, res) => {
    route(req, res).catch((err: unknown) => {
      opts.log.error('diagnostics request failed', { err: err as Error, path: req.url });
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (path) {
      case '/metrics': {
        const body = await opts.registry.metrics();
        res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body);
        return;
      }
      case '/healthz':
        json(res, 200, { status: 'ok' });
        return;
      case '/readyz': {
        const { ready, body } = opts.readiness();
        json(res, ready ? 200 : 503, body);
        return;
      }
    }
    if (opts.enableDebug && path === '/debug/heap') {
      json(res, 200, {
        memoryUsage: process.memoryUsage(),
        heap: v8.getHeapStatistics(),
        spaces: v8.getHeapSpaceStatistics(),
        ...opts.debugFields?.(),
        // Live libuv resources by type (sockets, timers, …): a leak shows as a count that only grows.
        activeResources: countBy(process.getActiveResourcesInfo()),
      });
      return;
    }
    if (opts.enableDebug && path === '/debug/heap/snapshot') {
      const name = `${opts.program}-${process.pid}-${Date.now()}.heapsnapshot`;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': `attachment; filename="${name}"` });
      await pipeline(v8.getHeapSnapshot(), res);
      return;
    }
    json(res, 404, { error: `not found: ${path}` });
  }
}

function countBy(items: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return counts;
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}
