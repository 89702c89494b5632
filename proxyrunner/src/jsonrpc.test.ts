import { describe, expect, it } from '@jest/globals';
import { INVALID_REQUEST, MAX_SESSION_ID_LENGTH, PARSE_ERROR, methodLabel, parseRpcBody, rpcErrorBody, sessionIdProblem } from './jsonrpc.ts';

const parse = (value: unknown) => parseRpcBody(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)));

describe('parseRpcBody', () => {
  it('classifies a request, its label and id', () => {
    const result = parse({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo' } });
    expect(result).toMatchObject({ ok: true, body: { label: 'tools/call', isInitialize: false, errorId: 7 } });
  });

  it('spots initialize', () => {
    expect(parse({ jsonrpc: '2.0', id: 'x', method: 'initialize', params: {} })).toMatchObject({ ok: true, body: { isInitialize: true } });
  });

  it('labels unknown methods "other", responses "response" and batches "batch"', () => {
    expect(parse({ jsonrpc: '2.0', id: 1, method: 'x/'.repeat(50) })).toMatchObject({ body: { label: 'other' } });
    expect(parse({ jsonrpc: '2.0', id: 1, result: {} })).toMatchObject({ body: { label: 'response', errorId: null } });
    expect(parse([{ jsonrpc: '2.0', method: 'notifications/initialized' }, { jsonrpc: '2.0', id: 2, method: 'ping' }])).toMatchObject({ body: { label: 'batch' } });
  });

  it.each([
    ['not json', PARSE_ERROR, /Parse error/],
    ['{"jsonrpc":"2.0",', PARSE_ERROR, /Parse error/],
    ['[]', INVALID_REQUEST, /empty batch/],
    ['{"id":1,"method":"ping"}', INVALID_REQUEST, /JSON-RPC 2.0/],
    ['{"jsonrpc":"2.0","id":{},"method":"ping"}', INVALID_REQUEST, /JSON-RPC 2.0/],
    ['{"jsonrpc":"2.0","id":1}', INVALID_REQUEST, /JSON-RPC 2.0/],
    ['"a string"', INVALID_REQUEST, /JSON-RPC 2.0/],
    ['{"jsonrpc":"2.0","method":42}', INVALID_REQUEST, /JSON-RPC 2.0/],
  ])('rejects %s', (body, code, message) => {
    const result = parse(body);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe(code);
      expect(result.message).toMatch(message);
    }
  });

  it('methodLabel keeps labels bounded', () => {
    expect(methodLabel('tools/list')).toBe('tools/list');
    expect(methodLabel('evil/' + Math.random())).toBe('other');
    expect(methodLabel(undefined)).toBe('response');
  });
});

describe('sessionIdProblem', () => {
  it('accepts visible ASCII', () => {
    expect(sessionIdProblem('0b5e7a7c-1f8e-4b8e-9c1d-1234567890ab')).toBeUndefined();
    expect(sessionIdProblem('!~' + 'x'.repeat(MAX_SESSION_ID_LENGTH - 2))).toBeUndefined();
  });
  it.each([
    ['', /empty/],
    ['a b', /visible ASCII/],
    ['tab\there', /visible ASCII/],
    ['ünïcode', /visible ASCII/],
    ['x'.repeat(MAX_SESSION_ID_LENGTH + 1), /longer than/],
  ])('rejects %j', (id, message) => expect(sessionIdProblem(id)).toMatch(message));
});

it('rpcErrorBody is a JSON-RPC error object', () => {
  expect(JSON.parse(rpcErrorBody(3, -32000, 'boom'))).toEqual({ jsonrpc: '2.0', id: 3, error: { code: -32000, message: 'boom' } });
});
