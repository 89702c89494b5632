// Tool control applied to messages (pure): what a tools/call becomes on its way upstream,
// and what a tools/list result looks like on its way to the client.
//
// Names: a tool renamed A → B is seen and called as B; a call of B reaches the upstream as
// A; A itself is not callable (the client never saw it). If the upstream also has a tool
// named B, that one is shadowed: hidden from lists, and a call of B means the renamed A.
// Filter: with a toolsFilter, a tool is visible and callable only when its client name or
// its upstream name is listed. A call that is not allowed is refused with the error an MCP
// server gives for a tool it does not have (-32602 "Unknown tool"), so a filtered tool
// looks like no tool at all.
// Lists: tools removed by the filter or shadowed are dropped; overrides replace name and
// description and merge annotations field by field; every other field of the tool and of
// the result (nextCursor, _meta) is kept, so a page that filters to empty still carries
// its cursor. Items without a string name are dropped (fail closed).
import type { RpcMessage } from '../jsonrpc.ts';
import type { ToolConfig } from '../../../common/contract/toolConfig.ts';

/** JSON-RPC "Invalid params": what MCP servers answer for an unknown tool. */
export const INVALID_PARAMS = -32602;

export type RefusalReason = 'filtered' | 'renamed';

export type CallRoute = { kind: 'pass' } | { kind: 'rename'; upstreamName: string } | { kind: 'refuse'; reason: RefusalReason };

const PASS: CallRoute = { kind: 'pass' };

/** Where a tools/call of `name` (as the client sent it) goes. */
export function routeToolCall(config: ToolConfig, name: string): CallRoute {
  const renamedFrom = config.upstreamNameOf.get(name);
  if (renamedFrom !== undefined) {
    if (config.filter && !config.filter.has(name) && !config.filter.has(renamedFrom)) return { kind: 'refuse', reason: 'filtered' };
    return { kind: 'rename', upstreamName: renamedFrom };
  }
  const override = config.overrides.get(name);
  if (override?.name !== undefined && override.name !== name) return { kind: 'refuse', reason: 'renamed' };
  if (config.filter && !config.filter.has(name)) return { kind: 'refuse', reason: 'filtered' };
  return PASS;
}

/** The tools/call request as the upstream must see it (a copy; the client's stays as sent). */
export function renameCall(message: RpcMessage, upstreamName: string): RpcMessage {
  return { ...message, params: { ...message.params, name: upstreamName } };
}

/** The error answer to a refused tools/call. */
export function refusal(message: RpcMessage, name: string): RpcMessage {
  return { jsonrpc: '2.0', id: message.id ?? null, error: { code: INVALID_PARAMS, message: `Unknown tool: ${name}` } };
}

/** A tools/list response as the client must see it; anything else (errors, odd shapes) unchanged. */
export function rewriteToolList(config: ToolConfig, message: RpcMessage): RpcMessage {
  const result = message.result;
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return message;
  const tools = (result as Record<string, unknown>).tools;
  if (!Array.isArray(tools)) return message;
  const kept: unknown[] = [];
  for (const tool of tools) {
    if (typeof tool !== 'object' || tool === null || Array.isArray(tool)) continue;
    const upstreamName = (tool as Record<string, unknown>).name;
    if (typeof upstreamName !== 'string') continue;
    const override = config.overrides.get(upstreamName);
    const clientName = override?.name ?? upstreamName;
    // Another tool was renamed to this one's name: calls of it go there, so it is hidden.
    const shadowedBy = config.upstreamNameOf.get(upstreamName);
    if (clientName === upstreamName && shadowedBy !== undefined && shadowedBy !== upstreamName) continue;
    if (config.filter && !config.filter.has(clientName) && !config.filter.has(upstreamName)) continue;
    if (!override) {
      kept.push(tool);
      continue;
    }
    const rewritten: Record<string, unknown> = { ...(tool as Record<string, unknown>), name: clientName };
    if (override.description !== undefined) rewritten.description = override.description;
    if (override.annotations) {
      const current = rewritten.annotations;
      const base = typeof current === 'object' && current !== null && !Array.isArray(current) ? current : {};
      rewritten.annotations = { ...base, ...override.annotations };
    }
    kept.push(rewritten);
  }
  return { ...message, result: { ...(result as Record<string, unknown>), tools: kept } };
}
