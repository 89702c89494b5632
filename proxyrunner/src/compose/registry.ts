// The session registry as every upstream kind uses it: its idle sweeper running and every
// create and close counted in metrics, so no kind can forget either.
import type { ProxyConfig } from '../config.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { SessionRegistry, type CloseReason, type Session } from '../sessions.ts';

/** The session registry with its sweeper running and every create/close counted. */
export function meteredRegistry<T>(
  config: ProxyConfig,
  metrics: ProxyMetrics,
  onClosed: (session: Session<T>, reason: CloseReason) => void,
): SessionRegistry<T> {
  const registry = new SessionRegistry<T>({
    maxSessions: config.maxSessions,
    idleTimeoutMs: config.sessionIdleTimeoutMs,
    onCreated: () => metrics.sessionCreated(),
    onClosed: (session, reason) => {
      metrics.sessionClosed(reason);
      onClosed(session, reason);
    },
  });
  registry.startSweeper();
  return registry;
}
