// Two operator processes with Lease-based leader election: only the leader writes; when it
// is killed (SIGKILL, no release) the other takes over within the lease time; when it is
// stopped gracefully (SIGTERM) it releases the Lease and the other takes over at once.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ControlPlane } from '../control-plane/controlPlane.ts';
import { eventually, Kube, sleep, waitReady, BUILD_TIMEOUT_MS, startClusterWithCrd } from '../support/kube.ts';
import { startOperator, type OperatorProcess } from '../support/operatorProcess.ts';
import { manifest } from '../support/mcpServers.ts';

const TEST_TIMEOUT_MS = 180_000;
const LEASE_MS = 4_000;
const RETRY_MS = 1_000;
const ELECTION = ['--leader-elect=true', '--leader-election-namespace', 'kube-system', '--lease-duration', '4s', '--renew-deadline', '3s', '--retry-period', '1s'];

let cp: ControlPlane | undefined;
let kube: Kube;
const operators: OperatorProcess[] = [];

async function start(identity: string): Promise<OperatorProcess> {
  const o = await startOperator(cp!.kubeconfigPath, [...ELECTION, '--identity', identity, '--proxyrunner-image', 'proxy:test']);
  operators.push(o);
  return o;
}

interface LeaseSpec {
  holderIdentity?: string;
  renewTime?: string;
  acquireTime?: string;
  leaseTransitions?: number;
}

async function lease(): Promise<LeaseSpec> {
  const l = await kube.get('lease', 'mcpfleet-operator', 'kube-system');
  return (l?.spec ?? {}) as LeaseSpec;
}

/** Polls until exactly one of the running operators says it leads; returns [leader, follower]. */
async function roles(a: OperatorProcess, b: OperatorProcess): Promise<[OperatorProcess, OperatorProcess]> {
  return eventually('one leader', 30_000, async () => {
    const [la, lb] = await Promise.all([a.isLeader(), b.isLeader()]);
    if (la && !lb) return [a, b] as [OperatorProcess, OperatorProcess];
    if (lb && !la) return [b, a] as [OperatorProcess, OperatorProcess];
    return undefined;
  }, 100);
}

describe('operator leader election (two processes)', () => {
  beforeAll(async () => {
    ({ cp, kube } = await startClusterWithCrd());
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(operators.map((o) => o.stop()));
    await cp?.stop();
  }, TEST_TIMEOUT_MS);

  it('only the leader writes; killing it hands over within the lease time', async () => {
    const a = await start('operator-a');
    const b = await start('operator-b');
    const [leader, follower] = await roles(a, b);
    const leaderId = leader === a ? 'operator-a' : 'operator-b';
    expect((await lease()).holderIdentity).toBe(leaderId);

    const ns = await kube.newNamespace('le');
    for (const n of ['one', 'two', 'three']) await kube.apply(manifest(n, { image: 'example/mcp:1', transport: 'streamable-http', mcpPort: 3001 }), ns);
    for (const n of ['one', 'two', 'three']) await waitReady(kube, n, ns);
    await kube.ok(['patch', 'mcps', 'two', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":2}}']);
    await waitReady(kube, 'two', ns);

    expect(await leader.writes()).toBeGreaterThan(0);
    expect(await follower.writes()).toBe(0);
    // The follower keeps its caches warm (it is ready) but its leader gauge is 0.
    expect((await fetch(`${follower.baseUrl}/readyz`)).status).toBe(200);
    expect(await follower.isLeader()).toBe(false);

    // Crash the leader: no release, the Lease must expire.
    const before = await lease();
    const killedAt = Date.now();
    await leader.kill();
    await eventually('the follower to lead', 30_000, () => follower.isLeader(), 50);
    const handover = Date.now() - killedAt;
    const after = await lease();
    expect(after.holderIdentity).toBe(leaderId === 'operator-a' ? 'operator-b' : 'operator-a');
    expect(after.leaseTransitions).toBe((before.leaseTransitions ?? 0) + 1);
    // The follower watches the Lease, so it takes over one lease duration after the dead
    // leader's last renewal (which the Lease records), give or take request latency; the
    // kill came after that renewal, so the handover is within the lease time of the kill.
    const sinceLastRenewal = Date.parse(after.acquireTime ?? '') - Date.parse(before.renewTime ?? '');
    process.stderr.write(`[leader-election] handover after SIGKILL: ${handover} ms after the kill, ${sinceLastRenewal} ms after the last renewal (lease ${LEASE_MS} ms, retry ${RETRY_MS} ms)\n`);
    expect(sinceLastRenewal).toBeGreaterThanOrEqual(LEASE_MS);
    expect(sinceLastRenewal).toBeLessThanOrEqual(LEASE_MS + 500);
    expect(handover).toBeLessThanOrEqual(LEASE_MS + 500);

    // The new leader does the work: a new server and a spec change converge.
    const writesBefore = await follower.writes();
    await kube.apply(manifest('four', { image: 'example/mcp:1' }), ns);
    await kube.ok(['patch', 'mcps', 'one', '-n', ns, '--type=merge', '-p', '{"spec":{"image":"example/mcp:2"}}']);
    await waitReady(kube, 'four', ns);
    const one = await waitReady(kube, 'one', ns);
    expect(one.status.observedGeneration).toBe(2);
    expect(await follower.writes()).toBeGreaterThan(writesBefore);
  }, TEST_TIMEOUT_MS);

  it('a leader stopped with SIGTERM releases the Lease and the other takes over at once', async () => {
    const current = operators.find((o) => o.child.exitCode === null && o.child.signalCode === null) as OperatorProcess;
    const c = await start('operator-c');
    await sleep(2 * RETRY_MS);
    expect(await current.isLeader()).toBe(true);
    expect(await c.isLeader()).toBe(false);
    expect(await c.writes()).toBe(0);

    const stoppedAt = Date.now();
    expect(await current.stop()).toBe(0);
    await eventually('operator-c to lead', 15_000, () => c.isLeader(), 50);
    const handover = Date.now() - stoppedAt;
    process.stderr.write(`[leader-election] handover after SIGTERM (lease released): ${handover} ms\n`);
    expect(handover).toBeLessThan(LEASE_MS);
    expect((await lease()).holderIdentity).toBe('operator-c');
    expect(current.logs()).toContain('released the lease');

    const ns = await kube.newNamespace('le2');
    await kube.apply(manifest('five', { image: 'example/mcp:1' }), ns);
    await waitReady(kube, 'five', ns);
    expect(await c.writes()).toBeGreaterThan(0);
  }, TEST_TIMEOUT_MS);
});
