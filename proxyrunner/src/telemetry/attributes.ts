// What a span says about one MCP request, per the OpenTelemetry MCP semantic conventions
// (semantic-conventions-genai, docs/gen-ai/mcp.md; status Development): the span name
// `{mcp.method.name} {target}` with target the tool or prompt name (never a resource URI: high
// cardinality), and the attributes that exist for it. Pure functions over the parsed message and
// the request headers; no OpenTelemetry import (so they are unit-tested without the SDK), and the
// session id is hashed or left out, never recorded as it is (it is a bearer of the session).
import { hash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { RpcMessage } from '../jsonrpc.ts';
import type { SessionIdMode } from './config.ts';

export type SpanAttributes = Record<string, string | number>;

/** Span names and string attributes from a client are capped (the span limits cap the rest). */
const MAX_NAME_CHARS = 128;

const stringParam = (message: RpcMessage, key: string): string | undefined => {
  const value = message.params?.[key];
  return typeof value === 'string' && value !== '' ? value.slice(0, MAX_NAME_CHARS) : undefined;
};

/** The low-cardinality target of the span name: the tool or prompt, when the method has one. */
export function spanTarget(message: RpcMessage): string | undefined {
  if (message.method === 'tools/call') return stringParam(message, 'name');
  if (message.method === 'prompts/get') return stringParam(message, 'name');
  return undefined;
}

export function spanName(message: RpcMessage): string {
  const method = (message.method ?? 'response').slice(0, MAX_NAME_CHARS);
  const target = spanTarget(message);
  return target === undefined ? method : `${method} ${target}`;
}

/** SHA-256 of the session id, first 16 bytes in hex: correlates a session's spans without revealing it. */
export function hashSessionId(sessionId: string): string {
  return hash('sha256', sessionId, 'hex').slice(0, 32);
}

/**
 * hashSessionId with the answers for the most recently seen sessions kept: a session sends
 * many requests, and hashing each one's id again was a measurable part of the per-request
 * tracing cost. At most `capacity` entries (the oldest goes first), so memory stays bounded
 * whatever the number of sessions.
 */
export class SessionIdHashes {
  readonly #capacity: number;
  readonly #hashes = new Map<string, string>();

  constructor(capacity = 512) {
    this.#capacity = capacity;
  }

  get(sessionId: string): string {
    let hashed = this.#hashes.get(sessionId);
    if (hashed === undefined) {
      hashed = hashSessionId(sessionId);
      if (this.#hashes.size >= this.#capacity) this.#hashes.delete(this.#hashes.keys().next().value as string);
      this.#hashes.set(sessionId, hashed);
    }
    return hashed;
  }

  get size(): number {
    return this.#hashes.size;
  }
}

/** The mcp.session.id attribute for a request: the hashed id, or none (no session, or --otel-session-id omitted). */
export function sessionIdAttribute(sessionId: string | undefined, mode: SessionIdMode, hashes: SessionIdHashes): string | undefined {
  return sessionId !== undefined && mode === 'hashed' ? hashes.get(sessionId) : undefined;
}

/** The MCP attributes of the server span; `hashedSessionId` from sessionIdAttribute. */
export function mcpAttributes(message: RpcMessage, hashedSessionId: string | undefined, headers: IncomingHttpHeaders): SpanAttributes {
  const attributes: SpanAttributes = { 'mcp.method.name': (message.method ?? 'response').slice(0, MAX_NAME_CHARS) };
  if (message.id !== undefined && message.id !== null) attributes['jsonrpc.request.id'] = String(message.id).slice(0, MAX_NAME_CHARS);
  if (hashedSessionId !== undefined) attributes['mcp.session.id'] = hashedSessionId;
  const protocol = headers['mcp-protocol-version'] ?? (message.method === 'initialize' ? stringParam(message, 'protocolVersion') : undefined);
  if (typeof protocol === 'string') attributes['mcp.protocol.version'] = protocol.slice(0, 32);
  if (message.method === 'tools/call') {
    const tool = stringParam(message, 'name');
    if (tool !== undefined) attributes['gen_ai.tool.name'] = tool;
    attributes['gen_ai.operation.name'] = 'execute_tool';
  } else if (message.method === 'prompts/get') {
    const prompt = stringParam(message, 'name');
    if (prompt !== undefined) attributes['gen_ai.prompt.name'] = prompt;
  } else if (message.method === 'resources/read' || message.method === 'resources/subscribe' || message.method === 'resources/unsubscribe') {
    const uri = message.params?.['uri'];
    if (typeof uri === 'string') attributes['mcp.resource.uri'] = uri.slice(0, 1024);
  }
  return attributes;
}

/**
 * What the upstream client span carries of the request: the method and the JSON-RPC id, which
 * describe the call it makes. The rest of mcpAttributes (session, protocol version, tool, prompt,
 * resource) is on its parent, the server span, and is not repeated: every attribute is validated,
 * stored and serialized per span, and the export of the spans is most of the tracing CPU.
 */
export function upstreamCallAttributes(message: RpcMessage): SpanAttributes {
  const attributes: SpanAttributes = { 'mcp.method.name': (message.method ?? 'response').slice(0, MAX_NAME_CHARS) };
  if (message.id !== undefined && message.id !== null) attributes['jsonrpc.request.id'] = String(message.id).slice(0, MAX_NAME_CHARS);
  return attributes;
}

/** What every server span of this proxy says alike (set once per proxy, beside mcpAttributes and clientSideAttributes). */
export const SERVER_SPAN_CONSTANTS: Readonly<SpanAttributes> = {
  'jsonrpc.protocol.version': '2.0',
  'network.transport': 'tcp',
  'network.protocol.name': 'http',
};

/** The HTTP exchange with the client, on the server span (with SERVER_SPAN_CONSTANTS). */
export function clientSideAttributes(remoteAddress: string | undefined, remotePort: number | undefined, httpVersion: string): SpanAttributes {
  const attributes: SpanAttributes = { 'network.protocol.version': httpVersion };
  if (remoteAddress) attributes['client.address'] = remoteAddress;
  if (remotePort !== undefined) attributes['client.port'] = remotePort;
  return attributes;
}

/** Where the upstream call goes, on the client span: a pipe to a stdio process, or TCP to a URL (the same for every client span of this proxy). */
export function upstreamAttributes(transport: 'stdio' | 'sse' | 'streamable-http', target: URL | undefined): SpanAttributes {
  if (transport === 'stdio' || !target) return { 'network.transport': 'pipe' };
  const port = target.port ? Number(target.port) : target.protocol === 'https:' ? 443 : 80;
  return { 'network.transport': 'tcp', 'network.protocol.name': 'http', 'server.address': target.hostname, 'server.port': port };
}

/** error.type for an HTTP status: the status itself from 400 on (HTTP semantic conventions), 499 when the client left. */
export function errorTypeOf(status: number): string | undefined {
  return status >= 400 ? String(status) : undefined;
}

/**
 * A trace context the client sent in the request's params._meta (the MCP way; stdio has no
 * headers), used when the HTTP request carries no traceparent header.
 */
export function metaCarrier(message: RpcMessage): Record<string, string> | undefined {
  const meta = message.params?.['_meta'];
  if (typeof meta !== 'object' || meta === null) return undefined;
  const { traceparent, tracestate } = meta as Record<string, unknown>;
  if (typeof traceparent !== 'string') return undefined;
  return typeof tracestate === 'string' ? { traceparent, tracestate } : { traceparent };
}

/** Puts the upstream trace context into a request's params._meta (copying params: the message may be shared). */
export function withMetaContext(message: RpcMessage, carrier: Readonly<Record<string, string>>): void {
  const params = message.params ?? {};
  const meta = params['_meta'];
  const base = typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {};
  message.params = { ...params, _meta: { ...base, ...carrier } };
}

/** How an MCP request failed inside a successful HTTP answer (MCP semantic conventions, error.type). */
export interface RpcOutcome {
  /** error.type: the JSON-RPC error code as a string, or `tool_error` for a CallToolResult with isError. */
  errorType: string;
  /** rpc.response.status_code: the JSON-RPC error code, when the answer is a JSON-RPC error. */
  statusCode: string | undefined;
  /** The span status description: the JSON-RPC error message (capped). */
  description: string | undefined;
}

/** The failure a JSON-RPC response reports, if any. */
export function rpcOutcome(response: RpcMessage): RpcOutcome | undefined {
  const error = response.error as unknown;
  if (typeof error === 'object' && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    const errorType = typeof code === 'number' && Number.isInteger(code) ? String(code) : '_OTHER';
    return {
      errorType,
      statusCode: errorType === '_OTHER' ? undefined : errorType,
      description: typeof message === 'string' ? message.slice(0, MAX_NAME_CHARS) : undefined,
    };
  }
  const result = response.result;
  if (typeof result === 'object' && result !== null && (result as { isError?: unknown }).isError === true) {
    return { errorType: 'tool_error', statusCode: undefined, description: undefined };
  }
  return undefined;
}
