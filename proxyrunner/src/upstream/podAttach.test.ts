// The pods' list+watch of attach mode against the list/watch fake apiserver on loopback
// (test/support/listWatchApiserver.ts): the paths a real cluster takes rarely, on cue.
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { silentLogger } from '../../../common/log.ts';
import { Backoff } from '../../../common/kube/backoff.ts';
import { KubeClient } from '../../../common/kube/client.ts';
import { collectionPath, POD, type KubeObject } from '../../../common/kube/kinds.ts';
import { FakeApiserver, until } from '../../../test/support/listWatchApiserver.ts';
import { PodWatch } from './podAttach.ts';

jest.setTimeout(30_000);

const PODS = collectionPath(POD, 'ns');
const pod = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', labels: { app: 'demo' } } });

let api: FakeApiserver;
let client: KubeClient;
let watch: PodWatch;
let seen: string[][];
let errors: string[];

beforeEach(async () => {
  api = await FakeApiserver.start([PODS]);
  client = new KubeClient({ server: api.url, insecureSkipTLSVerify: false, namespace: undefined, credentials: async () => ({}), source: 'test' });
  seen = [];
  errors = [];
  watch = new PodWatch({
    client,
    target: { namespace: 'ns', selector: 'app=demo', container: 'mcp' },
    log: silentLogger,
    onPods: (pods) => seen.push([...pods].map((p) => p.metadata.name).sort()),
    onError: (err) => errors.push(err.message),
    backoff: new Backoff(5, 20),
    minWatchMs: 0,
  });
});

afterEach(async () => {
  await watch.stop();
  client.close();
  await api.close();
});

const last = (): string[] | undefined => seen.at(-1);

describe('PodWatch (attach mode)', () => {
  it('lists by the selector, then follows the watch: added, deleted', async () => {
    api.put(PODS, pod('mcp-0'));
    watch.start();
    await until(() => api.openWatches() === 1, 'the watch');
    expect(seen).toEqual([['mcp-0']]);
    expect(api.listRequests(PODS)[0]?.query.get('labelSelector')).toBe('app=demo');
    api.put(PODS, pod('mcp-1'));
    api.remove(PODS, 'mcp-0');
    await until(() => last()?.join() === 'mcp-1', 'the deletion');
    expect(seen).toEqual([['mcp-0'], ['mcp-0', 'mcp-1'], ['mcp-1']]);
  });

  it('resumes a dropped watch from its resourceVersion, relists when history is gone, retries failures and counts them', async () => {
    api.put(PODS, pod('mcp-0'));
    watch.start();
    await until(() => api.openWatches() === 1, 'the watch');
    api.dropWatches();
    await until(() => api.watchRequests(PODS).length === 2 && api.openWatches() === 1, 'the resumed watch');
    expect(api.listRequests(PODS)).toHaveLength(1); // resumed, not relisted
    api.put(PODS, pod('mcp-1'));
    await until(() => last()?.join() === 'mcp-0,mcp-1', 'the event after the resume');
    // The history is compacted while the watch is away: 410, a relist, the set replaced whole.
    let down = true;
    api.fail = (req) => (down && req.watch ? 500 : undefined);
    api.dropWatches();
    await until(() => errors.length >= 2, 'failed watches, counted');
    api.remove(PODS, 'mcp-0');
    api.compact();
    down = false;
    await until(() => api.listRequests(PODS).length === 2 && last()?.join() === 'mcp-1', 'the relist');
    expect(errors.some((e) => /410|Gone|too old|expired/i.test(e))).toBe(true);
  });
});
