// DeadlineLink against a scripted inner link: exact checks of the timeout, the freed entry
// and the late answer that must not reach a newer request reusing the id. The real
// upstreams are exercised in test/proxy/hostile/timeouts.test.ts.
import { describe, expect, it, jest } from '@jest/globals';
import type { RpcMessage } from '../jsonrpc.ts';
import { createMetrics } from '../metrics.ts';
import { DeadlineLink } from './deadline.ts';
import { proxyHttpStatus, type Link } from './link.ts';

function innerLink(): Link & { sent: RpcMessage[] } {
  const sent: RpcMessage[] = [];
  return { sent, onmessage: () => {}, onclose: () => {}, send: (m) => void sent.push(m), close: () => {} };
}

const metrics = () =>
  createMetrics({
    activeSessions: () => 0,
    memoryLimitBytes: undefined,
    info: { version: 't', transport: 'stdio', proxyMode: 'streamable-http' },
    defaultMetrics: false,
  });
const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function gauge(m: ReturnType<typeof metrics>, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await m.registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? NaN;
}

describe('DeadlineLink', () => {
  it('answers a request the upstream leaves unanswered, cancels it upstream and frees it', async () => {
    const inner = innerLink();
    const m = metrics();
    const link = new DeadlineLink(inner, { timeoutMs: 20, metrics: m });
    const got: RpcMessage[] = [];
    link.onmessage = (msg) => got.push(msg);
    link.send({ jsonrpc: '2.0', id: 'a', method: 'tools/call', params: {} });
    const upstreamId = inner.sent[0]?.id;
    expect(typeof upstreamId).toBe('number');
    expect(await gauge(m, 'mcpfleet_proxy_upstream_requests_pending')).toBe(1);
    while (got.length === 0) await tick();
    expect(got).toEqual([
      expect.objectContaining({
        jsonrpc: '2.0',
        id: 'a',
        error: { code: -32000, message: 'Upstream MCP server did not answer within 20ms (--upstream-response-timeout)' },
      }),
    ]);
    expect(proxyHttpStatus(got[0] as RpcMessage)).toBe(504);
    expect(inner.sent[1]).toEqual({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: upstreamId, reason: 'no answer within 20ms' } });
    expect(link.pendingCount).toBe(0);
    expect(await gauge(m, 'mcpfleet_proxy_upstream_requests_pending')).toBe(0);
    expect(await gauge(m, 'mcpfleet_proxy_upstream_errors_total', { kind: 'timeout' })).toBe(1);

    // The client reuses the id; the old request's late answer must not reach the new one.
    link.send({ jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { again: true } });
    const secondId = inner.sent[2]?.id;
    expect(secondId).not.toBe(upstreamId);
    inner.onmessage({ jsonrpc: '2.0', id: upstreamId, result: { stale: true } });
    inner.onmessage({ jsonrpc: '2.0', id: secondId, result: { fresh: true } });
    expect(got.slice(1)).toEqual([{ jsonrpc: '2.0', id: 'a', result: { fresh: true } }]);
    link.close();
  });

  it('re-arms the deadline on each progress notification for the request', () => {
    jest.useFakeTimers();
    try {
      const inner = innerLink();
      const link = new DeadlineLink(inner, { timeoutMs: 100, metrics: metrics() });
      const got: RpcMessage[] = [];
      link.onmessage = (msg) => got.push(msg);
      link.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { _meta: { progressToken: 'p' } } });
      for (let i = 0; i < 5; i++) {
        jest.advanceTimersByTime(60);
        inner.onmessage({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p', progress: i } });
      }
      expect(got.filter((g) => g.error !== undefined)).toEqual([]);
      jest.advanceTimersByTime(100);
      expect(got.at(-1)).toEqual(expect.objectContaining({ id: 2, error: expect.objectContaining({ code: -32000 }) }));
      link.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('never cancels initialize, and clears everything on close', async () => {
    const inner = innerLink();
    const m = metrics();
    const link = new DeadlineLink(inner, { timeoutMs: 40, metrics: m });
    const got: RpcMessage[] = [];
    link.onmessage = (msg) => got.push(msg);
    link.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} });
    while (got.length === 0) await tick();
    expect(got[0]).toEqual(expect.objectContaining({ id: 1, error: expect.objectContaining({ code: -32000 }) }));
    expect(inner.sent.filter((s) => s.method === 'notifications/cancelled')).toEqual([]);

    link.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { _meta: { progressToken: 'p' } } });
    link.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: {} });
    expect(link.pendingCount).toBe(2);
    link.close();
    expect(link.pendingCount).toBe(0);
    expect(await gauge(m, 'mcpfleet_proxy_upstream_requests_pending')).toBe(0);
  });

  it('refuses a reused id still in flight without sending it', () => {
    const inner = innerLink();
    const link = new DeadlineLink(inner, { timeoutMs: 0, metrics: metrics() });
    const got: RpcMessage[] = [];
    link.onmessage = (msg) => got.push(msg);
    link.send({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: {} });
    link.send({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: {} });
    expect(inner.sent).toHaveLength(1);
    expect(got).toEqual([expect.objectContaining({ id: 5, error: expect.objectContaining({ message: expect.stringMatching(/already in flight/) }) })]);
    link.close();
  });
});
