// The order in which a reconcile writes an MCPServer's children: what must exist first (the
// ServiceAccount the proxy's pods run as, the Role a RoleBinding names) is written before what
// needs it, and nothing else waits. The client is a recording fake whose applies stay open
// until the test answers them, so "started before X was answered" is observable without timing;
// the caches are the operator's own, never started (filled with upsert).
import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../common/log.ts';
import type { KubeClient } from '../../../common/kube/client.ts';
import type { KindInfo, KubeObject } from '../../../common/kube/kinds.ts';
import type { MCPServerSpec } from '../api/types.ts';
import { Reconciler } from './reconciler.ts';
import { createCaches, type McpObject } from './watches.ts';

/** Applies held open until answer(kind) is called; everything else answers at once. */
class HeldApplies {
  /** "Kind" of each apply, in the order they were sent. */
  readonly started: string[] = [];
  private readonly pending = new Map<string, (() => void)[]>();

  readonly client = {
    apply: (_kind: KindInfo, obj: KubeObject): Promise<KubeObject> => {
      const kind = obj.kind ?? '?';
      this.started.push(kind);
      return new Promise((resolve) => {
        const list = this.pending.get(kind) ?? [];
        list.push(() => resolve({ ...obj, metadata: { ...obj.metadata, uid: `uid-${obj.metadata.name}`, resourceVersion: '1' } }));
        this.pending.set(kind, list);
      });
    },
    patchStatus: (_kind: KindInfo, _ns: string, _name: string, patch: { status: unknown }): Promise<KubeObject> =>
      Promise.resolve({ ...server, status: patch.status, metadata: { ...server.metadata, resourceVersion: '2' } } as KubeObject),
    delete: (): Promise<void> => Promise.resolve(),
  };

  answer(kind: string): void {
    const list = this.pending.get(kind) ?? [];
    this.pending.delete(kind);
    for (const resolve of list) resolve();
  }

  /** Lets the reconcile run until it waits on an open apply again. */
  static async turn(): Promise<void> {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  }
}

let server: McpObject;

function mcp(spec: MCPServerSpec): McpObject {
  return {
    apiVersion: 'mcpfleet.dev/v1alpha1',
    kind: 'MCPServer',
    metadata: { name: 'files', namespace: 'n', uid: 'uid-files', generation: 1, resourceVersion: '1' },
    spec,
  };
}

async function reconcileWith(spec: MCPServerSpec): Promise<{ fake: HeldApplies; done: Promise<unknown> }> {
  const fake = new HeldApplies();
  const client = fake.client as unknown as KubeClient;
  const caches = createCaches({ client, namespaces: ['n'], log: silentLogger, onRestart: () => undefined });
  server = mcp(spec);
  caches.mcpservers.upsert(server);
  const reconciler = new Reconciler({ client, caches, build: { proxyrunnerImage: 'proxy:1' }, log: silentLogger });
  const done = reconciler.reconcile({ namespace: 'n', name: 'files' });
  await HeldApplies.turn();
  return { fake, done };
}

describe('Reconciler: the order of child writes', () => {
  it('stdio: the StatefulSet and the Service go out with the ServiceAccount and the Role; the Deployment waits for the ServiceAccount, the RoleBinding for the Role', async () => {
    const { fake, done } = await reconcileWith({ image: 'example/mcp:1', transport: 'stdio', args: ['stdio'] });
    // Nothing answered yet: everything without a prerequisite is on its way.
    expect([...fake.started].sort()).toEqual(['Role', 'Service', 'ServiceAccount', 'StatefulSet']);

    fake.answer('Role');
    await HeldApplies.turn();
    expect(fake.started).toContain('RoleBinding');
    expect(fake.started).not.toContain('Deployment');

    fake.answer('ServiceAccount');
    await HeldApplies.turn();
    expect(fake.started).toContain('Deployment');

    for (const kind of ['StatefulSet', 'Service', 'RoleBinding', 'Deployment']) fake.answer(kind);
    await done;
    expect([...fake.started].sort()).toEqual(['Deployment', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'StatefulSet']);
  });

  it('a failed prerequisite still lets what waits on it be tried (its error is reported with the rest)', async () => {
    const fake = new HeldApplies();
    const failing = {
      ...fake.client,
      apply: (kind: KindInfo, obj: KubeObject): Promise<KubeObject> =>
        obj.kind === 'ServiceAccount' ? Promise.reject(Object.assign(new Error('nope'), { code: 500, reason: 'InternalError' })) : fake.client.apply(kind, obj),
    };
    const client = failing as unknown as KubeClient;
    const caches = createCaches({ client, namespaces: ['n'], log: silentLogger, onRestart: () => undefined });
    server = mcp({ image: 'example/mcp:1', transport: 'stdio', args: ['stdio'] });
    caches.mcpservers.upsert(server);
    const reconciler = new Reconciler({ client, caches, build: { proxyrunnerImage: 'proxy:1' }, log: silentLogger });
    const done = reconciler.reconcile({ namespace: 'n', name: 'files' });
    await HeldApplies.turn();
    expect(fake.started).toContain('Deployment');
    for (const kind of ['Role', 'StatefulSet', 'Service', 'RoleBinding', 'Deployment']) fake.answer(kind);
    await HeldApplies.turn();
    fake.answer('RoleBinding');
    await expect(done).rejects.toThrow(/ServiceAccount mcp-files-proxy/);
  });

  it('streamable-http: every child at once (none waits for another)', async () => {
    const { fake, done } = await reconcileWith({ image: 'example/mcp:1', transport: 'streamable-http', mcpPort: 3001 });
    expect([...fake.started].sort()).toEqual(['Deployment', 'Service', 'Service', 'StatefulSet']);
    for (const kind of ['Deployment', 'Service', 'StatefulSet']) fake.answer(kind);
    await done;
  });
});
