// Config events become reconcile keys for exactly the MCPServers that reference the config (and a
// status reconcile of the config), through the caches' "namespace/refName -> MCPServers" index,
// against a fake list/watch apiserver on loopback (test/support/listWatchApiserver.ts). An update
// of a config's status alone (the echo of the operator's own write) enqueues nothing.
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { silentLogger } from '../../../common/log.ts';
import { KubeClient } from '../../../common/kube/client.ts';
import { collectionPath, CONFIGMAP, POD, type KubeObject, type ObjectKey } from '../../../common/kube/kinds.ts';
import { FakeApiserver, until } from '../../../test/support/listWatchApiserver.ts';
import { CHILD_KINDS, MCPSERVER } from '../kinds.ts';
import { AUTHZ_CONFIG_KIND } from '../configs/authz.ts';
import { OIDC_CONFIG_KIND } from '../configs/oidc.ts';
import { CONFIG_KINDS } from '../configs/registry.ts';
import { allCaches, createCaches, watchEvents, type Caches } from './watches.ts';

jest.setTimeout(30_000);

const NS = 'n';
const SERVERS = collectionPath(MCPSERVER, NS);
const OIDC = collectionPath(OIDC_CONFIG_KIND.info, NS);
const AUTHZ = collectionPath(AUTHZ_CONFIG_KIND.info, NS);
const CONFIGMAPS = collectionPath(CONFIGMAP, NS);

let api: FakeApiserver;
let client: KubeClient;
let caches: Caches;
let enqueued: string[];
let configs: string[];

function server(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'mcpfleet.dev/v1alpha1', kind: 'MCPServer', metadata: { name, namespace: NS, generation: 1 }, spec: { image: 'x', ...spec } };
}

function config(kind: string, name: string, generation: number, status?: object): KubeObject {
  return {
    apiVersion: 'mcpfleet.dev/v1alpha1',
    kind,
    metadata: { name, namespace: NS, generation },
    spec: { type: 'cedarv1', config: {} },
    ...(status && { status }),
  };
}

beforeEach(async () => {
  // Every config kind the operator watches must be served, or its cache never syncs.
  api = await FakeApiserver.start([
    SERVERS,
    ...CONFIG_KINDS.map((k) => collectionPath(k.info, NS)),
    collectionPath(POD, NS),
    ...CHILD_KINDS.map((k) => collectionPath(k, NS)),
  ]);
  client = new KubeClient({ server: api.url, insecureSkipTLSVerify: false, namespace: undefined, credentials: async () => ({}), source: 'test' });
  caches = createCaches({ client, namespaces: [NS], log: silentLogger, onRestart: () => undefined });
  enqueued = [];
  configs = [];
  watchEvents(caches, {
    enqueue: (key: ObjectKey) => enqueued.push(key.name),
    forget: () => undefined,
    enqueueConfig: (kind, key) => configs.push(`${kind.info.kind}/${key.name}`),
  });
  api.put(SERVERS, server('uses-oidc', { oidcConfigRef: { name: 'idp', audience: 'a' } }));
  api.put(SERVERS, server('uses-both', { oidcConfigRef: { name: 'idp', audience: 'b' }, authzConfigRef: { name: 'policies' } }));
  api.put(SERVERS, server('uses-authz', { authzConfigRef: { name: 'policies' } }));
  api.put(SERVERS, server('plain', {}));
  for (const c of allCaches(caches)) c.start();
  await Promise.all(allCaches(caches).map((c) => c.waitForSync()));
  await until(() => api.openWatches() === allCaches(caches).length, 'every watch open');
  enqueued = [];
});

afterEach(async () => {
  await Promise.all(allCaches(caches).map((c) => c.stop()));
  client.close();
  await api.close();
});

describe('watches: config kinds', () => {
  it('a config event enqueues only the MCPServers that reference it, and the config itself', async () => {
    api.put(OIDC, config('MCPOIDCConfig', 'idp', 1));
    await until(() => enqueued.length === 2, 'the two users of idp');
    expect(enqueued.sort()).toEqual(['uses-both', 'uses-oidc']);
    expect(configs).toEqual(['MCPOIDCConfig/idp']);

    enqueued = [];
    configs = [];
    api.put(AUTHZ, config('MCPAuthzConfig', 'policies', 1));
    api.put(AUTHZ, config('MCPAuthzConfig', 'unused', 1));
    await until(() => configs.length === 2, 'both authz configs');
    expect(enqueued.sort()).toEqual(['uses-authz', 'uses-both']);
  });

  it('a status-only update enqueues nothing; a spec change (new generation) and a deletion do', async () => {
    api.put(AUTHZ, config('MCPAuthzConfig', 'policies', 1));
    await until(() => configs.length === 1, 'the add');
    enqueued = [];
    configs = [];
    api.put(AUTHZ, config('MCPAuthzConfig', 'policies', 1, { observedGeneration: 1 }));
    api.put(AUTHZ, config('MCPAuthzConfig', 'policies', 2));
    await until(() => configs.length === 1, 'the spec change');
    expect(enqueued.sort()).toEqual(['uses-authz', 'uses-both']);
    enqueued = [];
    api.remove(AUTHZ, 'policies');
    await until(() => enqueued.length === 2, 'the deletion');
    expect(configs).toEqual(['MCPAuthzConfig/policies']); // a deleted config has no status to write
  });

  it('follows an MCPServer whose reference changes (the index is updated)', async () => {
    api.put(SERVERS, { ...server('plain', { oidcConfigRef: { name: 'idp', audience: 'p' } }), metadata: { name: 'plain', namespace: NS, generation: 2 } });
    api.put(SERVERS, { ...server('uses-oidc', {}), metadata: { name: 'uses-oidc', namespace: NS, generation: 2 } });
    await until(() => enqueued.length === 2, 'the two spec changes');
    enqueued = [];
    api.put(OIDC, config('MCPOIDCConfig', 'idp', 1));
    await until(() => configs.length === 1, 'the config');
    await until(() => enqueued.length === 2, 'its users');
    expect(enqueued.sort()).toEqual(['plain', 'uses-both']);
  });
  it('a ConfigMap event enqueues the MCPServers that read it, directly (authzConfig) or through a config (caBundleRef); unchanged data nothing', async () => {
    api.put(SERVERS, server('inline-authz', { authzConfig: { type: 'configMap', configMap: { name: 'rules' } } }));
    const ca = { type: 'inline', inline: { issuer: 'https://idp', caBundleRef: { configMapRef: { name: 'idp-ca' } } } };
    api.put(OIDC, { ...config('MCPOIDCConfig', 'idp', 1), spec: ca });
    await until(() => configs.length === 1 && enqueued.includes('inline-authz'), 'the new server and config');
    await until(() => enqueued.length === 3, 'the users of idp');
    enqueued = [];
    const configMap = (name: string, data: Record<string, string>, labels?: Record<string, string>): KubeObject => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: NS, ...(labels && { labels }) },
      data,
    });
    api.put(CONFIGMAPS, configMap('rules', { 'authz.json': '{}' }));
    await until(() => enqueued.length === 1, 'the authzConfig user');
    expect(enqueued).toEqual(['inline-authz']);
    enqueued = [];
    api.put(CONFIGMAPS, configMap('idp-ca', { 'ca.crt': 'one' }));
    await until(() => enqueued.length === 2, 'the users of idp');
    expect(enqueued.sort()).toEqual(['uses-both', 'uses-oidc']);
    expect(caches.configMaps.get(NS, 'idp-ca')).not.toHaveProperty('data'); // the content is never held
    enqueued = [];
    api.put(CONFIGMAPS, configMap('idp-ca', { 'ca.crt': 'one' }, { touched: 'yes' })); // metadata only
    api.put(CONFIGMAPS, configMap('unrelated', { x: 'y' }));
    const first = caches.configMaps.get(NS, 'idp-ca')?.dataHash;
    api.put(CONFIGMAPS, configMap('idp-ca', { 'ca.crt': 'two' }));
    // Events arrive in order: once the new data is cached, the two before it were handled too.
    await until(() => caches.configMaps.get(NS, 'idp-ca')?.dataHash !== first, 'the data change');
    expect(caches.configMaps.get(NS, 'unrelated')).toBeDefined();
    expect(enqueued.sort()).toEqual(['uses-both', 'uses-oidc']);
    enqueued = [];
    api.remove(CONFIGMAPS, 'rules');
    await until(() => enqueued.length === 1, 'the deletion');
    expect(enqueued).toEqual(['inline-authz']);
  });
});
