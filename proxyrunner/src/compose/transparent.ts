// The transparent upstream kind (streamable HTTP in, streamable HTTP out): http-proxy-3 in
// front of the MCP server, a metered session registry, and a TCP probe for readiness.
import type { Logger } from '../../../common/log.ts';
import type { ProxyConfig } from '../config.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { Session } from '../sessions.ts';
import { startTcpProbe } from '../upstream/probe.ts';
import { createTransparentUpstream, type TransparentSession } from '../upstream/transparent.ts';
import { meteredRegistry } from './registry.ts';
import type { Upstream } from './upstream.ts';

export function composeTransparent(config: ProxyConfig, metrics: ProxyMetrics, log: Logger): Upstream {
  const target = config.targetUrl as URL;
  // eslint-disable-next-line prefer-const -- assigned once below, after the closures that read it are built (it is undefined until then)
  let endUpstream: ((session: Session<TransparentSession>) => void) | undefined;
  const registry = meteredRegistry<TransparentSession>(config, metrics, (session, reason) => {
    if (reason === 'idle_timeout' || reason === 'evicted') endUpstream?.(session);
  });
  const proxy = createTransparentUpstream({
    target,
    registry,
    metrics,
    log,
    connectTimeoutMs: config.upstreamConnectTimeoutMs,
    responseTimeoutMs: config.upstreamResponseTimeoutMs,
    maxRewriteBytes: config.memoryLimitBytes ? Math.max(2 ** 20, Math.floor(config.memoryLimitBytes / 16)) : 16 * 2 ** 20,
  });
  endUpstream = (session) => proxy.endUpstreamSession(session);
  const probe = startTcpProbe(target, 5_000, 2_000, (up) => metrics.setUpstreamUp(up));
  return {
    routes: { '/mcp': proxy.route },
    readiness: () => probe.state,
    sessionCount: () => registry.size,
    async close() {
      probe.stop();
      registry.stopSweeper();
      proxy.close();
    },
  };
}
