// The informer against a fake apiserver on loopback (test/support/listWatchApiserver.ts): the
// paths a real cluster takes rarely — a watch cut mid-stream (resume from the last
// resourceVersion, no relist), history compacted (410 as a status or as an ERROR event:
// relist, and report what changed meanwhile, deletions included), an outage (retry).
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { silentLogger } from '../../../common/log.ts';
import { FakeApiserver, until } from '../../../test/support/listWatchApiserver.ts';
import { Backoff } from '../../../common/kube/backoff.ts';
import { KubeClient } from '../../../common/kube/client.ts';
import { Informer, type EventType } from './informer.ts';
import { collectionPath, POD, type KubeObject } from '../../../common/kube/kinds.ts';

// Waits (until) fail with what they waited for; jest's own timeout stays out of their way.
jest.setTimeout(30_000);

const PODS = collectionPath(POD, 'n');
const pod = (name: string, note = ''): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'n', annotations: { note } } });

let api: FakeApiserver;
let client: KubeClient;
let informer: Informer<KubeObject>;
let events: string[];
let restarts: string[];

beforeEach(async () => {
  api = await FakeApiserver.start([PODS]);
  client = new KubeClient({ server: api.url, insecureSkipTLSVerify: false, namespace: undefined, credentials: async () => ({}), source: 'test' });
  informer = new Informer<KubeObject>(client, {
    kind: POD,
    namespace: 'n',
    log: silentLogger,
    backoff: new Backoff(5, 20),
    onRestart: (_resource, reason) => restarts.push(reason),
  });
  events = [];
  restarts = [];
  informer.on((type: EventType, obj) => events.push(`${type} ${obj.metadata.name}`));
});

afterEach(async () => {
  await informer.stop();
  client.close();
  await api.close();
});

const names = (): string[] => [...informer.list()].map((o) => o.metadata.name).sort();

describe('Informer', () => {
  it('lists, then follows the watch: add, update, delete', async () => {
    api.put(PODS, pod('a'));
    informer.start();
    await informer.waitForSync();
    expect(events).toEqual(['add a']);
    await until(() => api.openWatches() === 1, 'the watch');
    api.put(PODS, pod('b'));
    api.put(PODS, pod('a', 'changed'));
    api.remove(PODS, 'b');
    await until(() => events.length === 4, 'three watch events');
    expect(events).toEqual(['add a', 'add b', 'update a', 'delete b']);
    expect(informer.get('n', 'a')?.metadata.annotations?.['note']).toBe('changed');
    expect(names()).toEqual(['a']);
  });

  it('resumes a dropped watch from the last resourceVersion seen, without relisting, and misses nothing', async () => {
    api.put(PODS, pod('a'));
    informer.start();
    await informer.waitForSync();
    await until(() => api.openWatches() === 1, 'the watch');
    api.put(PODS, pod('b'));
    await until(() => events.length === 2, 'b');
    const lastSeen = api.resourceVersion;

    // The watch dies and cannot come back for a while; meanwhile c is created.
    let down = true;
    api.fail = (r) => (r.watch && down ? 503 : undefined);
    api.dropWatches();
    await until(() => api.watchRequests(PODS).length >= 3, 'retries during the outage');
    api.put(PODS, pod('c'));
    down = false;
    await until(() => events.length === 3, 'c, replayed by the resumed watch');

    expect(events).toEqual(['add a', 'add b', 'add c']);
    expect(api.listRequests(PODS)).toHaveLength(1);
    // Every watch after the drop asked for the history after b, not for a fresh start.
    const after = api.watchRequests(PODS).slice(1);
    expect(after.length).toBeGreaterThan(1);
    for (const w of after) expect(w.query.get('resourceVersion')).toBe(lastSeen);
    expect(restarts).toContain('error');
    expect(restarts).not.toContain('expired');
  });

  it.each(['status', 'event'] as const)('relists on 410 Gone (as a %s) and reports what changed during the outage, deletions included', async (expiredAs) => {
    api.expiredAs = expiredAs;
    for (const n of ['a', 'b', 'c']) api.put(PODS, pod(n));
    informer.start();
    await informer.waitForSync();
    await until(() => api.openWatches() === 1, 'the watch');

    // An outage: every request is cut. Meanwhile b is deleted, c changed, d created, and the
    // history is compacted, so the watch cannot resume.
    let down = true;
    api.fail = () => (down ? 'reset' : undefined);
    api.dropWatches();
    await until(() => restarts.includes('error'), 'a failed retry');
    api.remove(PODS, 'b');
    api.put(PODS, pod('c', 'changed'));
    api.put(PODS, pod('d'));
    api.compact();
    events.length = 0;
    down = false;

    await until(() => events.length === 3, 'the differences');
    expect(events.sort()).toEqual(['add d', 'delete b', 'update c']);
    expect(names()).toEqual(['a', 'c', 'd']);
    expect(informer.get('n', 'c')?.metadata.annotations?.['note']).toBe('changed');
    expect(restarts).toContain('expired');
    expect(api.listRequests(PODS)).toHaveLength(2);
    // And it watches again from the new list's resourceVersion.
    await until(() => api.openWatches() === 1, 'the watch after the relist');
    api.put(PODS, pod('e'));
    await until(() => events.length === 4, 'e');
    expect(events[3]).toBe('add e');
  });

  it('after a relist, an unchanged object and one created and deleted during the outage make no event', async () => {
    api.put(PODS, pod('a'));
    informer.start();
    await informer.waitForSync();
    await until(() => api.openWatches() === 1, 'the watch');
    let down = true;
    api.fail = () => (down ? 'reset' : undefined);
    api.dropWatches();
    await until(() => restarts.includes('error'), 'a failed retry');
    api.put(PODS, pod('x'));
    api.remove(PODS, 'x');
    api.compact();
    down = false;
    await until(() => api.listRequests(PODS).length === 2, 'the relist');
    await until(() => api.openWatches() === 1, 'the watch after the relist');
    expect(events).toEqual(['add a']);
  });

  it('stop() ends the watch and the loop', async () => {
    informer.start();
    await informer.waitForSync();
    await until(() => api.openWatches() === 1, 'the watch');
    await informer.stop();
    await until(() => api.openWatches() === 0, 'the watch to close');
    const requests = api.requests.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(api.requests.length).toBe(requests);
  });
});
