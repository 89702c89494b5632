// Leader election against a fake apiserver on loopback (test/support/listWatchApiserver.ts): take,
// renew, release on shutdown, hand over at once after a release, never take a Lease before it
// expired, step down after the renew deadline when renewals fail, one winner of a race.
// Properties are asserted from the Lease's own timestamps and the order of requests, never as
// "within N ms": a loaded machine may be slow, but it may never be early.
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { silentLogger } from '../../../common/log.ts';
import { FakeApiserver, until } from '../../../test/support/listWatchApiserver.ts';
import { KubeClient } from '../../../common/kube/client.ts';
import { collectionPath, LEASE, type KubeObject } from '../../../common/kube/kinds.ts';
import { LeaderElector, microTime, type LeaseSpec } from './leader.ts';

jest.setTimeout(40_000);

const LEASES = collectionPath(LEASE, 'ns');
const NAME = 'mcpfleet-operator';

let api: FakeApiserver;
const clients: KubeClient[] = [];
const electors: LeaderElector[] = [];

beforeEach(async () => {
  api = await FakeApiserver.start([LEASES]);
});

afterEach(async () => {
  api.fail = () => undefined;
  for (const e of electors.splice(0)) await e.stop();
  for (const c of clients.splice(0)) c.close();
  await api.close();
});

interface Candidate {
  elector: LeaderElector;
  started: number[];
  stopped: number[];
}

function candidate(identity: string, timing = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 }): Candidate {
  const client = new KubeClient({ server: api.url, insecureSkipTLSVerify: false, namespace: undefined, credentials: async () => ({}), source: 'test' });
  clients.push(client);
  const c: Candidate = { elector: undefined as unknown as LeaderElector, started: [], stopped: [] };
  c.elector = new LeaderElector({
    client,
    namespace: 'ns',
    name: NAME,
    identity,
    ...timing,
    log: silentLogger,
    onStartedLeading: () => c.started.push(Date.now()),
    onStoppedLeading: async () => {
      c.stopped.push(Date.now());
    },
  });
  electors.push(c.elector);
  return c;
}

const lease = (): LeaseSpec => (api.get(LEASES, NAME) as (KubeObject & { spec: LeaseSpec }) | undefined)?.spec ?? {};
const leaseWrites = (): { at: number; spec: LeaseSpec }[] =>
  api.requests
    .filter((r) => r.path.startsWith(LEASES) && (r.method === 'PUT' || r.method === 'POST'))
    .map((r) => ({ at: r.at, spec: (r.body as KubeObject & { spec: LeaseSpec }).spec }));
const time = (micro: string | undefined): number => Date.parse(micro ?? '');

describe('microTime', () => {
  it('writes RFC 3339 with six fractional digits, as the apiserver expects for Lease times', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678000Z');
  });
});

describe('LeaderElector', () => {
  it('takes a free Lease, renews it, and on shutdown releases it (empty holder) without calling onStoppedLeading', async () => {
    const a = candidate('a');
    a.elector.start();
    await until(() => a.started.length === 1, 'a to lead');
    expect(a.elector.isLeader()).toBe(true);
    expect(lease()).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 1, leaseTransitions: 0 });
    const first = lease().renewTime;
    await until(() => lease().renewTime !== first, 'a renewal');
    expect(lease().acquireTime).toBe(leaseWrites()[0]?.spec.acquireTime); // a renewal keeps acquireTime

    await a.elector.stop();
    electors.splice(electors.indexOf(a.elector), 1);
    expect(a.elector.isLeader()).toBe(false);
    expect(lease()).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    expect(a.stopped).toEqual([]); // stop() is called after the work stopped
  });

  it('a candidate takes a released Lease at once, long before the old one would have expired', async () => {
    const slow = { leaseDurationMs: 30_000, renewDeadlineMs: 20_000, retryPeriodMs: 100 };
    const a = candidate('a', slow);
    a.elector.start();
    await until(() => a.started.length === 1, 'a to lead');
    const b = candidate('b', slow);
    b.elector.start();
    // b sees a's renewals and waits.
    await until(() => api.requests.some((r) => r.path === `${LEASES}/${NAME}` && r.method === 'GET' && r.at > a.started[0]!), 'b to look');
    expect(b.started).toEqual([]);

    await a.elector.stop();
    const released = leaseWrites().findLast((w) => w.spec.holderIdentity === '');
    expect(released).toBeDefined();
    await until(() => b.started.length === 1, 'b to take over');
    expect(lease()).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    const takeover = leaseWrites().find((w) => w.spec.holderIdentity === 'b') as { at: number; spec: LeaseSpec };
    // After the release, and before a's last renewal would have expired.
    expect(takeover.at).toBeGreaterThanOrEqual(released!.at);
    const lastRenewalOfA = leaseWrites().findLast((w) => w.spec.holderIdentity === 'a') as { at: number; spec: LeaseSpec };
    expect(takeover.at).toBeLessThan(time(lastRenewalOfA.spec.renewTime) + slow.leaseDurationMs);
  });

  it('never takes a Lease held by another before it expired, counted from the last renewal it saw', async () => {
    // "other" holds the Lease and renews it three times, then dies.
    const written: number[] = [];
    const renew = (): void => {
      const now = Date.now();
      const current = api.get(LEASES, NAME);
      api.put(LEASES, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: NAME, namespace: 'ns', ...(current && { resourceVersion: current.metadata.resourceVersion }) },
        spec: { holderIdentity: 'other', leaseDurationSeconds: 1, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 4 },
      });
      written.push(now);
    };
    renew();
    const b = candidate('b');
    b.elector.start();
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 300));
      renew();
    }
    await until(() => b.started.length === 1, 'b to take over');
    const takeover = leaseWrites().find((w) => w.spec.holderIdentity === 'b') as { at: number; spec: LeaseSpec };
    expect(takeover.at).toBeGreaterThanOrEqual(written.at(-1)! + 1000);
    expect(lease()).toMatchObject({ holderIdentity: 'b', leaseTransitions: 5 });
    // And it tried no write before that.
    expect(leaseWrites().filter((w) => w.spec.holderIdentity === 'b' && w.at < takeover.at)).toEqual([]);
  });

  it('steps down after the renew deadline when renewals fail, stops writing before the Lease expires, and leads again when the apiserver is back', async () => {
    const timing = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 };
    const a = candidate('a', timing);
    a.elector.start();
    await until(() => a.started.length === 1, 'a to lead');
    const first = lease().renewTime;
    await until(() => lease().renewTime !== first, 'a renewal');

    // The apiserver stops answering for the Lease; a keeps trying.
    const samples: { at: number; leader: boolean }[] = [];
    const sampler = setInterval(() => samples.push({ at: Date.now(), leader: a.elector.isLeader() }), 2);
    let down = true;
    api.fail = (r) => (down && r.path.startsWith(LEASES) && !r.watch ? 503 : undefined);
    const lastGood = time(lease().renewTime); // when the last successful renewal was sent
    try {
      await until(() => a.stopped.length === 1, 'a to step down');
    } finally {
      clearInterval(sampler);
    }
    // Not early: only after the renew deadline (timed on a's clock from the renewal's send time).
    expect(a.stopped[0]! - lastGood).toBeGreaterThanOrEqual(timing.renewDeadlineMs);
    // Writes were gated off from the renew deadline on, so before anyone else could take the
    // Lease (leaseDuration after the last renewal).
    expect(samples.filter((s) => s.at >= lastGood + timing.renewDeadlineMs && s.leader)).toEqual([]);
    expect(samples.some((s) => s.leader)).toBe(true);
    expect(a.elector.isLeader()).toBe(false);

    down = false;
    await until(() => a.started.length === 2, 'a to lead again');
    expect(a.elector.isLeader()).toBe(true);
  });

  it('renews from the Lease its last write returned (no GET per renewal); after a Conflict it reads the Lease again and renews', async () => {
    const a = candidate('a');
    a.elector.start();
    await until(() => a.started.length === 1, 'a to lead');
    const gets = (): number => api.requests.filter((r) => r.path.startsWith(`${LEASES}/${NAME}`) && r.method === 'GET').length;
    const getsWhenLeading = gets();
    await until(() => leaseWrites().length >= 5, 'four renewals');
    expect(gets()).toBe(getsWhenLeading);

    // Someone else writes the Lease (same holder, new resourceVersion): the next renewal conflicts.
    const writesBefore = leaseWrites().length;
    api.put(LEASES, api.get(LEASES, NAME) as KubeObject);
    await until(() => gets() > getsWhenLeading, 'a GET after the Conflict');
    await until(() => leaseWrites().length >= writesBefore + 3, 'renewals again');
    const renewed = api.requests.filter((r) => r.path.startsWith(`${LEASES}/${NAME}`) && r.method === 'PUT').length;
    expect(renewed).toBeGreaterThan(0);
    expect(a.elector.isLeader()).toBe(true);
    expect(lease().holderIdentity).toBe('a');
  });

  it('of two candidates racing for a free Lease, exactly one leads', async () => {
    const a = candidate('a');
    const b = candidate('b');
    a.elector.start();
    b.elector.start();
    await until(() => a.started.length + b.started.length === 1, 'a leader');
    const holder = lease().holderIdentity;
    // Several renewals later, still exactly one.
    const seen = new Set<string | undefined>();
    await until(() => (seen.add(lease().renewTime), seen.size >= 4), 'three renewals');
    expect(a.started.length + b.started.length).toBe(1);
    expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).toHaveLength(1);
    expect(lease().holderIdentity).toBe(holder);
    expect(lease().leaseTransitions).toBe(0);
  });
});
