// JSON-RPC as the proxy sees it: what a request body holds (for routing, session
// bookkeeping and bounded metric labels) and the error bodies we answer with.

export type RpcId = string | number;

export interface RpcMessage {
  jsonrpc: '2.0';
  id?: RpcId | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export interface RpcBody {
  messages: RpcMessage[];
  /** Bounded label: a known MCP method, "other", "response" or "batch". */
  label: string;
  isInitialize: boolean;
  /** The id to echo in an error about the whole body (the single request's id, else null). */
  errorId: RpcId | null;
}

export type RpcParseResult = { ok: true; body: RpcBody } | { ok: false; code: number; message: string };

/** MCP methods across revisions 2024-11-05 … 2026-07-28; anything else is labelled "other". */
export const MCP_METHODS: ReadonlySet<string> = new Set([
  'initialize', 'ping', 'server/discover', 'subscriptions/listen',
  'tools/list', 'tools/call',
  'resources/list', 'resources/templates/list', 'resources/read', 'resources/subscribe', 'resources/unsubscribe',
  'prompts/list', 'prompts/get', 'completion/complete', 'logging/setLevel',
  'sampling/createMessage', 'elicitation/create', 'roots/list',
  'tasks/get', 'tasks/result', 'tasks/list', 'tasks/cancel',
  'notifications/initialized', 'notifications/cancelled', 'notifications/progress', 'notifications/message',
  'notifications/roots/list_changed', 'notifications/resources/updated', 'notifications/resources/list_changed',
  'notifications/tools/list_changed', 'notifications/prompts/list_changed', 'notifications/elicitation/complete',
  'notifications/tasks/status',
]);

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const INTERNAL_ERROR = -32603;
/** Implementation-defined server errors (-32000 … -32099). */
export const UPSTREAM_ERROR = -32000;
export const SESSION_NOT_FOUND = -32001;

export function methodLabel(method: string | undefined): string {
  if (method === undefined) return 'response';
  return MCP_METHODS.has(method) ? method : 'other';
}

function isRpcMessage(value: unknown): value is RpcMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return false;
  if ('id' in m && m.id !== null && typeof m.id !== 'string' && typeof m.id !== 'number') return false;
  if (m.method !== undefined) return typeof m.method === 'string' && (m.params === undefined || typeof m.params === 'object');
  return ('result' in m || 'error' in m) && 'id' in m;
}

/** Parses and validates a POST body. Batches (2025-03-26) are accepted as arrays. */
export function parseRpcBody(raw: Buffer): RpcParseResult {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    return { ok: false, code: PARSE_ERROR, message: `Parse error: body is not valid JSON (${(err as Error).message})` };
  }
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) return { ok: false, code: INVALID_REQUEST, message: 'Invalid Request: empty batch' };
  for (const item of list) {
    if (!isRpcMessage(item)) {
      return { ok: false, code: INVALID_REQUEST, message: 'Invalid Request: not a JSON-RPC 2.0 message (need "jsonrpc":"2.0" and a method, result or error)' };
    }
  }
  const messages = list as RpcMessage[];
  const first = messages[0] as RpcMessage;
  const single = messages.length === 1;
  return {
    ok: true,
    body: {
      messages,
      label: single ? methodLabel(first.method) : 'batch',
      isInitialize: messages.some((m) => m.method === 'initialize' && m.id !== undefined),
      errorId: single && first.method !== undefined && first.id !== undefined ? first.id : null,
    },
  };
}

export function rpcErrorBody(id: RpcId | null, code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } });
}

/** Session IDs must be visible ASCII (0x21-0x7E); anything longer than this is abuse. */
export const MAX_SESSION_ID_LENGTH = 512;
const SESSION_ID = /^[\x21-\x7E]+$/;

export function sessionIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'Mcp-Session-Id is empty';
  if (id.length > MAX_SESSION_ID_LENGTH) return `Mcp-Session-Id is longer than ${MAX_SESSION_ID_LENGTH} characters`;
  if (!SESSION_ID.test(id)) return 'Mcp-Session-Id may contain only visible ASCII characters (0x21-0x7E)';
  return undefined;
}
