// List results filtered to what the principal may use (pure): tools/list keeps the tools
// the caller may call_tool, prompts/list the prompts it may get_prompt, resources/list the
// resources it may read_resource — ToolHive's rule, so one policy governs both seeing and
// using an item. Items without a usable name/uri are dropped (fail closed); everything
// else in the result (nextCursor, _meta) is kept. Errors pass unchanged.
import type { RpcMessage } from '../jsonrpc.ts';
import { itemOperation, LIST_METHODS, type Operation } from './operations.ts';

export function filterListResponse(method: string, message: RpcMessage, allowed: (operation: Operation) => boolean): RpcMessage {
  const list = LIST_METHODS[method];
  const result = message.result;
  if (!list || typeof result !== 'object' || result === null || Array.isArray(result)) return message;
  const items = (result as Record<string, unknown>)[list.field];
  if (!Array.isArray(items)) return message;
  const kept = items.filter((item: unknown) => {
    const key = typeof item === 'object' && item !== null ? (item as Record<string, unknown>)[list.key] : undefined;
    return typeof key === 'string' && allowed(itemOperation(list.feature, key));
  });
  return { ...message, result: { ...(result as Record<string, unknown>), [list.field]: kept } };
}
