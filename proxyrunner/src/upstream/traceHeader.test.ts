// The traceparent header of a message-path POST to an HTTP upstream: each POST gets the value in
// its own body's params._meta, whatever order the sends and fetches run in; nothing else gets one.
import { describe, expect, it } from '@jest/globals';
import type { RpcMessage } from '../jsonrpc.ts';
import { metaTraceparent, PendingTraceHeaders } from './traceHeader.ts';

const TP_A = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const TP_B = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const call = (id: number, traceparent?: string, args: Record<string, unknown> = {}): RpcMessage => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'echo', arguments: args, ...(traceparent ? { _meta: { traceparent } } : {}) },
});

describe('traceparent header for HTTP upstreams', () => {
  it('reads only a well-formed traceparent from params._meta', () => {
    expect(metaTraceparent(call(1, TP_A))).toBe(TP_A);
    expect(metaTraceparent(call(1))).toBeUndefined();
    expect(metaTraceparent(call(1, '00-zz-yy-01'))).toBeUndefined();
    expect(metaTraceparent({ jsonrpc: '2.0', id: 1, method: 'x', params: { _meta: 'nope' } })).toBeUndefined();
  });

  it('gives each POST the value its own body carries, in whatever order the fetches run', async () => {
    const seen: { type: string | null; traceparent: string | null }[] = [];
    const pending = new PendingTraceHeaders();
    const fetch = pending.wrap(async (_url, init) => {
      const headers = new Headers(init?.headers);
      seen.push({ type: headers.get('content-type'), traceparent: headers.get('traceparent') });
      return new Response(null, { status: 202 });
    });
    const a = call(1, TP_A);
    const b = call(2, TP_B, { note: `"traceparent":"${TP_A}` }); // a string value cannot fake a key
    const plain = call(3);
    for (const m of [a, b, plain]) pending.add(m);
    const post = (m: RpcMessage): Promise<Response> =>
      fetch('http://127.0.0.1:9/mcp', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(m) });
    await post(plain);
    await post(b);
    await post(a);
    await fetch('http://127.0.0.1:9/mcp', { method: 'GET' });
    expect(seen.map((s) => s.traceparent)).toEqual([null, TP_B, TP_A, null]);
    expect(seen[2]?.type).toBe('application/json'); // the transport's own headers are kept
    expect(pending.size).toBe(0);
  });

  it('forgets a value whose send ended without a fetch', () => {
    const pending = new PendingTraceHeaders();
    const value = pending.add(call(1, TP_A));
    expect(pending.size).toBe(1);
    pending.forget(value);
    expect(pending.size).toBe(0);
    expect(pending.take(JSON.stringify(call(1, TP_A)))).toBeUndefined();
  });
});
