import { describe, expect, it } from '@jest/globals';
import type { Registry } from 'prom-client';
import { createLogger } from '../../../common/log.ts';
import { createMetrics } from '../metrics.ts';
import type { RpcMessage } from '../jsonrpc.ts';
import type { Link } from './link.ts';
import { AttachedPods, type PodProcess } from './attachedPods.ts';
import type { PodTarget, PodView } from './podSet.ts';

const pod = (name: string, deleting = false): PodView => ({
  metadata: { name, ...(deleting && { deletionTimestamp: '2026-01-01T00:00:00Z' }) },
  status: { phase: 'Running', containerStatuses: [{ name: 'mcp', state: { running: {} } }] },
});

class FakeLink implements Link {
  onmessage: (message: RpcMessage) => void = () => {};
  onclose: () => void = () => {};
  sent: RpcMessage[] = [];
  closed = false;
  send(message: RpcMessage): void {
    this.sent.push(message);
  }
  close(): void {
    this.closed = true;
  }
}

/** A pod's process: up when told, its links ended when it goes down. */
class FakeProcess implements PodProcess {
  running = false;
  readonly links = new Set<FakeLink>();
  closedWith: string | undefined;
  readonly pod: PodTarget;
  readonly onUpChange: (up: boolean) => void;
  constructor(pod: PodTarget, onUpChange: (up: boolean) => void) {
    this.pod = pod;
    this.onUpChange = onUpChange;
  }
  up(): void {
    this.running = true;
    this.onUpChange(true);
  }
  down(): void {
    this.running = false;
    this.onUpChange(false);
    for (const link of this.links) link.onclose();
    this.links.clear();
  }
  async open(): Promise<Link> {
    const link = new FakeLink();
    this.links.add(link);
    return link;
  }
  readiness(): { ready: boolean; detail: string } {
    return { ready: this.running, detail: this.running ? 'up' : `stdio server not running (attach to pod ${this.pod.name} refused)` };
  }
  async close(reason: string): Promise<void> {
    this.closedWith = reason;
    this.down();
  }
}

function setUp(maxPods = 3, openWaitMs = 50): { pods: AttachedPods; processes: Map<string, FakeProcess>; up: () => Promise<number | undefined> } {
  const processes = new Map<string, FakeProcess>();
  const metrics = createMetrics({
    activeSessions: () => 0,
    memoryLimitBytes: undefined,
    info: { version: 't', transport: 'stdio', proxyMode: 'streamable-http' },
  });
  const pods = new AttachedPods({
    target: { namespace: 'ns', selector: 'app=demo', container: 'mcp' },
    maxPods,
    log: createLogger('error'),
    metrics,
    openWaitMs,
    process: (target, onUpChange) => {
      const p = new FakeProcess(target, onUpChange);
      processes.set(target.name, p);
      return p;
    },
  });
  const registry: Registry = metrics.registry;
  const up = async (): Promise<number | undefined> => (await registry.getSingleMetric('mcpfleet_proxy_upstream_up')?.get())?.values[0]?.value;
  return { pods, processes, up };
}

describe('AttachedPods (choosing a pod, ending a pod’s sessions)', () => {
  it('gives each new session to the attached pod with the fewest sessions, and only attached pods', async () => {
    const { pods, processes } = setUp();
    pods.update([pod('a'), pod('b'), pod('c')]);
    processes.get('a')?.up();
    processes.get('b')?.up(); // c is still attaching: it takes nothing
    const links = await Promise.all(Array.from({ length: 4 }, () => pods.open()));
    expect([...processes.values()].map((p) => p.links.size)).toEqual([2, 2, 0]);
    processes.get('c')?.up();
    await pods.open();
    await pods.open();
    expect([...processes.values()].map((p) => p.links.size)).toEqual([2, 2, 2]);
    // A session that ends frees its place: the next one goes there.
    links[0]?.close();
    const home = [...processes.values()].find((p) => p.links.size === 2 && [...p.links].some((l) => l.closed));
    await pods.open();
    expect(home?.links.size).toBe(3); // the fake keeps closed links; the count is the pool's
    expect(Object.fromEntries(pods.pool.counts())).toEqual({ a: 2, b: 2, c: 2 });
  });

  it('a pod that goes away ends exactly its sessions; new sessions go to the others; readiness and upstream_up follow', async () => {
    const { pods, processes, up } = setUp();
    pods.update([pod('a'), pod('b'), pod('c')]);
    for (const p of processes.values()) p.up();
    expect(await up()).toBe(1);
    const links = await Promise.all(Array.from({ length: 6 }, () => pods.open()));
    const ended = new Set<Link>();
    for (const link of links) link.onclose = () => ended.add(link);
    const b = processes.get('b') as FakeProcess;
    pods.update([pod('a'), pod('b', true), pod('c')]); // b terminating
    expect(b.closedWith).toBe('pod b is gone or no longer running');
    expect(ended.size).toBe(2);
    expect(Object.fromEntries(pods.pool.counts())).toEqual({ a: 2, c: 2 });
    await pods.open();
    await pods.open();
    expect(Object.fromEntries(pods.pool.counts())).toEqual({ a: 3, c: 3 });
    expect(pods.readiness()).toEqual({ ready: true, detail: 'stdio server running in 2 attached pods' });
    pods.update([]);
    expect(await up()).toBe(0);
    expect(pods.readiness()).toEqual({ ready: false, detail: 'stdio server not running (no running pod with container "mcp" matches app=demo in ns)' });
    await expect(pods.open()).rejects.toThrow('stdio MCP server is not running (no running pod with container "mcp" matches app=demo in ns)');
  });

  it('an attach that ends by itself ends its sessions; the pod, still listed, is not replaced', async () => {
    const { pods, processes } = setUp();
    pods.update([pod('a'), pod('b')]);
    for (const p of processes.values()) p.up();
    await pods.open();
    await pods.open();
    processes.get('a')?.down(); // container exited; its supervisor reattaches
    expect(pods.pool.readyCount).toBe(1);
    expect(Object.fromEntries(pods.pool.counts())).toEqual({ b: 1 });
    expect(processes.size).toBe(2);
    processes.get('a')?.up();
    expect(pods.pool.readyCount).toBe(2);
  });

  it('waits a bounded time for a pod to come up, then says why none did', async () => {
    const { pods, processes } = setUp(3, 30);
    await expect(pods.open()).rejects.toThrow('stdio MCP server is not running (the pods are not listed yet)');
    pods.listFailed(new Error('Unauthorized'));
    expect(pods.readiness().detail).toBe('stdio server not running (listing the pods failed: Unauthorized)');
    pods.update([pod('a')]);
    await expect(pods.open()).rejects.toThrow('stdio MCP server is not running (stdio server not running (attach to pod a refused))');
    const opening = pods.open();
    processes.get('a')?.up();
    await expect(opening).resolves.toBeDefined();
  });

  it('spreads stateless traffic round-robin over the attached pods, not counted as sessions', async () => {
    const { pods, processes } = setUp();
    pods.update([pod('a'), pod('b')]);
    for (const p of processes.values()) p.up();
    const keys = Array.from({ length: 4 }, () => pods.spread.next());
    expect(new Set(keys.slice(0, 2)).size).toBe(2);
    expect(keys.slice(2)).toEqual(keys.slice(0, 2));
    await pods.spread.openOn('a');
    expect(Object.fromEntries(pods.pool.counts())).toEqual({ a: 0, b: 0 });
    processes.get('b')?.down();
    await expect(pods.spread.openOn('b')).rejects.toThrow('pod b is not attached');
  });
});
