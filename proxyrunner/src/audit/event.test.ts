// Audit events in ToolHive's shape, built from the facts of one operation (pure).
import { describe, expect, it } from '@jest/globals';
import { buildEvent, cappedData, eventType, type OperationFacts } from './event.ts';

const facts = (over: Partial<OperationFacts> = {}): OperationFacts => ({
  message: { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'echo', arguments: { secret: 'x'.repeat(100) } } },
  principal: { subject: 'alice', claims: { sub: 'alice', email: 'a@example.com', client_id: 'cli' } },
  outcome: 'success',
  status: 200,
  durationMs: 1.23456,
  sourceAddress: '10.0.0.1',
  userAgent: 'ua/1',
  sessionId: 'sess',
  endpoint: '/mcp',
  ...over,
});
const settings = { component: 'weather', transport: 'stdio', includeRequestData: false, maxDataSize: 64 };

describe('audit events', () => {
  it('says who, what, the outcome, and leaves arguments out by default', () => {
    const event = buildEvent(facts(), settings, new Date('2026-01-01T00:00:00Z'));
    expect(event).toMatchObject({
      type: 'mcp_tool_call',
      loggedAt: '2026-01-01T00:00:00.000Z',
      outcome: 'success',
      source: { type: 'network', value: '10.0.0.1', extra: { user_agent: 'ua/1', session_id: 'sess', request_id: '4' } },
      subjects: { user_id: 'alice', user: 'a@example.com', client_id: 'cli' },
      component: 'weather',
      target: { type: 'tool', name: 'echo', method: 'tools/call', endpoint: '/mcp' },
      metadata: { auditId: expect.stringMatching(/^[0-9a-f-]{36}$/), extra: { duration_ms: 1.235, status: 200, transport: 'stdio' } },
    });
    expect(event.data).toBeUndefined();
    expect(JSON.stringify(event)).not.toContain('secret');
  });

  it('includes request data only when asked, capped', () => {
    const event = buildEvent(facts(), { ...settings, includeRequestData: true });
    expect(event.data?.request).toMatchObject({ truncated: true, size: expect.any(Number) });
    expect((event.data?.request as { prefix: string }).prefix.length).toBeLessThanOrEqual(64);
    const small = buildEvent(facts({ message: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'e' } } }), {
      ...settings,
      includeRequestData: true,
    });
    expect(small.data).toEqual({ request: { name: 'e' } });
    expect(cappedData(undefined, 10)).toBeNull();
  });

  it('names the anonymous caller and the client of initialize', () => {
    const event = buildEvent(
      facts({ principal: undefined, message: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { clientInfo: { name: 'claude', version: '2' } } } }),
      settings,
    );
    expect(event.type).toBe('mcp_initialize');
    expect(event.subjects).toEqual({ user: 'anonymous', client_name: 'claude', client_version: '2' });
    expect(event.target).toMatchObject({ type: 'server', method: 'initialize' });
  });

  it('uses ToolHive event types', () => {
    expect(eventType('resources/read')).toBe('mcp_resource_read');
    expect(eventType('prompts/list')).toBe('mcp_prompts_list');
    expect(eventType('notifications/cancelled')).toBe('mcp_notification');
    expect(eventType('tasks/get')).toBe('mcp_request');
  });
});
