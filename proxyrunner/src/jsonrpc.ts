// JSON-RPC as the proxy sees it: what a request body holds (for routing, session
// bookkeeping and bounded metric labels), the rule for what the proxy accepts, and the
// error bodies we answer with.
import { jsonShapeProblem } from './jsonShape.ts';

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
  /** Sent as a JSON array (a batch, even of one message). */
  batch: boolean;
  /** Bounded label: a known MCP method, "other", "response" or "batch". */
  label: string;
  isInitialize: boolean;
  /** The id to echo in an error about the whole body (the single request's id, else null). */
  errorId: RpcId | null;
}

export type RpcParseResult = { ok: true; body: RpcBody } | { ok: false; code: number; message: string };

/** MCP methods across revisions 2024-11-05 … 2026-07-28; anything else is labelled "other". */
export const MCP_METHODS: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'server/discover',
  'subscriptions/listen',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
  'tasks/get',
  'tasks/result',
  'tasks/list',
  'tasks/cancel',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/message',
  'notifications/roots/list_changed',
  'notifications/resources/updated',
  'notifications/resources/list_changed',
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/elicitation/complete',
  'notifications/tasks/status',
]);

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const INTERNAL_ERROR = -32603;
/** Implementation-defined server errors (-32000 … -32099). */
export const UPSTREAM_ERROR = -32000;
export const SESSION_NOT_FOUND = -32001;
/** A request the authorization policies do not allow (answered with HTTP 403). */
export const FORBIDDEN = -32003;

export function methodLabel(method: string | undefined): string {
  if (method === undefined) return 'response';
  return MCP_METHODS.has(method) ? method : 'other';
}

/** Deepest JSON nesting the proxy parses or re-serialises (JSON.stringify recurses). */
export const MAX_JSON_DEPTH = 64;
/** Most messages in one batch (2025-03-26 batches). */
export const MAX_BATCH_LENGTH = 100;
/** Longest string request id, method name or progress token the proxy accepts. */
export const MAX_ID_LENGTH = 256;
export const MAX_METHOD_LENGTH = 256;

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A request id the proxy can route: a non-empty bounded string or a safe integer (MCP: never null). */
export function isRequestId(value: unknown): value is RpcId {
  if (typeof value === 'string') return value.length > 0 && value.length <= MAX_ID_LENGTH;
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/**
 * What is wrong with one message, for the proxy's purposes (undefined: nothing).
 * Stricter than JSON-RPC where MCP is: ids are never null, params and _meta are
 * objects, a message is exactly one of request, notification or response.
 */
export function rpcMessageProblem(value: unknown): string | undefined {
  if (!isPlainObject(value)) return 'a message must be a JSON object';
  if (value.jsonrpc !== '2.0') return '"jsonrpc" must be "2.0"';
  const hasId = 'id' in value;
  if ('method' in value) {
    const { method, params } = value;
    if (typeof method !== 'string' || method.length === 0 || method.length > MAX_METHOD_LENGTH)
      return `"method" must be a non-empty string of at most ${MAX_METHOD_LENGTH} characters`;
    if ('result' in value || 'error' in value) return 'a message cannot be both a request and a response';
    if (hasId && !isRequestId(value.id))
      return `a request "id" must be a non-empty string (at most ${MAX_ID_LENGTH} characters) or an integer; notifications have no "id"`;
    if (method === 'initialize' && !hasId) return 'initialize must be a request (with an "id")';
    if (params === undefined) return undefined;
    if (!isPlainObject(params)) return '"params" must be an object';
    const meta = params._meta;
    if (meta === undefined) return undefined;
    if (!isPlainObject(meta)) return '"params._meta" must be an object';
    const token = meta.progressToken;
    if (token !== undefined && !isRequestId(token))
      return `"params._meta.progressToken" must be a non-empty string (at most ${MAX_ID_LENGTH} characters) or an integer`;
    return undefined;
  }
  if (!hasId || !isRequestId(value.id)) return 'a response needs the "id" (a non-empty string or an integer) of the request it answers';
  const hasResult = 'result' in value;
  const hasError = 'error' in value;
  if (hasResult === hasError) return 'a response has exactly one of "result" and "error"';
  if (hasResult) return isPlainObject(value.result) ? undefined : '"result" must be an object';
  const error = value.error;
  if (!isPlainObject(error) || !Number.isSafeInteger(error.code) || typeof error.message !== 'string')
    return '"error" must be an object with an integer "code" and a string "message"';
  return undefined;
}

const invalid = (problem: string): RpcParseResult => ({
  ok: false,
  code: INVALID_REQUEST,
  message: `Invalid Request: not a valid JSON-RPC 2.0 message for MCP: ${problem}`,
});

/**
 * Parses and validates a POST body: the edge every client message passes. Nesting depth
 * and duplicate message members are checked before parsing; every message after it.
 * Batches (2025-03-26) are accepted as arrays, without initialize and without two
 * requests sharing an id.
 */
export function parseRpcBody(raw: Buffer): RpcParseResult {
  const shape = jsonShapeProblem(raw, { maxDepth: MAX_JSON_DEPTH, uniqueMessageKeys: true });
  if (shape !== undefined) return invalid(shape);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    return { ok: false, code: PARSE_ERROR, message: `Parse error: body is not valid JSON (${(err as Error).message.slice(0, 200)})` };
  }
  const batch = Array.isArray(value);
  const list: unknown[] = batch ? (value as unknown[]) : [value];
  if (list.length === 0) return { ok: false, code: INVALID_REQUEST, message: 'Invalid Request: empty batch' };
  if (list.length > MAX_BATCH_LENGTH) return invalid(`a batch holds at most ${MAX_BATCH_LENGTH} messages`);
  for (const item of list) {
    const problem = rpcMessageProblem(item);
    if (problem !== undefined) return invalid(problem);
  }
  const messages = list as RpcMessage[];
  if (batch) {
    const ids = new Set<string>();
    for (const m of messages) {
      if (m.method === 'initialize') return invalid('initialize must be sent alone, not in a batch');
      if (m.method === undefined || m.id === undefined || m.id === null) continue;
      const key = typeof m.id === 'number' ? `n${m.id}` : `s${m.id}`;
      if (ids.has(key)) return invalid('two requests in one batch share an id');
      ids.add(key);
    }
  }
  const first = messages[0] as RpcMessage;
  const single = messages.length === 1;
  return {
    ok: true,
    body: {
      messages,
      batch,
      label: single ? methodLabel(first.method) : 'batch',
      isInitialize: single && first.method === 'initialize',
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
