// The proxyrunner's top: config in, two listening servers out (MCP and diagnostics). The
// upstream kind is assembled in compose/ (transparent.ts, or message.ts loaded on demand);
// everything with I/O is created from here, so tests can start a whole proxyrunner in-process.
import { http } from '../../common/builtins.ts';
import type { AddressInfo } from 'node:net';
import { ByteBudget, deriveBudget, spanQueueSize, type MemoryBudget } from './budget.ts';
import type { ProxyConfig } from './config.ts';
import { listen } from '../../common/cli/listen.ts';
import { createDiagnostics } from '../../common/diagnostics.ts';
import { createAdmission, type Admission } from './http/admission.ts';
import { startBufferCollector } from './overload.ts';
import { createPipeline } from './http/pipeline.ts';
import type { Logger } from '../../common/log.ts';
import { createMetrics, type ProxyMetrics } from './metrics.ts';
import type { Upstream } from './compose/upstream.ts';
import { VERSION } from './version.ts';
import { authenticatedPrincipal, type PrincipalSource } from './authz/principal.ts';
import type { AccessStage } from './authz/stage.ts';

export interface RunningProxy {
  mcpUrl: string;
  metricsUrl: string;
  metrics: ProxyMetrics;
  budget: MemoryBudget;
  sessionCount(): number;
  stop(): Promise<void>;
}

export interface ProxyHooks {
  /** Who the caller is (authentication's result); default: everyone is anonymous. */
  principalOf?: PrincipalSource;
}

export async function startProxyRunner(config: ProxyConfig, log: Logger, hooks: ProxyHooks = {}): Promise<RunningProxy> {
  let activeSessions = (): number => 0;
  // Derived here, not when flags are parsed: the cgroup limit is filled in after parsing.
  const budget = deriveBudget(config.memoryLimitBytes, config.limits);
  const pool = new ByteBudget(budget.bufferBytes);
  // eslint-disable-next-line prefer-const -- assigned once below, after the closures that read it are built (it is undefined until then)
  let admission: Admission | undefined;
  const metrics = createMetrics({
    activeSessions: () => activeSessions(),
    memoryLimitBytes: config.memoryLimitBytes,
    info: { version: VERSION, transport: config.transport, proxyMode: config.proxyMode },
    budget: {
      limits: { connections: budget.maxConnections, streams: budget.maxStreams, messageBytes: budget.maxMessageBytes, bufferedBytes: budget.bufferBytes },
      openConnections: () => admission?.openConnections() ?? 0,
      bufferedBytes: () => pool.used,
    },
  });

  // Loaded only when configured; a bad config at start is an error naming the flag (exit 2);
  // first, so such an error leaves nothing else started.
  const tools = config.tools ? (await import('./tools/start.ts')).startToolControl(config.tools, metrics.registry, log) : undefined;

  // Loaded only when configured: the Cedar engine is a 4 MB WebAssembly module.
  let access: { stage: AccessStage | undefined; close(): Promise<void> } | undefined;
  if (config.authz || config.audit) {
    const { startAccess } = await import('./authz/start.ts');
    // Authentication's principal (exchange.principal, set by auth/) is what authorization and
    // audit see; without authentication every caller is anonymous.
    access = startAccess(config, metrics, log, hooks.principalOf ?? authenticatedPrincipal);
  }

  // Loaded only with --otel-endpoint: with tracing off no OpenTelemetry module is in the process.
  const transparent = config.transport === 'streamable-http' && config.proxyMode === 'streamable-http';
  const tracing = config.telemetry
    ? await (
        await import('./telemetry/tracing.ts')
      ).startTracing(config.telemetry, {
        registry: metrics.registry,
        log,
        maxQueuedSpans: spanQueueSize(budget.limitBytes),
        upstream: { transport: config.transport, target: config.targetUrl, inject: transparent ? 'header' : 'meta' },
        upstreamResponseTimeoutMs: config.upstreamResponseTimeoutMs,
      })
    : undefined;

  // Loaded only with --otel-metrics-enabled and --otel-endpoint: reads the registry on a timer.
  const otlpMetrics = config.otlpMetrics
    ? await (await import('./telemetry/metricsExport.ts')).startMetricsExport(config.otlpMetrics, { registry: metrics.registry, log })
    : undefined;

  let upstream: Upstream;
  // Each path is loaded only when it serves: the transparent one pulls in http-proxy-3 (with
  // http2, follow-redirects and their dependencies), the message path the MCP SDK and zod;
  // a proxy would otherwise carry the other in memory for nothing.
  if (transparent) {
    const { composeTransparent } = await import('./compose/transparent.ts');
    upstream = await composeTransparent(config, metrics, log, pool);
  } else {
    const { composeMessage } = await import('./compose/message.ts');
    upstream = await composeMessage(config, metrics, log, { budget, pool });
  }
  activeSessions = () => upstream.sessionCount();
  const authn = config.authn
    ? (await import('./auth/authnSetup.ts')).createAuthentication(config.authn, metrics.registry, log, Object.keys(upstream.routes), config.maxSessions)
    : undefined;

  const pipeline = createPipeline({
    routes: { ...upstream.routes, ...authn?.routes },
    maxBodyBytes: budget.maxBodyBytes,
    pool,
    metrics,
    log,
    authenticate: authn?.step,
    access: access?.stage,
    trace: tracing?.begin,
    tools: tools?.stage,
  });
  const mcpServer = http.createServer({
    // Slow clients: headers and the whole request must arrive in bounded time.
    // Responses (SSE streams) have no such limit. Node rejects headersTimeout >
    // requestTimeout, hence the max().
    headersTimeout: config.clientHeaderTimeoutMs,
    requestTimeout: Math.max(config.clientBodyTimeoutMs, config.clientHeaderTimeoutMs),
    keepAliveTimeout: 65_000,
    connectionsCheckingInterval: Math.min(1_000, config.clientHeaderTimeoutMs),
    // Strict HTTP parsing whatever NODE_OPTIONS says (--insecure-http-parser would
    // let malformed framing through to the upstream).
    insecureHTTPParser: false,
  });
  // Dead stream buffers beyond a quarter of the buffer budget are collected at once.
  const collector = startBufferCollector({ thresholdBytes: Math.floor(budget.bufferBytes / 4) });
  admission = createAdmission(mcpServer, budget, pool, metrics, pipeline);
  mcpServer.on('request', admission.listener);
  const diagnosticsServer = http.createServer(
    createDiagnostics({
      program: 'mcpfleet-proxyrunner',
      registry: metrics.registry,
      readiness: () => {
        const { ready, detail } = upstream.readiness();
        return { ready, body: { status: ready ? 'ready' : 'not ready', upstream: detail } };
      },
      enableDebug: config.enableDebug,
      debugFields: () => ({ sessionsActive: activeSessions() }),
      log,
    }),
  );
  try {
    await listen(mcpServer, { host: config.host, port: config.port, hostFlag: 'host', portFlag: 'port', what: 'MCP listener' });
    await listen(diagnosticsServer, {
      host: config.metricsHost,
      port: config.metricsPort,
      hostFlag: 'metrics-host',
      portFlag: 'metrics-port',
      what: 'metrics listener',
    });
  } catch (err) {
    mcpServer.close();
    diagnosticsServer.close();
    await upstream.close();
    await access?.close();
    await tracing?.shutdown(1_000);
    await otlpMetrics?.shutdown(1_000);
    tools?.close();
    throw err;
  }
  const mcpPath = config.proxyMode === 'sse' ? '/sse' : '/mcp';
  const mcpUrl = `http://${displayHost(config.host)}:${(mcpServer.address() as AddressInfo).port}${mcpPath}`;
  const metricsUrl = `http://${displayHost(config.metricsHost)}:${(diagnosticsServer.address() as AddressInfo).port}/metrics`;

  let stopping: Promise<void> | undefined;
  return {
    mcpUrl,
    metricsUrl,
    metrics,
    budget,
    sessionCount: activeSessions,
    stop: () => (stopping ??= shutdown()),
  };

  async function shutdown(): Promise<void> {
    collector.stop();
    const closed = new Promise<void>((resolve) => mcpServer.close(() => resolve()));
    mcpServer.closeIdleConnections();
    const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref());
    await Promise.race([closed, grace]);
    mcpServer.closeAllConnections();
    await upstream.close();
    await access?.close();
    // Spans of the last requests are flushed, within a bound of their own.
    await tracing?.shutdown(Math.max(1_000, Math.min(config.shutdownTimeoutMs, 5_000)));
    // The last metric values (this shutdown's included), within a bound of their own.
    await otlpMetrics?.shutdown(Math.max(1_000, Math.min(config.shutdownTimeoutMs, 5_000)));
    tools?.close();
    await new Promise<void>((resolve) => {
      diagnosticsServer.close(() => resolve());
      diagnosticsServer.closeAllConnections();
    });
  }
}

function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
