import { describe, expect, it } from '@jest/globals';
import type { V1Container, V1PodSpec, V1PodTemplateSpec } from '@kubernetes/client-node';
import { httpSpec, sseSpec, stdioSpec, stored, withoutReplicas } from '../../../test/support/mcpServers.ts';
import { canonicalJson, sha256 } from './canonical.ts';
import { backendStatefulSet, desiredObjects, proxyDeployment, proxyRbac, proxyService, type BuildOptions } from './desired.ts';
import { APPLIED_HASH_ANNOTATION, CONFIG_HASH_ANNOTATION } from './meta.ts';
import type { DesiredObject } from '../../../common/kube/kinds.ts';
import type { MCPServerSpec } from '../api/types.ts';

const opts: BuildOptions = { proxyrunnerImage: 'ghcr.io/mcpfleet/proxyrunner:test' };

function template(obj: DesiredObject): V1PodTemplateSpec {
  return (obj['spec'] as { template: V1PodTemplateSpec }).template;
}
function podSpec(obj: DesiredObject): V1PodSpec {
  return template(obj).spec as V1PodSpec;
}
function container(obj: DesiredObject, name: string): V1Container {
  const c = podSpec(obj).containers.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no container ${name}`);
  return c;
}
function kinds(objs: DesiredObject[]): string[] {
  return objs.map((o) => `${o.kind}/${o.metadata.name}`);
}
function flag(args: string[] | undefined, name: string): string | undefined {
  const i = (args ?? []).indexOf(name);
  return i < 0 ? undefined : args?.[i + 1];
}

describe('desiredObjects', () => {
  it('stdio: RBAC for the proxy, a StatefulSet with stdin open, the proxy Deployment and Service; no backend Service', () => {
    const objs = desiredObjects(stored('files', stdioSpec), opts);
    expect(kinds(objs)).toEqual([
      'ServiceAccount/mcp-files-proxy',
      'Role/mcp-files-proxy',
      'RoleBinding/mcp-files-proxy',
      'StatefulSet/mcp-files',
      'Service/mcp-files-proxy',
      'Deployment/mcp-files-proxy',
    ]);
    const sts = objs.find((o) => o.kind === 'StatefulSet') as DesiredObject;
    expect(container(sts, 'mcp')).toMatchObject({ image: 'example/mcp-stdio:1', args: ['stdio'], stdin: true, stdinOnce: false, tty: false });
    expect(container(sts, 'mcp').ports).toBeUndefined();
  });

  it('streamable-http and sse: a backend Service and no RBAC', () => {
    for (const spec of [httpSpec, sseSpec]) {
      const objs = desiredObjects(stored('web', spec), opts);
      expect(kinds(objs)).toEqual(['Service/mcp-web', 'StatefulSet/mcp-web', 'Service/mcp-web-proxy', 'Deployment/mcp-web-proxy']);
      const sts = objs.find((o) => o.kind === 'StatefulSet') as DesiredObject;
      expect(container(sts, 'mcp').stdin).toBeUndefined();
      expect(container(sts, 'mcp').ports).toEqual([{ name: 'mcp', containerPort: 3001, protocol: 'TCP' }]);
      const svc = objs[0] as DesiredObject;
      expect(svc['spec']).toMatchObject({ clusterIP: 'None', ports: [{ name: 'mcp', port: 3001, targetPort: 'mcp', protocol: 'TCP' }] });
      expect((sts['spec'] as { serviceName: string }).serviceName).toBe('mcp-web');
    }
  });

  it('gives every object the app.kubernetes.io labels and a controller owner reference', () => {
    for (const obj of desiredObjects(stored('files', stdioSpec), opts)) {
      expect(obj.metadata.namespace).toBe('team-a');
      expect(obj.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': 'mcpserver',
        'app.kubernetes.io/instance': 'files',
        'app.kubernetes.io/managed-by': 'mcpfleet-operator',
        'app.kubernetes.io/part-of': 'mcpfleet',
      });
      expect(obj.metadata.ownerReferences).toEqual([
        { apiVersion: 'mcpfleet.dev/v1alpha1', kind: 'MCPServer', name: 'files', uid: 'uid-files', controller: true, blockOwnerDeletion: true },
      ]);
      expect(obj.metadata.annotations?.[APPLIED_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('hashes each object as it is without the hash (sha256 of its canonical JSON), and sorts it at every depth', () => {
    // The applied hash must not change across operator versions for the same object: a changed
    // hash re-applies every child of every MCPServer on upgrade.
    for (const spec of [stdioSpec, httpSpec, sseSpec]) {
      for (const obj of desiredObjects(stored('files', spec), opts)) {
        const { [APPLIED_HASH_ANNOTATION]: hash, ...others } = obj.metadata.annotations ?? {};
        const metadata: Record<string, unknown> = { ...obj.metadata };
        if (Object.keys(others).length > 0) metadata['annotations'] = others;
        else delete metadata['annotations'];
        const unhashed = { ...obj, metadata };
        expect(hash).toBe(sha256(unhashed));
        expect(JSON.stringify(obj)).toBe(canonicalJson(obj));
      }
    }
  });

  it('is deterministic: the same spec yields byte-identical objects', () => {
    const spec = {
      ...httpSpec,
      env: [
        { name: 'Z', value: '1' },
        { name: 'A', value: '2' },
      ],
      resources: { limits: { memory: '1Gi', cpu: 1 } },
    };
    const a = desiredObjects(stored('web', spec), opts).map((o) => JSON.stringify(o));
    const b = desiredObjects(stored('web', structuredClone(spec)), opts).map((o) => JSON.stringify(o));
    expect(a).toEqual(b);
    // Keys are sorted at every depth.
    for (const json of a) expect(json).toBe(canonicalJson(JSON.parse(json)));
  });

  it('keeps user env in the given order (so $(VAR) references work), secrets after it', () => {
    const sts = backendStatefulSet(
      stored('web', {
        ...httpSpec,
        env: [
          { name: 'Z', value: 'z' },
          { name: 'A', value: '$(Z)-a' },
          { name: 'T', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
        ],
        secrets: [
          { name: 'creds', key: 'token', targetEnvName: 'API_TOKEN' },
          { name: 'creds', key: 'USER' },
        ],
      }),
    );
    expect(container(sts, 'mcp').env).toEqual([
      { name: 'Z', value: 'z' },
      { name: 'A', value: '$(Z)-a' },
      { name: 'T', valueFrom: { secretKeyRef: { key: 'k', name: 's' } } },
      { name: 'API_TOKEN', valueFrom: { secretKeyRef: { key: 'token', name: 'creds' } } },
      { name: 'USER', valueFrom: { secretKeyRef: { key: 'USER', name: 'creds' } } },
    ]);
  });

  it('meets the restricted Pod Security Standard in every pod template', () => {
    for (const spec of [stdioSpec, httpSpec, sseSpec]) {
      for (const obj of desiredObjects(stored('x', spec), opts).filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment')) {
        const pod = podSpec(obj);
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
        expect(pod.hostNetwork ?? false).toBe(false);
        for (const c of pod.containers) {
          expect(c.securityContext).toMatchObject({
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
          });
          expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
        }
        expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: {} });
      }
    }
  });

  it('changes the config hash of a pod template when, and only when, the spec changes it', () => {
    const hashOf = (spec: typeof httpSpec): string | undefined =>
      template(backendStatefulSet(stored('web', spec))).metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    const before = hashOf(httpSpec);
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    expect(hashOf({ ...httpSpec })).toBe(before);
    expect(hashOf({ ...httpSpec, image: 'example/mcp-http:2' })).not.toBe(before);
    expect(hashOf({ ...httpSpec, args: ['--verbose'] })).not.toBe(before);
    // The proxy's replica count is not part of the backend pod.
    expect(hashOf({ ...httpSpec, replicas: 3 })).toBe(before);
    const proxyHash = (spec: typeof httpSpec): string | undefined =>
      template(proxyDeployment(stored('web', spec), opts)).metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    expect(proxyHash({ ...httpSpec, maxSessions: 5 })).not.toBe(proxyHash(httpSpec));
    expect(proxyHash({ ...httpSpec, replicas: 3 })).toBe(proxyHash(httpSpec));
  });

  it('merges podTemplateSpec into the backend pod, but never its selector labels', () => {
    const sts = backendStatefulSet(
      stored('web', {
        ...httpSpec,
        podTemplateSpec: {
          metadata: { labels: { team: 'a', 'app.kubernetes.io/instance': 'hijack' }, annotations: { note: 'x' } },
          spec: {
            nodeSelector: { disk: 'ssd' },
            containers: [
              { name: 'mcp', securityContext: { readOnlyRootFilesystem: false }, resources: { limits: { memory: '2Gi' } } },
              { name: 'sidecar', image: 'side:1' },
            ],
          },
        },
      }),
    );
    const t = template(sts);
    expect(t.metadata?.labels).toMatchObject({ team: 'a', 'app.kubernetes.io/instance': 'web', 'app.kubernetes.io/component': 'backend' });
    expect(t.metadata?.annotations).toMatchObject({ note: 'x' });
    expect(t.spec?.nodeSelector).toEqual({ disk: 'ssd' });
    expect(container(sts, 'mcp').securityContext?.readOnlyRootFilesystem).toBe(false);
    expect(container(sts, 'mcp').securityContext?.capabilities).toEqual({ drop: ['ALL'] });
    expect(container(sts, 'mcp').resources).toEqual({ limits: { memory: '2Gi' } });
    expect(container(sts, 'sidecar').image).toBe('side:1');
  });

  it('runs the proxyrunner with the flags of the spec, pointing at the backend Service', () => {
    const http = proxyDeployment(stored('web', { ...httpSpec, sessionIdleTimeout: '5m', maxSessions: 50, proxyPort: 9000 }), opts);
    const c = container(http, 'proxyrunner');
    expect(c.image).toBe(opts.proxyrunnerImage);
    // Flags only: the image's entrypoint (tini -- node main.js) runs them.
    expect(c.command).toBeUndefined();
    expect(c.args?.[0]).toBe('--transport');
    expect(flag(c.args, '--transport')).toBe('streamable-http');
    expect(flag(c.args, '--target-url')).toBe('http://mcp-web:3001/mcp');
    expect(flag(c.args, '--proxy-mode')).toBe('streamable-http');
    expect(flag(c.args, '--port')).toBe('9000');
    expect(flag(c.args, '--metrics-port')).toBe('9464');
    expect(flag(c.args, '--session-idle-timeout')).toBe('5m');
    expect(flag(c.args, '--max-sessions')).toBe('50');
    expect(c.env).toEqual([{ name: 'MCPFLEET_MEMORY_LIMIT', valueFrom: { resourceFieldRef: { containerName: 'proxyrunner', resource: 'limits.memory' } } }]);
    expect(c.resources).toEqual({ limits: { memory: '256Mi' }, requests: { cpu: '50m', memory: '64Mi' } });
    expect(podSpec(http).automountServiceAccountToken).toBe(false);
    expect(podSpec(http).serviceAccountName).toBe('default');
    expect((http['spec'] as { replicas: number }).replicas).toBe(2);

    const sse = container(proxyDeployment(stored('old', sseSpec), opts), 'proxyrunner');
    expect(flag(sse.args, '--target-url')).toBe('http://mcp-old:3001/sse');
    expect(flag(sse.args, '--proxy-mode')).toBe('sse');
  });

  it('fills unset session settings from the operator defaults, and a change of them rolls the proxy', () => {
    const defaults = { sessionIdleTimeout: '2m', maxSessions: 77 };
    const withDefaults = { ...opts, proxyDefaults: defaults, proxyrunnerImagePullSecrets: ['regcred', 'mirror', 'regcred'] };
    const unset = proxyDeployment(stored('web', httpSpec), withDefaults);
    expect(flag(container(unset, 'proxyrunner').args, '--session-idle-timeout')).toBe('2m');
    expect(flag(container(unset, 'proxyrunner').args, '--max-sessions')).toBe('77');
    expect(podSpec(unset).imagePullSecrets).toEqual([{ name: 'mirror' }, { name: 'regcred' }]);
    // The server's own choice wins over the operator's default.
    const own = proxyDeployment(stored('web', { ...httpSpec, maxSessions: 5 }), withDefaults);
    expect(flag(container(own, 'proxyrunner').args, '--max-sessions')).toBe('5');
    // Built-in defaults when the operator sets none; no pull secrets field at all.
    const plain = proxyDeployment(stored('web', httpSpec), opts);
    expect(flag(container(plain, 'proxyrunner').args, '--session-idle-timeout')).toBe('30m');
    expect(flag(container(plain, 'proxyrunner').args, '--max-sessions')).toBe('10000');
    expect(podSpec(plain)).not.toHaveProperty('imagePullSecrets');
    const hash = (d: typeof plain): unknown =>
      (d['spec'] as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations['mcpfleet.dev/config-hash'];
    expect(hash(unset)).not.toBe(hash(plain));
  });

  it('stdio: the proxy attaches to the backend pod (env, ServiceAccount, Recreate) and has no command to spawn', () => {
    const deploy = proxyDeployment(stored('files', stdioSpec), opts);
    const c = container(deploy, 'proxyrunner');
    expect(flag(c.args, '--transport')).toBe('stdio');
    expect(flag(c.args, '--target-url')).toBeUndefined();
    expect(c.args).not.toContain('--');
    expect(c.env?.map((e) => e.name)).toEqual(['MCPFLEET_ATTACH_CONTAINER', 'MCPFLEET_ATTACH_NAMESPACE', 'MCPFLEET_ATTACH_SELECTOR', 'MCPFLEET_MEMORY_LIMIT']);
    expect(c.env).toContainEqual({ name: 'MCPFLEET_ATTACH_NAMESPACE', value: 'team-a' });
    expect(c.env).toContainEqual({
      name: 'MCPFLEET_ATTACH_SELECTOR',
      value: 'app.kubernetes.io/component=backend,app.kubernetes.io/instance=files,app.kubernetes.io/name=mcpserver',
    });
    expect(c.env).toContainEqual({ name: 'MCPFLEET_ATTACH_CONTAINER', value: 'mcp' });
    expect(podSpec(deploy)).toMatchObject({ serviceAccountName: 'mcp-files-proxy', automountServiceAccountToken: true });
    expect((deploy['spec'] as { strategy: unknown }).strategy).toEqual({ type: 'Recreate' });
  });

  it('stdio RBAC grants exactly pods get/list/watch and pods/attach', () => {
    const [sa, role, binding] = proxyRbac(stored('files', stdioSpec));
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods/attach'], verbs: ['create', 'get'] },
    ]);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'mcp-files-proxy' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'mcp-files-proxy', namespace: 'team-a' }]);
  });

  it('backendReplicas: N backend pods, a proxy that discovers them with a token and a Role for endpointslices only', () => {
    const mcp = stored('web', { ...httpSpec, backendReplicas: 3 });
    const objs = desiredObjects(mcp, opts);
    expect(kinds(objs)).toEqual([
      'ServiceAccount/mcp-web-proxy',
      'Role/mcp-web-proxy',
      'RoleBinding/mcp-web-proxy',
      'Service/mcp-web',
      'StatefulSet/mcp-web',
      'Service/mcp-web-proxy',
      'Deployment/mcp-web-proxy',
    ]);
    const sts = objs.find((o) => o.kind === 'StatefulSet') as DesiredObject;
    expect((sts['spec'] as { replicas: number }).replicas).toBe(3);
    const role = objs.find((o) => o.kind === 'Role') as DesiredObject;
    expect(role['rules']).toEqual([{ apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] }]);
    const deploy = objs.find((o) => o.kind === 'Deployment') as DesiredObject;
    expect(podSpec(deploy)).toMatchObject({ serviceAccountName: 'mcp-web-proxy', automountServiceAccountToken: true });
    const args = container(deploy, 'proxyrunner').args;
    expect([flag(args, '--backend-service'), flag(args, '--backend-port'), flag(args, '--backend-namespace')]).toEqual(['mcp-web', 'mcp', 'team-a']);
    // replicas 0 still stops everything; without backendReplicas there is one pod and no discovery.
    const stopped = desiredObjects(stored('web', { ...httpSpec, backendReplicas: 3, replicas: 0 }), opts);
    expect(((stopped.find((o) => o.kind === 'StatefulSet') as DesiredObject)['spec'] as { replicas: number }).replicas).toBe(0);
    const single = proxyDeployment(stored('web', httpSpec), opts);
    expect(flag(container(single, 'proxyrunner').args, '--backend-service')).toBeUndefined();
  });

  it('sessionRecovery Replay adds --session-recovery replay; None and unset leave the argv as it was (no rollout)', () => {
    const args = (spec: Partial<MCPServerSpec>): string[] =>
      container(proxyDeployment(stored('web', { ...httpSpec, backendReplicas: 3, ...spec }), opts), 'proxyrunner').args ?? [];
    expect(flag(args({ sessionRecovery: 'Replay' }), '--session-recovery')).toBe('replay');
    expect(flag(args({ sessionRecovery: 'None' }), '--session-recovery')).toBeUndefined();
    expect(args({ sessionRecovery: 'None' })).toEqual(args({}));
    // Replay changes the pod template, so the proxy rolls to pick it up.
    expect(args({ sessionRecovery: 'Replay' })).not.toEqual(args({}));
  });

  it('stdio backendReplicas: N backend pods, a proxy that attaches to up to N of them with the stdio Role unchanged', () => {
    const mcp = stored('files', { ...stdioSpec, backendReplicas: 3 });
    const objs = desiredObjects(mcp, opts);
    const sts = objs.find((o) => o.kind === 'StatefulSet') as DesiredObject;
    expect((sts['spec'] as { replicas: number }).replicas).toBe(3);
    const deploy = objs.find((o) => o.kind === 'Deployment') as DesiredObject;
    const c = container(deploy, 'proxyrunner');
    expect(c.env).toContainEqual({ name: 'MCPFLEET_ATTACH_MAX_PODS', value: '3' });
    expect(flag(c.args, '--backend-service')).toBeUndefined();
    expect((objs.find((o) => o.kind === 'Role') as DesiredObject)['rules']).toEqual(proxyRbac(stored('files', stdioSpec))[1].rules);
    // Without the field nothing changes for the proxy (no flag, no rollout of existing proxies).
    const single = container(proxyDeployment(stored('files', stdioSpec), opts), 'proxyrunner');
    expect(single.env?.map((e) => e.name)).not.toContain('MCPFLEET_ATTACH_MAX_PODS');
  });

  it('replicas 0 stops both the proxy and the MCP server', () => {
    const objs = desiredObjects(stored('web', { ...httpSpec, replicas: 0 }), opts);
    for (const o of objs.filter((x) => x.kind === 'StatefulSet' || x.kind === 'Deployment')) {
      expect((o['spec'] as { replicas: number }).replicas).toBe(0);
    }
  });

  it("uses the MCP server's ServiceAccount only when one is named", () => {
    expect(podSpec(backendStatefulSet(stored('web', httpSpec)))).toMatchObject({ automountServiceAccountToken: false });
    expect(podSpec(backendStatefulSet(stored('web', httpSpec))).serviceAccountName).toBe('default');
    expect(podSpec(backendStatefulSet(stored('web', { ...httpSpec, serviceAccount: 'reader' })))).toMatchObject({
      serviceAccountName: 'reader',
      automountServiceAccountToken: true,
    });
  });

  it('authzConfig from a ConfigMap: mounted whole and passed as --authz-config; its content never rolls the proxy', () => {
    const spec = { ...httpSpec, authzConfig: { configMap: { name: 'web-policies' } } };
    const deployment = proxyDeployment(stored('web', spec), opts);
    const proxy = container(deployment, 'proxyrunner');
    expect(flag(proxy.args, '--authz-config')).toBe('/etc/mcpfleet/authz/authz.json');
    expect(proxy.volumeMounts).toContainEqual({ name: 'authz-config', mountPath: '/etc/mcpfleet/authz', readOnly: true });
    // The whole map, not a subPath: kubelet's atomic ..data swap then reaches the file (hot reload).
    expect(podSpec(deployment).volumes).toContainEqual({ name: 'authz-config', configMap: { name: 'web-policies' } });
    const other = proxyDeployment(
      stored('web', { ...spec, authzConfig: { type: 'configMap' as const, configMap: { name: 'web-policies', key: 'p.yaml' } } }),
      opts,
    );
    expect(flag(container(other, 'proxyrunner').args, '--authz-config')).toBe('/etc/mcpfleet/authz/p.yaml');
    expect(proxy.env?.some((e) => e.name === 'MCPFLEET_AUTHZ_CONFIG_INLINE')).toBe(false);
  });

  it("inline authzConfig: the config in ToolHive's file format in the environment; an edit rolls the proxy", () => {
    const inline = (policies: string[]) => ({ ...httpSpec, authzConfig: { type: 'inline' as const, inline: { policies } } });
    const spec = inline(['permit(principal, action == Action::"call_tool", resource == Tool::"echo");']);
    const proxy = container(proxyDeployment(stored('web', spec), opts), 'proxyrunner');
    const value = proxy.env?.find((e) => e.name === 'MCPFLEET_AUTHZ_CONFIG_INLINE')?.value;
    expect(JSON.parse(value ?? '')).toEqual({ version: '1.0', type: 'cedarv1', cedar: { policies: spec.authzConfig.inline.policies, entities_json: '[]' } });
    expect(flag(proxy.args, '--authz-config')).toBeUndefined();
    const hash = (s: typeof httpSpec) => template(proxyDeployment(stored('web', s), opts)).metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    expect(hash(inline(['forbid(principal, action, resource);']))).not.toBe(hash(spec));
  });

  it('audit.enabled turns on audit events named after the MCPServer', () => {
    const proxy = container(proxyDeployment(stored('web', { ...httpSpec, audit: { enabled: true } }), opts), 'proxyrunner');
    expect(proxy.args).toContain('--audit');
    expect(flag(proxy.args, '--audit-component')).toBe('web');
    expect(container(proxyDeployment(stored('web', httpSpec), opts), 'proxyrunner').args).not.toContain('--audit');
  });

  it('replicas unset: the Deployment does not set replicas (an autoscaler owns them); set, it does', () => {
    const unscaled = withoutReplicas(httpSpec);
    const spec = (obj: DesiredObject): Record<string, unknown> => obj['spec'] as Record<string, unknown>;
    expect(spec(proxyDeployment(stored('web', unscaled), opts))).not.toHaveProperty('replicas');
    expect(spec(proxyDeployment(stored('web', { ...unscaled, replicas: 4 }), opts))['replicas']).toBe(4);
    // The backend still runs (one pod) and the proxy is not stopped.
    expect(spec(backendStatefulSet(stored('web', unscaled)))['replicas']).toBe(1);
  });

  it('sessionAffinity: ClientIP on the proxy Service by default, None when asked', () => {
    const affinity = (obj: DesiredObject): unknown => (obj['spec'] as { sessionAffinity?: string }).sessionAffinity;
    expect(affinity(proxyService(stored('web', httpSpec)))).toBe('ClientIP');
    expect(affinity(proxyService(stored('web', { ...httpSpec, sessionAffinity: 'None' })))).toBe('None');
  });

  it('sessionStorage redis: the --session-storage flags, the password only from the Secret through the environment', () => {
    const storage = { provider: 'redis' as const, address: 'redis.infra:6379', db: 2, passwordRef: { name: 'redis-auth', key: 'pw' } };
    const proxy = container(proxyDeployment(stored('web', { ...httpSpec, sessionStorage: storage }), opts), 'proxyrunner');
    expect(flag(proxy.args, '--session-storage')).toBe('redis');
    expect(flag(proxy.args, '--redis-address')).toBe('redis.infra:6379');
    expect(flag(proxy.args, '--redis-db')).toBe('2');
    // One Redis can serve many servers: the default prefix names this one.
    expect(flag(proxy.args, '--redis-key-prefix')).toBe('mcpfleet:team-a:web');
    expect(proxy.env).toContainEqual({ name: 'MCPFLEET_REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'redis-auth', key: 'pw' } } });
    expect(JSON.stringify(proxy.args)).not.toMatch(/password|redis-auth/);
    const named = container(proxyDeployment(stored('web', { ...httpSpec, sessionStorage: { ...storage, keyPrefix: 'shared:web' } }), opts), 'proxyrunner');
    expect(flag(named.args, '--redis-key-prefix')).toBe('shared:web');
    // memory (or no sessionStorage) sets none of it.
    for (const spec of [httpSpec, { ...httpSpec, sessionStorage: { provider: 'memory' as const } }]) {
      const plain = container(proxyDeployment(stored('web', spec), opts), 'proxyrunner');
      expect(plain.args).not.toContain('--session-storage');
      expect((plain.env ?? []).map((e) => e.name)).not.toContain('MCPFLEET_REDIS_PASSWORD');
    }
  });
});
