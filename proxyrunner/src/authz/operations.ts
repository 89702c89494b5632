// Which Cedar request an MCP message is, with ToolHive's action and entity names so their
// policies apply unchanged:
//   tools/call          → Action::"call_tool"     on Tool::"<name>"      (context: arguments)
//   prompts/get         → Action::"get_prompt"    on Prompt::"<name>"    (context: arguments)
//   resources/read      → Action::"read_resource" on Resource::"<uri, sanitized>"
//   tools|prompts|resources/list → Action::"list_tools|list_prompts|list_resources" on
//                         FeatureType::"tool|prompt|resource"; the answer is filtered item by
//                         item with the call/get/read action (ToolHive's semantics)
// Two more carry a tool/prompt/resource and are checked like the operation they reveal:
//   resources/subscribe → read_resource on that resource
//   completion/complete → get_prompt or read_resource on the referenced prompt/resource
// Everything else (initialize, ping, notifications, responses, tasks/*, …) is not an
// operation on a named feature and passes, as in ToolHive.
import type { RpcMessage } from '../jsonrpc.ts';

export type Feature = 'tool' | 'prompt' | 'resource';

export interface Operation {
  /** Cedar action id, e.g. "call_tool". */
  action: string;
  feature: Feature;
  /** "call" | "get" | "read" | "list" (the resource's `operation` attribute). */
  operation: 'call' | 'get' | 'read' | 'list';
  /** Tool/prompt name or resource URI; undefined for list operations. */
  target: string | undefined;
  /** tools/call and prompts/get arguments (the request's own object, not copied). */
  arguments: Readonly<Record<string, unknown>> | undefined;
}

/** The list methods whose results are filtered, and the per-item action and key. */
export const LIST_METHODS: Readonly<Record<string, { feature: Feature; field: 'tools' | 'prompts' | 'resources'; key: 'name' | 'uri' }>> = {
  'tools/list': { feature: 'tool', field: 'tools', key: 'name' },
  'prompts/list': { feature: 'prompt', field: 'prompts', key: 'name' },
  'resources/list': { feature: 'resource', field: 'resources', key: 'uri' },
};

const ITEM_ACTION: Readonly<Record<Feature, { action: string; operation: 'call' | 'get' | 'read' }>> = {
  tool: { action: 'call_tool', operation: 'call' },
  prompt: { action: 'get_prompt', operation: 'get' },
  resource: { action: 'read_resource', operation: 'read' },
};

/** The operation on one item of a feature (used for requests and for list filtering). */
export function itemOperation(feature: Feature, target: string, args?: Readonly<Record<string, unknown>>): Operation {
  const { action, operation } = ITEM_ACTION[feature];
  return { action, feature, operation, target, arguments: args };
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');
const record = (value: unknown): Readonly<Record<string, unknown>> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;

/** The authorization question a request asks, or undefined when it asks none. */
export function operationOf(message: RpcMessage): Operation | undefined {
  const { method, params } = message;
  if (method === undefined) return undefined;
  switch (method) {
    case 'tools/call':
      return itemOperation('tool', text(params?.name), record(params?.arguments));
    case 'prompts/get':
      return itemOperation('prompt', text(params?.name), record(params?.arguments));
    case 'resources/read':
    case 'resources/subscribe':
      return itemOperation('resource', text(params?.uri));
    case 'completion/complete': {
      const ref = record(params?.ref);
      if (ref?.type === 'ref/prompt') return itemOperation('prompt', text(ref.name));
      if (ref?.type === 'ref/resource') return itemOperation('resource', text(ref.uri));
      return undefined;
    }
  }
  const list = LIST_METHODS[method];
  if (list) return { action: `list_${list.field}`, feature: list.feature, operation: 'list', target: undefined, arguments: undefined };
  return undefined;
}
