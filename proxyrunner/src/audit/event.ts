// One audit event per MCP operation, in ToolHive's audit event shape (field names and
// event types), so existing audit pipelines parse it unchanged (pure):
//   type       mcp_tool_call, mcp_tools_list, mcp_prompt_get, mcp_resource_read, …
//   loggedAt   when the operation finished (UTC)
//   outcome    success | denied | error   (error: HTTP status ≥ 400 or the client left)
//   source     {type: network, value: client address, extra: {user_agent, session_id, request_id}}
//   subjects   {user_id: sub, user: name/email claim, client_id, client_name, client_version}
//   component  the MCP server's name (--audit-component)
//   target     {type: tool|prompt|resource|server, name, uri, method, endpoint}
//   metadata   {auditId, extra: {duration_ms, status, transport}}
//   data       {request: arguments}  only with --audit-include-request-data, capped
// Arguments and results are excluded by default: they may hold anything.
import { randomUUID } from 'node:crypto';
import type { RpcMessage } from '../jsonrpc.ts';
import type { Principal } from '../authz/principal.ts';

export type AuditOutcome = 'success' | 'denied' | 'error';

export const EVENT_TYPES: Readonly<Record<string, string>> = {
  initialize: 'mcp_initialize',
  'tools/call': 'mcp_tool_call',
  'tools/list': 'mcp_tools_list',
  'resources/read': 'mcp_resource_read',
  'resources/list': 'mcp_resources_list',
  'prompts/get': 'mcp_prompt_get',
  'prompts/list': 'mcp_prompts_list',
  ping: 'mcp_ping',
  'logging/setLevel': 'mcp_logging',
  'completion/complete': 'mcp_completion',
  'notifications/roots/list_changed': 'mcp_roots_list_changed',
};

export function eventType(method: string): string {
  return EVENT_TYPES[method] ?? (method.startsWith('notifications/') ? 'mcp_notification' : 'mcp_request');
}

export interface AuditEvent {
  type: string;
  loggedAt: string;
  outcome: AuditOutcome;
  source: { type: 'network'; value: string; extra: Record<string, string> };
  subjects: Record<string, string>;
  component: string;
  target: Record<string, string>;
  metadata: { auditId: string; extra: { duration_ms: number; status: number; transport: string } };
  data?: { request: unknown };
}

export interface OperationFacts {
  message: RpcMessage;
  principal: Principal | undefined;
  outcome: AuditOutcome;
  status: number;
  durationMs: number;
  sourceAddress: string;
  userAgent: string | undefined;
  sessionId: string | undefined;
  endpoint: string;
}

export interface EventSettings {
  component: string;
  transport: string;
  /** Include the request's params (capped at maxDataSize bytes of JSON). */
  includeRequestData: boolean;
  maxDataSize: number;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function target(message: RpcMessage): Record<string, string> {
  const method = message.method ?? '';
  const params = message.params ?? {};
  const out: Record<string, string> = { method };
  if (method === 'tools/call') Object.assign(out, { type: 'tool' }, str(params.name) && { name: str(params.name) });
  else if (method === 'prompts/get') Object.assign(out, { type: 'prompt' }, str(params.name) && { name: str(params.name) });
  else if (method.startsWith('resources/') && str(params.uri)) Object.assign(out, { type: 'resource', uri: str(params.uri), name: str(params.uri) });
  else if (method.endsWith('/list')) out.type = method.slice(0, method.indexOf('/'));
  else out.type = 'server';
  return out;
}

function subjects(principal: Principal | undefined, message: RpcMessage): Record<string, string> {
  const out: Record<string, string> = {};
  if (principal) {
    out.user_id = principal.subject;
    const name = str(principal.claims.name) ?? str(principal.claims.preferred_username) ?? str(principal.claims.email);
    if (name) out.user = name;
    const client = str(principal.claims.client_id) ?? str(principal.claims.azp);
    if (client) out.client_id = client;
  } else {
    out.user = 'anonymous';
  }
  if (message.method === 'initialize') {
    const info = message.params?.clientInfo as Record<string, unknown> | undefined;
    if (str(info?.name)) out.client_name = info?.name as string;
    if (str(info?.version)) out.client_version = info?.version as string;
  }
  return out;
}

/** The request's params as JSON, or a note that they were cut, within `max` bytes. */
export function cappedData(params: unknown, max: number): unknown {
  const json = JSON.stringify(params ?? null);
  if (Buffer.byteLength(json) <= max) return params ?? null;
  return { truncated: true, size: Buffer.byteLength(json), prefix: Buffer.from(json).subarray(0, max).toString('utf8') };
}

export function buildEvent(facts: OperationFacts, settings: EventSettings, now = new Date()): AuditEvent {
  const extra: Record<string, string> = {};
  if (facts.userAgent) extra.user_agent = facts.userAgent;
  if (facts.sessionId) extra.session_id = facts.sessionId;
  if (facts.message.id !== undefined && facts.message.id !== null) extra.request_id = String(facts.message.id);
  const event: AuditEvent = {
    type: eventType(facts.message.method ?? ''),
    loggedAt: now.toISOString(),
    outcome: facts.outcome,
    source: { type: 'network', value: facts.sourceAddress, extra },
    subjects: subjects(facts.principal, facts.message),
    component: settings.component,
    target: { ...target(facts.message), endpoint: facts.endpoint },
    metadata: {
      auditId: randomUUID(),
      extra: { duration_ms: Math.round(facts.durationMs * 1000) / 1000, status: facts.status, transport: settings.transport },
    },
  };
  if (settings.includeRequestData) event.data = { request: cappedData(facts.message.params, settings.maxDataSize) };
  return event;
}
