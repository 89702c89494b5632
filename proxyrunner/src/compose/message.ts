// The message-based upstream kinds (stdio, legacy SSE, or streamable HTTP behind the SSE
// frontend): a connector hands each session a Link, a frontend serves the client side,
// and one session registry ties them together. Loaded on demand by app.ts: this path pulls
// in the MCP SDK (and zod) for a streamable-HTTP upstream, which a transparent proxy would
// otherwise carry for nothing.
import type { ByteBudget, MemoryBudget } from '../budget.ts';
import type { ProxyConfig } from '../config.ts';
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { ClientSession } from '../frontend/clientSession.ts';
import type { FrontendDeps } from '../frontend/deps.ts';
import { sseRoutes } from '../frontend/sse.ts';
import { StatelessGateway } from '../frontend/stateless.ts';
import { streamableRoute } from '../frontend/streamable.ts';
import { withDeadlines } from '../upstream/deadline.ts';
import type { Connector } from '../upstream/link.ts';
import type { FrameLimits } from '../upstream/lines.ts';
import { StdioMultiplexer } from '../upstream/multiplexer.ts';
import { PerSessionStdioConnector } from '../upstream/perSessionStdio.ts';
import { SseUpstreamConnector } from '../upstream/sseUpstream.ts';
import { childProcessLauncher, type StdioLauncher } from '../upstream/stdio.ts';
import { meteredRegistry } from './registry.ts';
import type { Upstream } from './upstream.ts';

export async function composeMessage(
  config: ProxyConfig,
  metrics: ProxyMetrics,
  log: Logger,
  memory: { budget: MemoryBudget; pool: ByteBudget },
  launcher?: StdioLauncher,
): Promise<Upstream> {
  launcher ??= childProcessLauncher(config.command, log);
  const limits: FrameLimits = { maxBytes: memory.budget.maxMessageBytes, pool: memory.pool };
  // Every upstream kind gets the same bounded waits (--upstream-response-timeout).
  const connector = withDeadlines(await createConnector(config, metrics, log, launcher, limits), { timeoutMs: config.upstreamResponseTimeoutMs, metrics });
  const registry = meteredRegistry<ClientSession>(config, metrics, (session, reason) => session.data.end(reason));
  // Stateless (2026-07-28) requests: one upstream session of the proxy's own carries them
  // (one per request with --stdio-isolation session). Legacy-SSE clients always have sessions.
  const stateless =
    config.proxyMode === 'streamable-http'
      ? new StatelessGateway({
          connector,
          metrics,
          log,
          maxInFlight: memory.budget.maxConnections,
          initTimeoutMs: config.upstreamConnectTimeoutMs + (config.upstreamResponseTimeoutMs || config.upstreamConnectTimeoutMs),
          perRequest: config.transport === 'stdio' && config.stdioIsolation === 'session' && !config.attach,
        })
      : undefined;
  const deps: FrontendDeps = { registry, connector, metrics, log, maxPending: Math.max(16, Math.min(config.maxSessions, 1024)), stateless };
  return {
    routes: config.proxyMode === 'sse' ? sseRoutes(deps) : { '/mcp': streamableRoute(deps) },
    readiness: () => connector.readiness(),
    sessionCount: () => registry.size,
    async close() {
      registry.stopSweeper();
      registry.closeAll('upstream_closed');
      await stateless?.close();
      await connector.close();
    },
  };
}

async function createConnector(config: ProxyConfig, metrics: ProxyMetrics, log: Logger, launcher: StdioLauncher, limits: FrameLimits): Promise<Connector> {
  switch (config.transport) {
    case 'stdio':
      if (config.attach) {
        // Loaded only in attach mode: the pods' list+watch and the attach client.
        const { startAttachMode } = await import('../upstream/attachedPods.ts');
        return startAttachMode({
          target: config.attach,
          maxPods: config.attach.maxPods,
          log,
          metrics,
          limits,
          responseTimeoutMs: config.upstreamResponseTimeoutMs,
          connectTimeoutMs: config.upstreamConnectTimeoutMs,
        });
      }
      return config.stdioIsolation === 'session' && !config.attach
        ? new PerSessionStdioConnector(launcher, log, metrics, config.maxSessions, config.upstreamResponseTimeoutMs, limits)
        : new StdioMultiplexer(launcher, log, metrics, { limits, responseTimeoutMs: config.upstreamResponseTimeoutMs });
    case 'sse':
      return new SseUpstreamConnector({ target: config.targetUrl as URL, connectTimeoutMs: config.upstreamConnectTimeoutMs, log, metrics, limits });
    case 'streamable-http': {
      // Only this connector needs the MCP SDK (and zod): ~7 MiB of RSS the others do without.
      const { HttpUpstreamConnector } = await import('../upstream/httpUpstream.ts');
      return new HttpUpstreamConnector(config.targetUrl as URL, metrics, log, limits);
    }
  }
}
