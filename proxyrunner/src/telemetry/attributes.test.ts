import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import {
  hashSessionId,
  mcpAttributes,
  sessionIdAttribute,
  SessionIdHashes,
  metaCarrier,
  rpcOutcome,
  spanName,
  upstreamAttributes,
  upstreamCallAttributes,
  withMetaContext,
} from './attributes.ts';
import type { RpcMessage } from '../jsonrpc.ts';

const call = (params: Record<string, unknown>, method = 'tools/call'): RpcMessage => ({ jsonrpc: '2.0', id: 7, method, params });

describe('span names and attributes (OpenTelemetry MCP semantic conventions)', () => {
  it('name a span by method and, for tools and prompts only, the target', () => {
    expect(spanName(call({ name: 'get-weather' }))).toBe('tools/call get-weather');
    expect(spanName(call({ name: 'greet' }, 'prompts/get'))).toBe('prompts/get greet');
    expect(spanName(call({ uri: 'file:///a' }, 'resources/read'))).toBe('resources/read');
    expect(spanName(call({}, 'tools/list'))).toBe('tools/list');
    expect(spanName(call({ name: 'x'.repeat(1000) })).length).toBeLessThanOrEqual(139);
  });

  it('record the method, request id, tool, protocol version and a hashed session id', () => {
    const hashes = new SessionIdHashes();
    const attributes = mcpAttributes(call({ name: 'get-weather' }), sessionIdAttribute('session-1', 'hashed', hashes), {
      'mcp-protocol-version': '2025-06-18',
    });
    expect(attributes).toEqual({
      'mcp.method.name': 'tools/call',
      'jsonrpc.request.id': '7',
      'mcp.session.id': hashSessionId('session-1'),
      'mcp.protocol.version': '2025-06-18',
      'gen_ai.tool.name': 'get-weather',
      'gen_ai.operation.name': 'execute_tool',
    });
    expect(attributes['mcp.session.id']).not.toContain('session-1');
    expect(mcpAttributes(call({ name: 'x' }), sessionIdAttribute('session-1', 'omitted', hashes), {})['mcp.session.id']).toBeUndefined();
    expect(mcpAttributes(call({ uri: 'file:///a' }, 'resources/read'), sessionIdAttribute(undefined, 'hashed', hashes), {})['mcp.resource.uri']).toBe(
      'file:///a',
    );
  });

  it('hash a session id to 32 hex characters, the same answer cached or not, and keep at most the capacity of answers', () => {
    expect(hashSessionId('session-1')).toBe(createHash('sha256').update('session-1').digest('hex').slice(0, 32));
    expect(hashSessionId('session-1')).not.toBe(hashSessionId('session-2'));
    const hashes = new SessionIdHashes(3);
    for (let i = 0; i < 10; i++) {
      expect(hashes.get(`s-${i}`)).toBe(hashSessionId(`s-${i}`));
      expect(hashes.get(`s-${i}`)).toBe(hashSessionId(`s-${i}`));
      expect(hashes.size).toBeLessThanOrEqual(3);
    }
    expect(hashes.size).toBe(3);
    // The oldest went first: an early session is hashed again, correctly.
    expect(hashes.get('s-0')).toBe(hashSessionId('s-0'));
  });

  it('give the upstream call the method and request id only (the rest is on the server span)', () => {
    expect(upstreamCallAttributes(call({ name: 'get-weather' }))).toEqual({ 'mcp.method.name': 'tools/call', 'jsonrpc.request.id': '7' });
    expect(upstreamCallAttributes({ jsonrpc: '2.0', method: 'notifications/initialized' })).toEqual({ 'mcp.method.name': 'notifications/initialized' });
  });

  it('describe the upstream: a pipe for stdio, an address for HTTP', () => {
    expect(upstreamAttributes('stdio', undefined)).toEqual({ 'network.transport': 'pipe' });
    expect(upstreamAttributes('sse', new URL('https://up.example/sse'))).toMatchObject({ 'server.address': 'up.example', 'server.port': 443 });
  });

  it('read and write the trace context in params._meta without touching the rest of it', () => {
    const message = call({ name: 't', _meta: { progressToken: 3, traceparent: '00-a-b-01' } });
    expect(metaCarrier(message)).toEqual({ traceparent: '00-a-b-01' });
    withMetaContext(message, { traceparent: '00-c-d-01' });
    expect(message.params).toEqual({ name: 't', _meta: { progressToken: 3, traceparent: '00-c-d-01' } });
    const bare: RpcMessage = { jsonrpc: '2.0', id: 1, method: 'ping' };
    withMetaContext(bare, { traceparent: '00-c-d-01' });
    expect(bare.params).toEqual({ _meta: { traceparent: '00-c-d-01' } });
    expect(metaCarrier(call({ _meta: 'x' }))).toBeUndefined();
  });
});

describe('the outcome of a JSON-RPC answer (error.type per the MCP conventions)', () => {
  it('is the error code for a JSON-RPC error, with its message', () => {
    expect(rpcOutcome({ jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'Unknown tool' } })).toEqual({
      errorType: '-32602',
      statusCode: '-32602',
      description: 'Unknown tool',
    });
  });

  it('is _OTHER for an error without an integer code, and caps the message', () => {
    const outcome = rpcOutcome({ jsonrpc: '2.0', id: 1, error: { code: 'x', message: 'm'.repeat(5_000) } as unknown as { code: number; message: string } });
    expect(outcome?.errorType).toBe('_OTHER');
    expect(outcome?.statusCode).toBeUndefined();
    expect(outcome?.description?.length).toBeLessThanOrEqual(128);
  });

  it('is tool_error for a CallToolResult with isError, and nothing for a success', () => {
    expect(rpcOutcome({ jsonrpc: '2.0', id: 1, result: { isError: true, content: [] } })).toEqual({
      errorType: 'tool_error',
      statusCode: undefined,
      description: undefined,
    });
    expect(rpcOutcome({ jsonrpc: '2.0', id: 1, result: { isError: false, content: [] } })).toBeUndefined();
    expect(rpcOutcome({ jsonrpc: '2.0', id: 1, result: {} })).toBeUndefined();
  });
});
