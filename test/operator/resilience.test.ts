// The operator's informers never give up and never lose an event: the apiserver is killed
// and restarted, etcd is compacted, and the operator (a real separate process) converges on
// whatever happened meanwhile, including changes it could only learn about by relisting.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ControlPlane } from '../control-plane/controlPlane.ts';
import { eventually, type Kube, sleep, waitReady, type Obj, BUILD_TIMEOUT_MS, startClusterWithCrd, TEST_PROXY_IMAGE } from '../support/kube.ts';
import { startOperator, type OperatorProcess } from '../support/operatorProcess.ts';
import { manifest } from '../support/mcpServers.ts';

const TEST_TIMEOUT_MS = 240_000;
const PROXY_IMAGE = TEST_PROXY_IMAGE;

let cp: ControlPlane | undefined;
let kube: Kube;
let operator: OperatorProcess | undefined;

function plane(): ControlPlane {
  if (cp === undefined) throw new Error('no control plane');
  return cp;
}
function op(): OperatorProcess {
  if (operator === undefined) throw new Error('operator not running');
  return operator;
}

const http = (image: string) => ({ image, transport: 'streamable-http' as const, mcpPort: 3001 });

async function proxyImage(ns: string, name: string): Promise<string | undefined> {
  const d = await kube.get('deployment', `mcp-${name}-proxy`, ns);
  const spec = d?.spec?.['template'] as { spec: { containers: { image: string }[] } } | undefined;
  return spec?.spec.containers[0]?.image;
}

async function backendImage(ns: string, name: string): Promise<string | undefined> {
  const s = await kube.get('statefulset', `mcp-${name}`, ns);
  const spec = s?.spec?.['template'] as { spec: { containers: { image: string }[] } } | undefined;
  return spec?.spec.containers[0]?.image;
}

async function childrenOf(ns: string, name: string): Promise<Obj[]> {
  return kube.list('statefulsets,deployments,services', ns, `app.kubernetes.io/instance=${name}`);
}

/** The operator's MCPServer cache agrees with the apiserver (deletions included). */
async function cacheMatchesApiserver(): Promise<boolean> {
  const s = await op().scrape();
  const cached = s.samples.filter((x) => x.name === 'mcpfleet_operator_mcpservers').reduce((n, x) => n + x.value, 0);
  return cached === (await kube.listAll('mcpservers')).length;
}

describe('operator resilience: apiserver restarts and etcd compaction', () => {
  beforeAll(async () => {
    ({ cp, kube } = await startClusterWithCrd());
    operator = await startOperator(cp.kubeconfigPath, [
      '--leader-elect=false',
      '--proxyrunner-image',
      PROXY_IMAGE,
      '--requeue-max-delay',
      '4s',
      '--resync-period',
      '10m',
    ]);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    if (operator?.child.signalCode === null) operator.child.kill('SIGCONT');
    await operator?.stop();
    await cp?.stop();
  }, TEST_TIMEOUT_MS);

  it(
    'converges after the apiserver is killed and restarted',
    async () => {
      const ns = await kube.newNamespace('restart');
      await kube.apply(manifest('a', http('example/mcp:1')), ns);
      await kube.apply(manifest('c', http('example/mcp:1')), ns);
      await waitReady(kube, 'a', ns);
      await waitReady(kube, 'c', ns);

      await plane().stopApiserver();
      await sleep(3_000); // every watch of the operator fails meanwhile, and keeps retrying
      await plane().startApiserver();

      // Changes right after the restart, while the operator is still reconnecting.
      await kube.apply(manifest('b', http('example/mcp:1')), ns);
      await kube.ok(['patch', 'mcps', 'a', '-n', ns, '--type=merge', '-p', '{"spec":{"image":"example/mcp:2"}}']);
      await kube.ok(['delete', 'mcps', 'c', '-n', ns, '--wait=false']);

      await waitReady(kube, 'b', ns, 120_000);
      const a = await waitReady(kube, 'a', ns, 120_000);
      expect(a.status.observedGeneration).toBe(2);
      expect(await backendImage(ns, 'a')).toBe('example/mcp:2');
      await eventually("the deleted server's children gone", 120_000, async () => (await childrenOf(ns, 'c')).length === 0);
      await eventually("the operator's cache to match the apiserver", 30_000, cacheMatchesApiserver);

      const s = await op().scrape();
      expect(s.value('mcpfleet_operator_watch_restarts_total', { reason: 'error' }) ?? 0).toBeGreaterThan(0);
      expect(op().child.exitCode).toBeNull();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'relists and converges when its watches expire (410 Gone): frozen through an apiserver restart and an etcd compaction',
    async () => {
      const ns = await kube.newNamespace('gone');
      await kube.apply(manifest('keep', http('example/mcp:1')), ns);
      await kube.apply(manifest('edit', http('example/mcp:1')), ns);
      await kube.apply(manifest('drop', http('example/mcp:1')), ns);
      for (const n of ['keep', 'edit', 'drop']) await waitReady(kube, n, ns);
      const expiredBefore = (await op().scrape()).value('mcpfleet_operator_watch_restarts_total', { reason: 'expired' }) ?? 0;

      // Freeze the operator: it sees nothing of what follows until it resumes, and by then
      // the resourceVersions it last saw are gone from the apiserver's cache and from etcd.
      op().child.kill('SIGSTOP');
      try {
        await plane().stopApiserver();
        await plane().startApiserver();
        await kube.apply(manifest('new', http('example/mcp:1')), ns);
        await kube.ok(['patch', 'mcps', 'edit', '-n', ns, '--type=merge', '-p', '{"spec":{"image":"example/mcp:3"}}']);
        await kube.ok(['delete', 'mcps', 'drop', '-n', ns, '--wait=false']);
        await kube.ok(['set', 'image', '-n', ns, 'deployment/mcp-keep-proxy', 'proxyrunner=evil/proxy:1']);
        for (let i = 0; i < 20; i++) await kube.ok(['create', 'configmap', `churn-${i}`, '-n', ns]); // move the revision on
        await plane().compactEtcd();
      } finally {
        op().child.kill('SIGCONT');
      }

      await waitReady(kube, 'new', ns, 120_000);
      const edited = await waitReady(kube, 'edit', ns, 120_000);
      expect(edited.status.observedGeneration).toBe(2);
      expect(await backendImage(ns, 'edit')).toBe('example/mcp:3');
      await eventually('the drifted proxy image restored', 120_000, async () => (await proxyImage(ns, 'keep')) === PROXY_IMAGE);
      await waitReady(kube, 'keep', ns, 120_000);
      await eventually("the deleted server's children gone", 120_000, async () => (await childrenOf(ns, 'drop')).length === 0);
      await eventually("the operator's cache to match the apiserver", 30_000, cacheMatchesApiserver);
      const expiredAfter = (await op().scrape()).value('mcpfleet_operator_watch_restarts_total', { reason: 'expired' }) ?? 0;
      expect(expiredAfter).toBeGreaterThan(expiredBefore);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'keeps up across an etcd compaction while running',
    async () => {
      const ns = await kube.newNamespace('compact');
      await kube.apply(manifest('x', http('example/mcp:1')), ns);
      await waitReady(kube, 'x', ns);
      await plane().compactEtcd();
      await kube.ok(['patch', 'mcps', 'x', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":2}}']);
      await kube.apply(manifest('y', http('example/mcp:1')), ns);
      await plane().compactEtcd();
      const x = await waitReady(kube, 'x', ns);
      expect(x.status.readyReplicas).toBe(2);
      await waitReady(kube, 'y', ns);
    },
    TEST_TIMEOUT_MS,
  );
});
