// Prometheus instruments of authorization and audit, registered on the proxy's registry.
// Labels are bounded: actions are the fixed MCP action names, decisions allow/deny,
// reload results success/failure, audit outcomes success/denied/error.
import { Counter, type Registry, type CounterChild } from '../../../common/promClient.ts';
import type { AuthzMetrics } from './authorizer.ts';
import type { AuditSinkMetrics } from '../audit/sink.ts';
import type { ReloadResult } from './store.ts';

export const ACTIONS = ['call_tool', 'get_prompt', 'read_resource', 'list_tools', 'list_prompts', 'list_resources'] as const;

export interface AccessMetrics extends AuthzMetrics, AuditSinkMetrics {
  authzReload(result: ReloadResult): void;
}

export function createAccessMetrics(registry: Registry): AccessMetrics {
  const decisions = new Counter({
    name: 'mcpfleet_proxy_authz_decisions_total',
    help: 'Cedar authorization decisions, by MCP action and decision (list items filtered out are not counted).',
    labelNames: ['action', 'decision'],
    registers: [registry],
  });
  const children = new Map<string, CounterChild>();
  for (const action of ACTIONS) {
    for (const decision of ['allow', 'deny']) {
      const child = decisions.labels(action, decision);
      child.inc(0);
      children.set(`${action} ${decision}`, child);
    }
  }
  const reloads = new Counter({
    name: 'mcpfleet_proxy_authz_reloads_total',
    help: 'Reloads of the authorization config file, by result (a failure keeps the last good policies).',
    labelNames: ['result'],
    registers: [registry],
  });
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'failure' }, 0);
  const events = new Counter({
    name: 'mcpfleet_proxy_audit_events_total',
    help: 'Audit events written, by outcome.',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'mcpfleet_proxy_audit_events_dropped_total',
    help: 'Audit events dropped because the audit destination was not keeping up.',
    registers: [registry],
  });
  return {
    authzDecision: (action, decision) => children.get(`${action} ${decision}`)?.inc(),
    authzReload: (result) => reloads.inc({ result }),
    auditEvent: (outcome) => events.inc({ outcome }),
    auditDropped: () => dropped.inc(),
  };
}
