import { describe, expect, it } from '@jest/globals';
import { UNKNOWN_SESSION_BODY_LIMIT, bodySaysUnknownSession, isUnknownSessionAnswer } from './unknownSession.ts';

const rpcError = (code: number, message: string): string => JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });

describe('unknown-session answers', () => {
  it('recognises the SDK and server-everything texts', () => {
    expect(isUnknownSessionAnswer(400, rpcError(-32000, 'Bad Request: No valid session ID provided'))).toBe(true);
    expect(isUnknownSessionAnswer(400, rpcError(-32001, 'Session not found'))).toBe(true);
    expect(isUnknownSessionAnswer(400, rpcError(-32001, 'anything'))).toBe(true);
    expect(isUnknownSessionAnswer(400, rpcError(-32000, 'session NOT found'))).toBe(true);
    expect(isUnknownSessionAnswer(404, undefined)).toBe(true);
  });

  it('leaves every other 400 alone', () => {
    expect(isUnknownSessionAnswer(400, undefined)).toBe(false);
    expect(isUnknownSessionAnswer(400, rpcError(-32000, 'Bad Request: Mcp-Session-Id header is required'))).toBe(false);
    expect(isUnknownSessionAnswer(400, rpcError(-32000, 'Bad Request: Unsupported protocol version'))).toBe(false);
    expect(isUnknownSessionAnswer(400, rpcError(-32600, 'Session not found'))).toBe(false);
    expect(isUnknownSessionAnswer(400, 'Session not found')).toBe(false);
    expect(isUnknownSessionAnswer(400, '[{"error":{"code":-32001}}]')).toBe(false);
    expect(isUnknownSessionAnswer(500, rpcError(-32001, 'Session not found'))).toBe(false);
    const padded = JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'x'.repeat(UNKNOWN_SESSION_BODY_LIMIT) } });
    expect(bodySaysUnknownSession(padded)).toBe(false);
  });
});
