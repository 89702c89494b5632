// The operator, run as a separate process exactly as it ships, against a real control plane
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok). Every namespace
// enforces the restricted Pod Security Standard, so every pod the operator makes must pass it.
import { describe, expect, it } from '@jest/globals';
import { eventually, type Kube, sleep, waitReady, type McpStatus, type Obj, TEST_PROXY_IMAGE } from '../support/kube.ts';
import { operatorArgs, operatorOnControlPlane, settle } from '../support/operatorHarness.ts';
import { manifest } from '../support/mcpServers.ts';
import type { MCPServerSpec } from '../../operator/src/api/types.ts';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { scrape } from '../support/metrics.ts';
import { startProxy } from '../support/processes.ts';

const TEST_TIMEOUT_MS = 180_000;
const PROXY_IMAGE = TEST_PROXY_IMAGE;
const CHILD_KINDS = 'statefulsets,deployments,services,serviceaccounts,roles,rolebindings';

let kube: Kube;

async function create(ns: string, name: string, spec: MCPServerSpec): Promise<void> {
  await kube.apply(manifest(name, spec), ns);
}

async function children(ns: string, name: string): Promise<Obj[]> {
  return kube.list(CHILD_KINDS, ns, `app.kubernetes.io/instance=${name}`);
}

function names(objs: Obj[]): string[] {
  return objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
}

async function pods(ns: string, name: string, component: 'backend' | 'proxy'): Promise<Obj[]> {
  const all = await kube.list('pods', ns, `app.kubernetes.io/instance=${name},app.kubernetes.io/component=${component}`);
  return all.filter((p) => p.metadata.deletionTimestamp === undefined);
}

function container(obj: Obj, name: string): Record<string, unknown> {
  const spec = (obj.spec?.['template'] as { spec: { containers: Record<string, unknown>[] } }).spec;
  const c = spec.containers.find((x) => x['name'] === name);
  if (c === undefined) throw new Error(`no container ${name} in ${obj.kind}/${obj.metadata.name}`);
  return c;
}

function templateHash(obj: Obj): string | undefined {
  return (obj.spec?.['template'] as { metadata: { annotations?: Record<string, string> } }).metadata.annotations?.['mcpfleet.dev/config-hash'];
}

function conditions(status: McpStatus): Record<string, string> {
  return Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c.status]));
}

/**
 * What the EndpointSlice controller would publish for the backend Service: this harness runs
 * without it (kwok's fake pod IPs are loopback addresses, which slices refuse), so the test
 * writes the one slice itself, from the backend pods and their Ready condition, with
 * documentation addresses (192.0.2.0/24) that nothing connects to.
 */
async function publishSlice(ns: string, name: string): Promise<void> {
  const backendPods = (await pods(ns, name, 'backend')).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const ready = (pod: Obj): boolean =>
    ((pod.status?.['conditions'] as { type: string; status: string }[] | undefined) ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `mcp-${name}-slice`, namespace: ns, labels: { 'kubernetes.io/service-name': `mcp-${name}` } },
    addressType: 'IPv4',
    ports: [{ name: 'mcp', port: 3001, protocol: 'TCP' }],
    endpoints: backendPods.map((pod, i) => ({
      addresses: [`192.0.2.${i + 1}`],
      conditions: { ready: ready(pod) },
      targetRef: { kind: 'Pod', name: pod.metadata.name, namespace: ns, uid: pod.metadata.uid },
    })),
  };
  await kube.apply(slice, ns);
}

describe('operator: reconciling MCPServers on a real control plane', () => {
  const { op, restart } = operatorOnControlPlane(operatorArgs(PROXY_IMAGE), async (k) => {
    kube = k;
  });

  it(
    'stdio: creates RBAC, a StatefulSet with stdin open, the proxy Deployment and Service, and reaches Ready',
    async () => {
      const ns = await kube.newNamespace('stdio');
      await create(ns, 'files', { image: 'example/mcp-files:1', transport: 'stdio', args: ['stdio'] });
      const m = await waitReady(kube, 'files', ns);
      expect(m.status).toMatchObject({
        phase: 'Ready',
        url: `http://mcp-files-proxy.${ns}.svc.cluster.local:8080/mcp`,
        readyReplicas: 1,
        observedGeneration: 1,
      });
      expect(conditions(m.status)).toEqual({ Ready: 'True', Available: 'True', ChildrenApplied: 'True', BackendHealthy: 'True', ProxyHealthy: 'True' });

      const objs = await children(ns, 'files');
      expect(names(objs)).toEqual([
        'Deployment/mcp-files-proxy',
        'Role/mcp-files-proxy',
        'RoleBinding/mcp-files-proxy',
        'Service/mcp-files-proxy',
        'ServiceAccount/mcp-files-proxy',
        'StatefulSet/mcp-files',
      ]);
      for (const o of objs) {
        expect(o.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'MCPServer', name: 'files', uid: m.metadata.uid, controller: true })]);
        expect(o.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('mcpfleet-operator');
      }
      const sts = objs.find((o) => o.kind === 'StatefulSet') as Obj;
      expect(container(sts, 'mcp')).toMatchObject({ image: 'example/mcp-files:1', stdin: true });
      const deploy = objs.find((o) => o.kind === 'Deployment') as Obj;
      const proxy = container(deploy, 'proxyrunner');
      expect(proxy['image']).toBe(PROXY_IMAGE);
      expect(proxy['args']).toEqual(expect.arrayContaining(['--transport', 'stdio']));
      expect(proxy['env']).toEqual(expect.arrayContaining([{ name: 'MCPFLEET_ATTACH_CONTAINER', value: 'mcp' }]));
      const role = objs.find((o) => o.kind === 'Role') as Obj;
      expect(role['rules']).toEqual([
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['pods/attach'], verbs: ['create', 'get'] },
      ]);
      // The proxy's ServiceAccount may attach to pods, and nothing else.
      const sa = `system:serviceaccount:${ns}:mcp-files-proxy`;
      expect((await kube.cp.kubectl(['auth', 'can-i', 'create', 'pods', '--subresource=attach', '-n', ns, `--as=${sa}`])).stdout.trim()).toBe('yes');
      expect((await kube.cp.kubectl(['auth', 'can-i', 'delete', 'pods', '-n', ns, `--as=${sa}`])).stdout.trim()).toBe('no');
      expect((await kube.cp.kubectl(['auth', 'can-i', 'get', 'secrets', '-n', ns, `--as=${sa}`])).stdout.trim()).toBe('no');

      // Pods exist (admitted under restricted) and kwok made them Ready.
      expect(await pods(ns, 'files', 'backend')).toHaveLength(1);
      expect(await pods(ns, 'files', 'proxy')).toHaveLength(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'streamable-http: a backend Service, two proxy replicas, no RBAC; Ready with readyReplicas 2',
    async () => {
      const ns = await kube.newNamespace('http');
      await create(ns, 'web', { image: 'example/mcp-web:1', transport: 'streamable-http', mcpPort: 3001, replicas: 2 });
      const m = await waitReady(kube, 'web', ns);
      expect(m.status).toMatchObject({ url: `http://mcp-web-proxy.${ns}.svc.cluster.local:8080/mcp`, readyReplicas: 2 });
      const objs = await children(ns, 'web');
      expect(names(objs)).toEqual(['Deployment/mcp-web-proxy', 'Service/mcp-web', 'Service/mcp-web-proxy', 'StatefulSet/mcp-web']);
      const deploy = objs.find((o) => o.kind === 'Deployment') as Obj;
      expect(container(deploy, 'proxyrunner')['args']).toEqual(expect.arrayContaining(['--target-url', 'http://mcp-web:3001/mcp']));
      const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'mcp-web') as Obj;
      expect(svc.spec?.['ports']).toEqual([expect.objectContaining({ port: 3001, targetPort: 'mcp' })]);
      expect(await pods(ns, 'web', 'proxy')).toHaveLength(2);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'backendReplicas: N backend pods; the proxy, as its own ServiceAccount, discovers exactly the ready ones; RBAC is endpointslices only and goes with the field',
    async () => {
      const ns = await kube.newNamespace('backends');
      await create(ns, 'pool', { image: 'example/mcp-web:1', transport: 'streamable-http', mcpPort: 3001, backendReplicas: 3 });
      await waitReady(kube, 'pool', ns);
      await eventually('3 backend pods', 60_000, async () => (await pods(ns, 'pool', 'backend')).length === 3);
      const objs = await children(ns, 'pool');
      expect(names(objs)).toEqual([
        'Deployment/mcp-pool-proxy',
        'Role/mcp-pool-proxy',
        'RoleBinding/mcp-pool-proxy',
        'Service/mcp-pool',
        'Service/mcp-pool-proxy',
        'ServiceAccount/mcp-pool-proxy',
        'StatefulSet/mcp-pool',
      ]);
      const deploy = objs.find((o) => o.kind === 'Deployment') as Obj;
      const args = container(deploy, 'proxyrunner')['args'] as string[];
      expect(args).toEqual(expect.arrayContaining(['--backend-service', 'mcp-pool', '--backend-port', 'mcp', '--backend-namespace', ns]));
      const sa = `system:serviceaccount:${ns}:mcp-pool-proxy`;
      const can = async (...check: string[]): Promise<string> => (await kube.cp.kubectl(['auth', 'can-i', ...check, `--as=${sa}`])).stdout.trim();
      for (const verb of ['get', 'list', 'watch']) expect(await can(verb, 'endpointslices.discovery.k8s.io', '-n', ns)).toBe('yes');
      expect(await can('list', 'endpointslices.discovery.k8s.io', '-n', 'default')).toBe('no');
      expect(await can('create', 'endpointslices.discovery.k8s.io', '-n', ns)).toBe('no');
      expect(await can('get', 'pods', '-n', ns)).toBe('no');
      expect(await can('get', 'secrets', '-n', ns)).toBe('no');
      expect(await can('list', 'endpoints', '-n', ns)).toBe('no');

      // The real proxyrunner with the operator's own flags, authenticated as that
      // ServiceAccount: it lists and watches the slices the EndpointSlice controller made of
      // the (kwok) backend pods, and follows a scale-down at once.
      const token = (await kube.ok(['create', 'token', 'mcp-pool-proxy', '-n', ns, '--duration', '1h'])).trim();
      const kubeconfig = path.join(kube.cp.dir, `proxy-${ns}.kubeconfig`);
      await writeFile(kubeconfig, (await readFile(kube.cp.kubeconfigPath, 'utf8')).replace(kube.cp.token, token), { mode: 0o600 });
      const proxy = await startProxy(
        args.filter((_, i) => !['--port', '--metrics-port'].includes(args[i] as string) && !['--port', '--metrics-port'].includes(args[i - 1] as string)),
        { env: { KUBECONFIG: kubeconfig } },
      );
      try {
        const ready = async (): Promise<number | undefined> => (await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_backends_ready');
        await publishSlice(ns, 'pool');
        await eventually('the proxy to see 3 ready backends', 60_000, async () => (await ready()) === 3);
        expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_backend_discovery_errors_total')).toBe(0);
        await kube.ok(['patch', 'mcps', 'pool', '-n', ns, '--type=merge', '-p', '{"spec":{"backendReplicas":2}}']);
        await eventually('2 backend pods', 60_000, async () => (await pods(ns, 'pool', 'backend')).length === 2);
        await publishSlice(ns, 'pool');
        await eventually('the proxy to see 2 ready backends', 60_000, async () => (await ready()) === 2);
      } finally {
        await proxy.stop();
      }

      // Without backendReplicas: one pod, no discovery, and the proxy's API access is gone.
      await kube.ok(['patch', 'mcps', 'pool', '-n', ns, '--type=json', '-p', '[{"op":"remove","path":"/spec/backendReplicas"}]']);
      await eventually('RBAC pruned', 60_000, async () => names(await children(ns, 'pool')).every((n) => !/^(Role|RoleBinding|ServiceAccount)\//.test(n)));
      const single = (await kube.get('deployment', 'mcp-pool-proxy', ns)) as Obj;
      expect(container(single, 'proxyrunner')['args']).not.toContain('--backend-service');
      expect((single.spec?.['template'] as { spec: { automountServiceAccountToken: boolean } }).spec.automountServiceAccountToken).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'sessionRecovery Replay: the proxy gets --session-recovery replay and rolls on a change; the apiserver refuses Replay without backendReplicas',
    async () => {
      const ns = await kube.newNamespace('recovery');
      await create(ns, 'moving', { image: 'example/mcp-web:1', transport: 'streamable-http', mcpPort: 3001, backendReplicas: 2, sessionRecovery: 'Replay' });
      await waitReady(kube, 'moving', ns);
      const replay = (await kube.get('deployment', 'mcp-moving-proxy', ns)) as Obj;
      const args = container(replay, 'proxyrunner')['args'] as string[];
      expect(args.slice(args.indexOf('--session-recovery'), args.indexOf('--session-recovery') + 2)).toEqual(['--session-recovery', 'replay']);

      // Dropping backendReplicas while Replay is set is refused (the proxy would exit 2 on it).
      const dropped = await kube.cp.kubectl(['patch', 'mcps', 'moving', '-n', ns, '--type=json', '-p', '[{"op":"remove","path":"/spec/backendReplicas"}]']);
      expect(dropped.code).not.toBe(0);
      expect(dropped.stderr).toContain('spec.sessionRecovery: Forbidden: sessionRecovery Replay needs backendReplicas');

      // Back to None: the flag goes (the proxyrunner's default) and the proxy's template changes, so it rolls.
      await kube.ok(['patch', 'mcps', 'moving', '-n', ns, '--type=merge', '-p', '{"spec":{"sessionRecovery":"None"}}']);
      await eventually('the proxy Deployment without --session-recovery', 60_000, async () => {
        const deploy = (await kube.get('deployment', 'mcp-moving-proxy', ns)) as Obj;
        return !(container(deploy, 'proxyrunner')['args'] as string[]).includes('--session-recovery');
      });
      const none = (await kube.get('deployment', 'mcp-moving-proxy', ns)) as Obj;
      expect(templateHash(none)).not.toBe(templateHash(replay));
      // None needs nothing, so backendReplicas may go now.
      await kube.ok(['patch', 'mcps', 'moving', '-n', ns, '--type=json', '-p', '[{"op":"remove","path":"/spec/backendReplicas"}]']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'stdio backendReplicas: N backend pods; the real proxyrunner, as its own ServiceAccount, lists, watches and attaches to each of them',
    async () => {
      const ns = await kube.newNamespace('stdiorep');
      // A legacy SSE upstream cannot be spread: the apiserver refuses it with the CEL message.
      const refused = await kube.cp.kubectl(['apply', '-n', ns, '-f', '-'], {
        input: JSON.stringify(manifest('legacy', { image: 'example/mcp-sse:1', transport: 'sse', mcpPort: 3001, proxyMode: 'sse', backendReplicas: 2 })),
      });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('backendReplicas needs transport stdio, or transport streamable-http with proxyMode streamable-http');

      await create(ns, 'many', { image: 'example/mcp-files:1', transport: 'stdio', backendReplicas: 3 });
      await waitReady(kube, 'many', ns);
      await eventually('3 backend pods', 60_000, async () => (await pods(ns, 'many', 'backend')).length === 3);
      const objs = await children(ns, 'many');
      expect(names(objs)).toEqual([
        'Deployment/mcp-many-proxy',
        'Role/mcp-many-proxy',
        'RoleBinding/mcp-many-proxy',
        'Service/mcp-many-proxy',
        'ServiceAccount/mcp-many-proxy',
        'StatefulSet/mcp-many',
      ]);
      const sts = objs.find((o) => o.kind === 'StatefulSet') as Obj;
      expect(sts.spec?.['replicas']).toBe(3);
      const deploy = objs.find((o) => o.kind === 'Deployment') as Obj;
      expect(deploy.spec?.['replicas']).toBe(1); // one proxy (CEL keeps a stdio proxy at 1 replica)
      const proxyContainer = container(deploy, 'proxyrunner');
      const args = proxyContainer['args'] as string[];
      const env = proxyContainer['env'] as { name: string; value?: string }[];
      expect(env).toEqual(expect.arrayContaining([{ name: 'MCPFLEET_ATTACH_MAX_PODS', value: '3' }]));
      expect(args).not.toContain('--backend-service');
      // The stdio Role, unchanged, covers N pods: list and watch them, attach to each.
      const sa = `system:serviceaccount:${ns}:mcp-many-proxy`;
      const can = async (...check: string[]): Promise<string> => (await kube.cp.kubectl(['auth', 'can-i', ...check, `--as=${sa}`])).stdout.trim();
      for (const verb of ['get', 'list', 'watch']) expect(await can(verb, 'pods', '-n', ns)).toBe('yes');
      for (const verb of ['create', 'get']) expect(await can(verb, 'pods', '--subresource=attach', '-n', ns)).toBe('yes');
      expect(await can('list', 'pods', '-n', 'default')).toBe('no');
      expect(await can('list', 'endpointslices.discovery.k8s.io', '-n', ns)).toBe('no');
      expect(await can('delete', 'pods', '-n', ns)).toBe('no');

      // The real proxyrunner with the operator's flags and environment, authenticated as that
      // ServiceAccount. kwok runs no kubelet, so each attach opens and closes at once (the
      // stream itself is tested in test/proxy/attachProtocol.test.ts); what this proves is that
      // the proxy lists and watches the pods and attaches to every one of the three.
      const token = (await kube.ok(['create', 'token', 'mcp-many-proxy', '-n', ns, '--duration', '1h'])).trim();
      const kubeconfig = path.join(kube.cp.dir, `proxy-${ns}.kubeconfig`);
      await writeFile(kubeconfig, (await readFile(kube.cp.kubeconfigPath, 'utf8')).replace(kube.cp.token, token), { mode: 0o600 });
      const proxyEnv: Record<string, string> = { KUBECONFIG: kubeconfig };
      for (const e of env) if (e.value !== undefined) proxyEnv[e.name] = e.value;
      const proxy = await startProxy(
        args.filter((_, i) => !['--port', '--metrics-port'].includes(args[i] as string) && !['--port', '--metrics-port'].includes(args[i - 1] as string)),
        { env: proxyEnv },
      );
      try {
        const backendPods = (await pods(ns, 'many', 'backend')).map((p) => p.metadata.name).sort();
        expect(backendPods).toEqual(['mcp-many-0', 'mcp-many-1', 'mcp-many-2']);
        await eventually('an attach to each backend pod', 60_000, async () =>
          backendPods.every((pod) =>
            proxy.stderr().includes(`"msg":"attached to stdio server pod","component":"proxyrunner","namespace":"${ns}","pod":"${pod}"`),
          ),
        );
        expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_backend_discovery_errors_total')).toBe(0);
        expect(proxy.stderr()).not.toContain('Forbidden');
      } finally {
        await proxy.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "sse: the proxy serves /sse and targets the backend's /sse",
    async () => {
      const ns = await kube.newNamespace('sse');
      await create(ns, 'legacy', { image: 'example/mcp-sse:1', transport: 'sse', mcpPort: 3001, proxyMode: 'sse' });
      const m = await waitReady(kube, 'legacy', ns);
      expect(m.status).toMatchObject({ url: `http://mcp-legacy-proxy.${ns}.svc.cluster.local:8080/sse`, readyReplicas: 1 });
      const deploy = (await kube.get('deployment', 'mcp-legacy-proxy', ns)) as Obj;
      expect(container(deploy, 'proxyrunner')['args']).toEqual(expect.arrayContaining(['--target-url', 'http://mcp-legacy:3001/sse', '--proxy-mode', 'sse']));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rolls the pods when the spec changes (config hash), and reports the new generation',
    async () => {
      const ns = await kube.newNamespace('roll');
      await create(ns, 'web', { image: 'example/mcp-web:1', transport: 'streamable-http', mcpPort: 3001 });
      await waitReady(kube, 'web', ns);
      const [backendBefore] = await pods(ns, 'web', 'backend');
      const [proxyBefore] = await pods(ns, 'web', 'proxy');
      const stsBefore = (await kube.get('statefulset', 'mcp-web', ns)) as Obj;

      await kube.ok(['patch', 'mcps', 'web', '-n', ns, '--type=merge', '-p', '{"spec":{"image":"example/mcp-web:2","maxSessions":77}}']);
      const m = await waitReady(kube, 'web', ns);
      expect(m.status.observedGeneration).toBe(2);

      const sts = (await kube.get('statefulset', 'mcp-web', ns)) as Obj;
      expect(templateHash(sts)).not.toBe(templateHash(stsBefore));
      expect(container(sts, 'mcp')['image']).toBe('example/mcp-web:2');
      const [backendAfter] = await pods(ns, 'web', 'backend');
      expect(backendAfter?.metadata.uid).not.toBe(backendBefore?.metadata.uid);
      expect(backendAfter?.metadata.annotations?.['mcpfleet.dev/config-hash']).toBe(templateHash(sts));
      const deploy = (await kube.get('deployment', 'mcp-web-proxy', ns)) as Obj;
      expect(container(deploy, 'proxyrunner')['args']).toEqual(expect.arrayContaining(['--max-sessions', '77']));
      const proxyAfter = await pods(ns, 'web', 'proxy');
      expect(proxyAfter.map((p) => p.metadata.name)).not.toContain(proxyBefore?.metadata.name);
      expect(proxyAfter[0]?.metadata.annotations?.['mcpfleet.dev/config-hash']).toBe(templateHash(deploy));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'builds the children anew for an MCPServer recreated under the same name (generation 1 again)',
    async () => {
      const ns = await kube.newNamespace('again');
      await create(ns, 'twice', { image: 'example/mcp-first:1' });
      await waitReady(kube, 'twice', ns);
      await kube.ok(['delete', 'mcps', 'twice', '-n', ns, '--wait=true']);
      await create(ns, 'twice', { image: 'example/mcp-second:1', transport: 'streamable-http', mcpPort: 3001 });
      const m = await waitReady(kube, 'twice', ns);
      expect(m.metadata.generation).toBe(1);
      const sts = (await kube.get('statefulset', 'mcp-twice', ns)) as Obj;
      expect(container(sts, 'mcp')['image']).toBe('example/mcp-second:1');
      expect(sts.metadata.ownerReferences?.[0]?.uid).toBe(m.metadata.uid);
      expect(await kube.get('service', 'mcp-twice', ns)).toBeDefined(); // HTTP transports only
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'brings deleted children back',
    async () => {
      const ns = await kube.newNamespace('heal');
      await create(ns, 'files', { image: 'example/mcp-files:1' });
      await waitReady(kube, 'files', ns);
      const before = new Map((await children(ns, 'files')).map((o) => [`${o.kind}/${o.metadata.name}`, o.metadata.uid]));
      await kube.ok([
        'delete',
        '-n',
        ns,
        'statefulset/mcp-files',
        'deployment/mcp-files-proxy',
        'service/mcp-files-proxy',
        'role/mcp-files-proxy',
        'rolebinding/mcp-files-proxy',
        'serviceaccount/mcp-files-proxy',
        '--wait=false',
      ]);
      await eventually('every child recreated', 60_000, async () => {
        const now = await children(ns, 'files');
        return (
          now.length === before.size &&
          now.every((o) => before.get(`${o.kind}/${o.metadata.name}`) !== o.metadata.uid && o.metadata.deletionTimestamp === undefined)
        );
      });
      const m = await waitReady(kube, 'files', ns);
      expect(m.status.readyReplicas).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'restores children edited by someone else',
    async () => {
      const ns = await kube.newNamespace('drift');
      await create(ns, 'web', { image: 'example/mcp-web:1', transport: 'streamable-http', mcpPort: 3001 });
      await waitReady(kube, 'web', ns);
      await kube.ok(['set', 'image', '-n', ns, 'deployment/mcp-web-proxy', 'proxyrunner=evil/proxy:1']);
      await kube.ok(['patch', 'service', 'mcp-web', '-n', ns, '--type=json', '-p', '[{"op":"replace","path":"/spec/ports/0/port","value":4444}]']);
      await kube.ok(['label', 'statefulset', 'mcp-web', '-n', ns, 'app.kubernetes.io/managed-by-', '--overwrite']);
      await eventually('the edits undone', 60_000, async () => {
        const deploy = (await kube.get('deployment', 'mcp-web-proxy', ns)) as Obj;
        const svc = (await kube.get('service', 'mcp-web', ns)) as Obj;
        const sts = (await kube.get('statefulset', 'mcp-web', ns)) as Obj;
        return (
          container(deploy, 'proxyrunner')['image'] === PROXY_IMAGE &&
          (svc.spec?.['ports'] as { port: number }[])[0]?.port === 3001 &&
          sts.metadata.labels?.['app.kubernetes.io/managed-by'] === 'mcpfleet-operator'
        );
      });
      await waitReady(kube, 'web', ns);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'switching transport removes what is no longer needed and adds what is',
    async () => {
      const ns = await kube.newNamespace('switch');
      await create(ns, 'svr', { image: 'example/mcp:1', transport: 'stdio' });
      await waitReady(kube, 'svr', ns);
      await kube.ok(['patch', 'mcps', 'svr', '-n', ns, '--type=merge', '-p', '{"spec":{"transport":"streamable-http","mcpPort":3001}}']);
      await waitReady(kube, 'svr', ns);
      await eventually('RBAC pruned, backend Service added', 60_000, async () => {
        const n = names((await children(ns, 'svr')).filter((o) => o.metadata.deletionTimestamp === undefined));
        return JSON.stringify(n) === JSON.stringify(['Deployment/mcp-svr-proxy', 'Service/mcp-svr', 'Service/mcp-svr-proxy', 'StatefulSet/mcp-svr']);
      });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'replaces a child whose immutable fields must change (a backend Service with a virtual IP)',
    async () => {
      const ns = await kube.newNamespace('immutable');
      await create(ns, 'web', { image: 'example/mcp-web:1', transport: 'streamable-http', mcpPort: 3001 });
      const m = await waitReady(kube, 'web', ns);
      // While the operator is down, the backend Service becomes what an older version made:
      // a ClusterIP Service (clusterIP cannot be changed to None in place).
      await op().stop();
      const old = (await kube.get('service', 'mcp-web', ns)) as Obj;
      expect(old.spec?.['clusterIP']).toBe('None');
      await kube.ok(['delete', 'service', 'mcp-web', '-n', ns]);
      await kube.apply(
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: {
            name: 'mcp-web',
            labels: old.metadata.labels,
            annotations: { 'mcpfleet.dev/applied-hash': 'from-an-older-operator' },
            ownerReferences: [
              { apiVersion: 'mcpfleet.dev/v1alpha1', kind: 'MCPServer', name: 'web', uid: m.metadata.uid, controller: true, blockOwnerDeletion: true },
            ],
          },
          spec: { selector: old.spec?.['selector'], ports: [{ name: 'mcp', port: 3001, targetPort: 'mcp' }] },
        },
        ns,
      );
      expect(((await kube.get('service', 'mcp-web', ns)) as Obj).spec?.['clusterIP']).not.toBe('None');
      await restart();
      await eventually('a headless backend Service again', 60_000, async () => (await kube.get('service', 'mcp-web', ns))?.spec?.['clusterIP'] === 'None');
      await waitReady(kube, 'web', ns);
      expect(op().logs()).toContain('replacing an object whose immutable fields must change');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'replicas unset leaves the proxy Deployment to an autoscaler (a scale to 3 stands across resyncs); sessionStorage and sessionAffinity reach the proxy',
    async () => {
      const ns = await kube.newNamespace('hpa');
      await kube.ok(['create', 'secret', 'generic', 'redis-auth', '-n', ns, '--from-literal=pw=s3cret']);
      await create(ns, 'web', {
        image: 'example/mcp-web:1',
        transport: 'streamable-http',
        mcpPort: 3001,
        sessionAffinity: 'None',
        sessionStorage: { provider: 'redis', address: 'redis.infra:6379', passwordRef: { name: 'redis-auth', key: 'pw' } },
      });
      await waitReady(kube, 'web', ns);
      const deploy = (await kube.get('deployment', 'mcp-web-proxy', ns)) as Obj;
      const proxy = container(deploy, 'proxyrunner');
      expect(proxy['args']).toEqual(
        expect.arrayContaining(['--session-storage', 'redis', '--redis-address', 'redis.infra:6379', '--redis-key-prefix', `mcpfleet:${ns}:web`]),
      );
      expect(proxy['env']).toEqual(
        expect.arrayContaining([{ name: 'MCPFLEET_REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'redis-auth', key: 'pw' } } }]),
      );
      expect(JSON.stringify(deploy)).not.toContain('s3cret');
      expect((await kube.get('service', 'mcp-web-proxy', ns))?.spec?.['sessionAffinity']).toBe('None');
      // What an HPA does: write the scale subresource. The operator never asserted replicas, so it keeps it.
      await kube.ok(['scale', 'deployment', 'mcp-web-proxy', '-n', ns, '--replicas=3']);
      await eventually('three proxy pods, Ready with readyReplicas 3', 60_000, async () => {
        const m = await kube.get('mcpserver', 'web', ns);
        const status = m?.status as McpStatus;
        return status.phase === 'Ready' && status.readyReplicas === 3 && (await pods(ns, 'web', 'proxy')).length === 3;
      });
      await sleep(10_000); // more than two resyncs (--resync-period 4s)
      await settle(op());
      expect((await kube.get('deployment', 'mcp-web-proxy', ns))?.spec?.['replicas']).toBe(3);
      expect(await pods(ns, 'web', 'proxy')).toHaveLength(3);
      // Setting replicas takes the field back.
      await kube.ok(['patch', 'mcps', 'web', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":2,"sessionAffinity":"ClientIP"}}']);
      await eventually(
        'the Deployment at the spec replicas',
        60_000,
        async () => (await kube.get('deployment', 'mcp-web-proxy', ns))?.spec?.['replicas'] === 2,
      );
      expect((await kube.get('service', 'mcp-web-proxy', ns))?.spec?.['sessionAffinity']).toBe('ClientIP');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'replicas 0 stops the server (phase Stopped, no pods); scaling up makes it Ready again',
    async () => {
      const ns = await kube.newNamespace('stop');
      await create(ns, 'web', { image: 'example/mcp-web:1', transport: 'streamable-http', mcpPort: 3001 });
      await waitReady(kube, 'web', ns);
      await kube.ok(['patch', 'mcps', 'web', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":0}}']);
      await eventually('Stopped with no pods', 60_000, async () => {
        const m = await kube.get('mcpserver', 'web', ns);
        const status = m?.status as McpStatus;
        return status.phase === 'Stopped' && status.observedGeneration === 2 && (await kube.list('pods', ns)).length === 0;
      });
      await kube.ok(['patch', 'mcps', 'web', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":1}}']);
      await waitReady(kube, 'web', ns);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'reports Failed with a reason when a child cannot be written, and recovers when the obstacle goes',
    async () => {
      const ns = await kube.newNamespace('clash');
      // Someone else's Service already has the proxy Service's name (and its own controller).
      const owner = JSON.parse(await kube.ok(['create', 'configmap', 'owner', '-n', ns, '-o', 'json'])) as Obj;
      await kube.apply(
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: {
            name: 'mcp-clash-proxy',
            ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid, controller: true }],
          },
          spec: { ports: [{ port: 80 }] },
        },
        ns,
      );
      await create(ns, 'clash', { image: 'example/mcp:1' });
      const failed = await eventually('phase Failed', 60_000, async () => {
        const m = await kube.get('mcpserver', 'clash', ns);
        const status = m?.status as McpStatus | undefined;
        return status?.phase === 'Failed' ? status : undefined;
      });
      const applied = failed.conditions?.find((c) => c.type === 'ChildrenApplied');
      expect(applied).toMatchObject({ status: 'False', reason: 'Invalid' });
      expect(applied?.message).toContain('Service mcp-clash-proxy');
      expect(conditions(failed).Ready).toBe('False');

      await kube.ok(['delete', 'service', 'mcp-clash-proxy', '-n', ns]);
      await waitReady(kube, 'clash', ns, 60_000);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'makes no API write when nothing changed: across resyncs, and from a freshly started operator',
    async () => {
      const ns = await kube.newNamespace('quiet');
      await create(ns, 'a', { image: 'example/mcp:1' });
      await create(ns, 'b', {
        image: 'example/mcp:1',
        transport: 'sse',
        mcpPort: 3001,
        env: [
          { name: 'Z', value: '1' },
          { name: 'A', value: '2' },
        ],
        resources: { limits: { cpu: '0.5', memory: '1024Mi' } },
      });
      await create(ns, 'c', {
        image: 'example/mcp:1',
        transport: 'streamable-http',
        mcpPort: 3001,
        replicas: 2,
        podTemplateSpec: { spec: { nodeSelector: { 'kubernetes.io/os': 'linux' } } },
      });
      for (const n of ['a', 'b', 'c']) await waitReady(kube, n, ns);
      const writes = await settle(op());
      const reconcilesBefore = (await op().scrape()).value('mcpfleet_operator_reconciles_total', { result: 'success' }) ?? 0;
      // Two resyncs' worth of reconciles (every MCPServer reconciled twice over), however long a
      // loaded machine takes for them, and no write among them.
      const total = (await kube.listAll('mcpservers')).length;
      await eventually('two resyncs of every MCPServer', 120_000, async () => {
        const reconciles = (await op().scrape()).value('mcpfleet_operator_reconciles_total', { result: 'success' }) ?? 0;
        return reconciles - reconcilesBefore >= 2 * total;
      });
      expect(await op().writes()).toBe(writes);

      // A new operator process sees everything as it wants it: zero writes.
      const code = await op().stop();
      expect(code).toBe(0);
      await restart();
      await eventually('the new operator reconciled every MCPServer', 60_000, async () => {
        return ((await op().scrape()).value('mcpfleet_operator_reconciles_total', { result: 'success' }) ?? 0) >= total;
      });
      await sleep(5_000);
      expect(await op().writes()).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'deleting the MCPServer removes every child (garbage collection through owner references)',
    async () => {
      const ns = await kube.newNamespace('gc');
      await create(ns, 'files', { image: 'example/mcp-files:1' });
      await create(ns, 'web', { image: 'example/mcp-web:1', transport: 'streamable-http', mcpPort: 3001 });
      await waitReady(kube, 'files', ns);
      await waitReady(kube, 'web', ns);
      await kube.ok(['delete', 'mcps', 'files', 'web', '-n', ns]);
      await eventually('children and pods gone', 90_000, async () => {
        const left = await kube.list(`${CHILD_KINDS},pods`, ns, 'app.kubernetes.io/managed-by=mcpfleet-operator');
        return left.length === 0;
      });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'exports reconcile, queue, phase and write metrics, and answers /healthz and /readyz',
    async () => {
      const s = await op().scrape();
      for (const name of [
        'mcpfleet_operator_reconciles_total',
        'mcpfleet_operator_reconcile_duration_seconds_bucket',
        'mcpfleet_operator_queue_depth',
        'mcpfleet_operator_mcpservers',
        'mcpfleet_operator_api_writes_total',
        'mcpfleet_operator_api_requests_total',
        'mcpfleet_operator_leader',
        'process_resident_memory_bytes',
      ]) {
        expect(s.has(name)).toBe(true);
      }
      expect(s.value('mcpfleet_operator_leader')).toBe(1);
      const all = await kube.listAll('mcpservers');
      const ready = all.filter((m) => (m.status as McpStatus | undefined)?.phase === 'Ready');
      expect(s.value('mcpfleet_operator_mcpservers', { phase: 'Ready' })).toBe(ready.length);
      const first = ready[0]!.metadata as { name: string; namespace: string };
      expect(s.value('mcpfleet_operator_mcpservers', { phase: 'Ready', namespace: first.namespace })).toBe(
        ready.filter((m) => (m.metadata as { namespace: string }).namespace === first.namespace).length,
      );
      expect(s.value('mcpfleet_operator_mcpserver_ready', { namespace: first.namespace, mcpserver: first.name })).toBe(1);
      expect(s.value('mcpfleet_operator_mcpserver_ready')).toBe(ready.length); // every Ready server reports 1
      expect((await fetch(`${op().baseUrl}/healthz`)).status).toBe(200);
      expect((await fetch(`${op().baseUrl}/readyz`)).status).toBe(200);
      // Structured logs: every line is JSON.
      for (const line of op().logs().trim().split('\n')) expect((): unknown => JSON.parse(line)).not.toThrow();
    },
    TEST_TIMEOUT_MS,
  );
});
