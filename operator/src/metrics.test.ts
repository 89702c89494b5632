import { describe, expect, it } from '@jest/globals';
import { createMetrics, type ServerState } from './metrics.ts';

async function exposition(servers: ServerState[]): Promise<string> {
  const m = createMetrics({ queueDepth: () => 3, servers: () => servers, cacheSizes: () => [], defaultMetrics: false });
  return m.registry.metrics();
}

describe('operator metrics of MCPServers', () => {
  it('counts MCPServers by namespace and phase, zeros included, and drops namespaces that emptied', async () => {
    const servers: ServerState[] = [
      { namespace: 'a', name: 'x', phase: 'Ready', ready: true },
      { namespace: 'a', name: 'y', phase: 'Pending', ready: false },
      { namespace: 'b', name: 'z', phase: '', ready: false },
    ];
    const m = createMetrics({ queueDepth: () => 0, servers: () => servers, cacheSizes: () => [], defaultMetrics: false });
    const text = await m.registry.metrics();
    expect(text).toContain('mcpfleet_operator_mcpservers{namespace="a",phase="Ready"} 1');
    expect(text).toContain('mcpfleet_operator_mcpservers{namespace="a",phase="Pending"} 1');
    expect(text).toContain('mcpfleet_operator_mcpservers{namespace="a",phase="Failed"} 0');
    expect(text).toContain('mcpfleet_operator_mcpservers{namespace="b",phase="Unknown"} 1');
    servers.splice(2, 1);
    expect(await m.registry.metrics()).not.toContain('namespace="b"');
  });

  it('exports readiness per MCPServer, and none for Stopped ones', async () => {
    const text = await exposition([
      { namespace: 'a', name: 'up', phase: 'Ready', ready: true },
      { namespace: 'a', name: 'down', phase: 'Failed', ready: false },
      { namespace: 'a', name: 'off', phase: 'Stopped', ready: false },
    ]);
    expect(text).toContain('mcpfleet_operator_mcpserver_ready{namespace="a",mcpserver="up"} 1');
    expect(text).toContain('mcpfleet_operator_mcpserver_ready{namespace="a",mcpserver="down"} 0');
    expect(text).not.toContain('mcpserver="off"');
    expect(text).toContain('mcpfleet_operator_queue_depth 3');
  });
});
