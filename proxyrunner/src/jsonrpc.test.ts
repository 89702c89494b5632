import { describe, expect, it } from '@jest/globals';
import {
  INVALID_REQUEST,
  MAX_BATCH_LENGTH,
  MAX_JSON_DEPTH,
  MAX_SESSION_ID_LENGTH,
  PARSE_ERROR,
  methodLabel,
  parseRpcBody,
  rpcErrorBody,
  rpcMessageProblem,
  sessionIdProblem,
} from './jsonrpc.ts';

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
    expect(
      parse([
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 2, method: 'ping' },
      ]),
    ).toMatchObject({ body: { label: 'batch' } });
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

describe('the strict edge: what a valid MCP JSON-RPC message is for the proxy', () => {
  const req = (extra: Record<string, unknown>) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', ...extra });

  it.each([
    ['params null', req({ params: null }), /"params" must be an object/],
    ['params an array', req({ params: [1, 2] }), /"params" must be an object/],
    ['params a string', req({ params: 'x' }), /"params" must be an object/],
    ['_meta null', req({ params: { _meta: null } }), /_meta" must be an object/],
    ['_meta a string', req({ params: { _meta: 'x' } }), /_meta" must be an object/],
    ['_meta an array', req({ params: { _meta: [] } }), /_meta" must be an object/],
    ['progressToken an object', req({ params: { _meta: { progressToken: {} } } }), /progressToken/],
    ['progressToken a float', req({ params: { _meta: { progressToken: 1.5 } } }), /progressToken/],
    ['id a float', req({ id: 1.5 }), /request "id"/],
    ['id beyond 2^53', req({ id: 2 ** 60 }), /request "id"/],
    ['id empty', req({ id: '' }), /request "id"/],
    ['id too long', req({ id: 'x'.repeat(1000) }), /request "id"/],
    ['id an object', req({ id: {} }), /request "id"/],
    ['id null on a notification', { jsonrpc: '2.0', id: null, method: 'notifications/initialized' }, /notifications have no "id"/],
    ['method a number', { jsonrpc: '2.0', id: 1, method: 42 }, /"method" must be/],
    ['method empty', { jsonrpc: '2.0', id: 1, method: '' }, /"method" must be/],
    ['request and response at once', req({ result: {} }), /both a request and a response/],
    ['initialize without an id', { jsonrpc: '2.0', method: 'initialize', params: {} }, /initialize must be a request/],
    ['a response without id', { jsonrpc: '2.0', result: {} }, /needs the "id"/],
    ['a response with id null', { jsonrpc: '2.0', id: null, error: { code: 1, message: 'x' } }, /needs the "id"/],
    ['a response with result and error', { jsonrpc: '2.0', id: 1, result: {}, error: { code: 1, message: 'x' } }, /exactly one/],
    ['a response whose result is not an object', { jsonrpc: '2.0', id: 1, result: 'x' }, /"result" must be an object/],
    ['an error without a code', { jsonrpc: '2.0', id: 1, error: { message: 'x' } }, /"error" must be/],
    ['a bare array in a batch', [[{ jsonrpc: '2.0', id: 1, method: 'ping' }]], /must be a JSON object/],
  ])('rejects %s', (_name, value, message) => {
    const result = parse(value);
    expect(result).toMatchObject({ ok: false, code: INVALID_REQUEST });
    if (!result.ok) expect(result.message).toMatch(message);
  });

  it('rejects nesting past the limit before parsing, naming the limit', () => {
    const deep = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    const result = parse(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"x":${deep}}}`);
    expect(result).toMatchObject({ ok: false, code: INVALID_REQUEST });
    if (!result.ok) expect(result.message).toMatch(`deeper than ${MAX_JSON_DEPTH} levels`);
    expect(parse(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":${'['.repeat(MAX_JSON_DEPTH - 3)}${']'.repeat(MAX_JSON_DEPTH - 3)}}}`).ok).toBe(true);
  });

  it('rejects duplicate members, which JSON.parse would silently resolve', () => {
    expect(parse('{"jsonrpc":"2.0","id":1,"method":"ping","method":"initialize"}')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/duplicate member "method"/),
    });
  });

  it('rejects __proto__ members (an SDK server that copies by assignment would adopt them as a prototype) and keeps constructor as data', () => {
    expect(parse('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"__proto__":{"_meta":5},"name":"echo"}}')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/__proto__/),
    });
    const result = parse('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"constructor":{"prototype":1},"name":"echo"}}');
    expect(result.ok).toBe(true);
    if (result.ok) expect(Object.getPrototypeOf(result.body.messages[0]?.params)).toBe(Object.prototype);
  });

  it('bounds batches: not empty, not huge, no initialize inside, no shared ids', () => {
    const ping = (id: number) => ({ jsonrpc: '2.0', id, method: 'ping' });
    expect(parse(Array.from({ length: MAX_BATCH_LENGTH }, (_, i) => ping(i))).ok).toBe(true);
    expect(parse(Array.from({ length: MAX_BATCH_LENGTH + 1 }, (_, i) => ping(i)))).toMatchObject({ ok: false, message: expect.stringMatching(/at most/) });
    expect(parse([ping(1), { jsonrpc: '2.0', id: 2, method: 'initialize', params: {} }])).toMatchObject({
      ok: false,
      message: expect.stringMatching(/initialize must be sent alone/),
    });
    expect(parse([ping(1), ping(1)])).toMatchObject({ ok: false, message: expect.stringMatching(/share an id/) });
    expect(parse([ping(1), { jsonrpc: '2.0', id: '1', method: 'ping' }]).ok).toBe(true);
  });

  it('accepts every ordinary MCP message', () => {
    for (const m of [
      { jsonrpc: '2.0', id: 'a-1', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 0, method: 'tools/call', params: { name: 'x', arguments: {}, _meta: { progressToken: 'p' } } },
      { jsonrpc: '2.0', id: 7, result: {} },
      { jsonrpc: '2.0', id: 'x', error: { code: -32601, message: 'nope', data: [1] } },
    ])
      expect(rpcMessageProblem(m)).toBeUndefined();
  });
});
