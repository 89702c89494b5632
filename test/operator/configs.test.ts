// Config kinds on a real control plane, with the operator run as it ships: ToolHive's own example
// manifests (test/fixtures/toolhive, apiVersion changed and nothing else) apply and reconcile into
// proxies with the right flags; MCPOIDCConfig and MCPAuthzConfig get their status (Valid,
// observedGeneration, configHash); a reference to a missing or invalid config shows on the
// MCPServer and holds its proxy at the last good configuration; a config edit reaches exactly the
// MCPServers that use it (an OIDC edit rolls their proxies, an authz edit rewrites their
// ConfigMap and rolls nothing); and an idle operator writes nothing.
import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { eventually, RESTRICTED, sleep, TEST_PROXY_IMAGE, waitReady, type Kube, type McpStatus, type Obj } from '../support/kube.ts';
import { manifest } from '../support/mcpServers.ts';
import { condition, configValid, flagValue, operatorArgs, operatorOnControlPlane, podTemplate, proxyContainer, settle } from '../support/operatorHarness.ts';
import { ROOT } from '../support/processes.ts';
import type { MCPServerSpec } from '../../operator/src/api/types.ts';

const TEST_TIMEOUT_MS = 180_000;
const FIXTURES = path.join(ROOT, 'test/fixtures/toolhive');
const HTTP: MCPServerSpec = { image: 'example/mcp-http:1', transport: 'streamable-http', mcpPort: 3001 };
const POLICY_A = 'permit(principal, action == Action::"call_tool", resource == Tool::"echo");';
const POLICY_B = 'permit(principal, action == Action::"call_tool", resource == Tool::"add");';

let kube: Kube;

async function proxyDeployment(ns: string, name: string): Promise<Obj> {
  return eventually(`proxy Deployment of ${ns}/${name}`, 60_000, () => kube.get('deployment', `mcp-${name}-proxy`, ns));
}

function authzConfig(name: string, policies: unknown): object {
  return {
    apiVersion: 'mcpfleet.dev/v1alpha1',
    kind: 'MCPAuthzConfig',
    metadata: { name },
    spec: { type: 'cedarv1', config: { policies, entities_json: '[]' } },
  };
}

function oidcConfig(name: string, spec: object): object {
  return { apiVersion: 'mcpfleet.dev/v1alpha1', kind: 'MCPOIDCConfig', metadata: { name }, spec };
}

describe('operator: config kinds (MCPOIDCConfig, MCPAuthzConfig) on a real control plane', () => {
  const { op } = operatorOnControlPlane(operatorArgs(TEST_PROXY_IMAGE), async (k) => {
    kube = k;
  });

  it(
    "ToolHive's mcpserver_with_oidcconfig_ref.yaml applies unchanged but for apiVersion; the client secret reaches the proxy only through the Secret",
    async () => {
      await kube.ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'toolhive-system', labels: RESTRICTED } }));
      await kube.ok(['apply', '-f', path.join(FIXTURES, 'mcpserver_with_oidcconfig_ref.yaml')]);
      const ns = 'toolhive-system';

      for (const name of ['k8s-sa-idp', 'corporate-idp']) {
        const c = await configValid(kube, 'mcpoidcconfig', ns, name, 'True');
        expect((c.status as { configHash?: string }).configHash).toMatch(/^[0-9a-f]{64}$/);
      }
      const printed = await kube.ok(['get', 'mcpoidcconfigs', '-n', ns]);
      expect(printed).toMatch(/NAME\s+SOURCE\s+VALID\s+AGE/);
      expect(printed).toMatch(/corporate-idp\s+inline\s+True/);
      expect(printed).toMatch(/k8s-sa-idp\s+kubernetesServiceAccount\s+True/);

      const m = await waitReady(kube, 'fetch-with-shared-oidc', ns);
      expect(condition(m, 'OIDCConfigRefValidated')).toMatchObject({ status: 'True', reason: 'OIDCConfigRefValid' });
      const d = await proxyDeployment(ns, 'fetch-with-shared-oidc');
      const c = proxyContainer(d);
      expect(flagValue(c.args, '--oidc-type')).toBe('inline');
      expect(flagValue(c.args, '--oidc-issuer')).toBe('https://auth.example.com');
      expect(flagValue(c.args, '--oidc-jwks-url')).toBe('https://auth.example.com/.well-known/jwks.json');
      expect(flagValue(c.args, '--oidc-audience')).toBe('fetch-server');
      expect(flagValue(c.args, '--oidc-client-id')).toBe('toolhive-client');
      expect(flagValue(c.args, '--oidc-scopes')).toBe('openid');
      expect(flagValue(c.args, '--resource-url')).toBe(`http://mcp-fetch-with-shared-oidc-proxy.${ns}.svc.cluster.local:8080/mcp`);
      expect(c.env?.find((e) => e.name === 'MCPFLEET_OIDC_CLIENT_SECRET')).toEqual({
        name: 'MCPFLEET_OIDC_CLIENT_SECRET',
        valueFrom: { secretKeyRef: { name: 'corporate-idp-secret', key: 'client-secret' } },
      });
      expect(podTemplate(d).metadata.annotations?.['mcpfleet.dev/mcpoidcconfig-hash']).toMatch(/^[0-9a-f]{64}$/);
      // The secret's value is nowhere the operator writes or logs.
      expect(JSON.stringify(d)).not.toContain('your-oidc-client-secret-value');
      expect(JSON.stringify(m)).not.toContain('your-oidc-client-secret-value');
      expect(op().logs()).not.toContain('your-oidc-client-secret-value');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "ToolHive's mcpserver-with-audit.yaml applies unchanged but for apiVersion and its proxy audits",
    async () => {
      await kube.ok(['label', 'namespace', 'default', '--overwrite', ...Object.entries(RESTRICTED).map(([k, v]) => `${k}=${v}`)]);
      const text = await readFile(path.join(FIXTURES, 'mcpserver-with-audit.yaml'), 'utf8');
      expect(text).toContain('apiVersion: mcpfleet.dev/v1alpha1');
      await kube.ok(['apply', '-f', path.join(FIXTURES, 'mcpserver-with-audit.yaml')]);
      await waitReady(kube, 'example-server-with-audit', 'default');
      const c = proxyContainer(await proxyDeployment('default', 'example-server-with-audit'));
      expect(c.args).toContain('--audit');
      expect(flagValue(c.args, '--audit-component')).toBe('example-server-with-audit');
      expect(c.args).not.toContain('--oidc-type');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'kubernetesServiceAccount: the proxy gets a projected apiserver token and the cluster CA, restricted to the named account',
    async () => {
      const ns = await kube.newNamespace('sa');
      await kube.apply(oidcConfig('cluster', { type: 'kubernetesServiceAccount', kubernetesServiceAccount: { serviceAccount: 'agent' } }), ns);
      await kube.apply(manifest('tools', { ...HTTP, oidcConfigRef: { name: 'cluster', audience: 'tools', scopes: ['mcp:tools'] } }), ns);
      await waitReady(kube, 'tools', ns);
      const d = await proxyDeployment(ns, 'tools');
      const c = proxyContainer(d);
      expect(flagValue(c.args, '--oidc-type')).toBe('kubernetesServiceAccount');
      expect(flagValue(c.args, '--oidc-issuer')).toBeUndefined(); // from the apiserver's discovery
      expect(flagValue(c.args, '--oidc-kubernetes-token-file')).toBe('/var/run/secrets/mcpfleet/oidc/token');
      expect(flagValue(c.args, '--oidc-ca-bundle-file')).toBe('/var/run/secrets/mcpfleet/oidc/ca.crt');
      expect(flagValue(c.args, '--oidc-allowed-service-accounts')).toBe(`${ns}/agent`);
      expect(flagValue(c.args, '--oidc-scopes')).toBe('mcp:tools');
      expect(podTemplate(d).spec.automountServiceAccountToken).toBe(false);
      expect(podTemplate(d).spec.volumes).toContainEqual({
        name: 'oidc-cluster-auth',
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          ],
        },
      });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a reference to a missing config: not Ready with the reason, no proxy until the config exists',
    async () => {
      const ns = await kube.newNamespace('missing');
      await kube.apply(manifest('early', { ...HTTP, oidcConfigRef: { name: 'later', audience: 'early' } }), ns);
      const m = await eventually('OIDCConfigRefNotFound', 60_000, async () => {
        const x = await kube.get('mcpserver', 'early', ns);
        return condition(x, 'OIDCConfigRefValidated')?.reason === 'OIDCConfigRefNotFound' ? x : undefined;
      });
      expect(condition(m, 'Ready')).toMatchObject({ status: 'False', reason: 'OIDCConfigRefNotFound' });
      expect(condition(m, 'OIDCConfigRefValidated')?.message).toMatch(/spec.oidcConfigRef names MCPOIDCConfig later, which does not exist/);
      expect((m.status as McpStatus).phase).toBe('Failed');
      // The backend is made; the proxy is held (there is no good configuration to run yet).
      await eventually('backend StatefulSet', 30_000, () => kube.get('statefulset', 'mcp-early', ns));
      expect(await kube.get('deployment', 'mcp-early-proxy', ns)).toBeUndefined();

      await kube.apply(oidcConfig('later', { type: 'inline', inline: { issuer: 'https://idp.example.test' } }), ns);
      const ready = await waitReady(kube, 'early', ns);
      expect(condition(ready, 'OIDCConfigRefValidated')).toMatchObject({ status: 'True', reason: 'OIDCConfigRefValid' });
      expect(flagValue(proxyContainer(await proxyDeployment(ns, 'early')).args, '--oidc-issuer')).toBe('https://idp.example.test');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'an MCPAuthzConfig edit rewrites only its users’ ConfigMaps and rolls nothing; an invalid one is held back with the reason',
    async () => {
      const ns = await kube.newNamespace('authz');
      await kube.apply(authzConfig('shared', [POLICY_A]), ns);
      await kube.apply(authzConfig('other', [POLICY_A]), ns);
      await kube.apply(manifest('one', { ...HTTP, authzConfigRef: { name: 'shared' } }), ns);
      await kube.apply(manifest('two', { ...HTTP, authzConfigRef: { name: 'shared' } }), ns);
      await kube.apply(manifest('bystander', { ...HTTP, authzConfigRef: { name: 'other' } }), ns);
      for (const name of ['one', 'two', 'bystander']) await waitReady(kube, name, ns);
      await configValid(kube, 'mcpauthzconfig', ns, 'shared', 'True');

      const d = await proxyDeployment(ns, 'one');
      const c = proxyContainer(d);
      expect(flagValue(c.args, '--authz-config')).toBe('/etc/mcpfleet/authz-ref/authz.json');
      expect(c.volumeMounts).toContainEqual({ name: 'authz-ref', mountPath: '/etc/mcpfleet/authz-ref', readOnly: true });
      const cm = await kube.get('configmap', 'mcp-one-proxy-authz', ns);
      expect(JSON.parse((cm?.['data'] as Record<string, string>)['authz.json'] as string)).toEqual({
        version: '1.0',
        type: 'cedarv1',
        cedar: { policies: [POLICY_A], entities_json: '[]' },
      });
      expect(cm?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'MCPServer', name: 'one', controller: true });

      const before = await settle(op());
      const generations = async (): Promise<(number | undefined)[]> =>
        Promise.all(['one', 'two', 'bystander'].map(async (n) => (await kube.get('deployment', `mcp-${n}-proxy`, ns))?.metadata.generation));
      const deploymentsBefore = await generations();
      const bystanderCm = (await kube.get('configmap', 'mcp-bystander-proxy-authz', ns))?.metadata.resourceVersion;

      // A valid edit: two ConfigMap writes (one per user) and the config's status, nothing else.
      await kube.apply(authzConfig('shared', [POLICY_B]), ns);
      await eventually('ConfigMaps of one and two updated', 30_000, async () => {
        const texts = await Promise.all(
          ['one', 'two'].map(async (n) => ((await kube.get('configmap', `mcp-${n}-proxy-authz`, ns))?.['data'] as Record<string, string>)['authz.json'] ?? ''),
        );
        return texts.every((t) => t.includes('Tool::\\"add\\"'));
      });
      const after = await settle(op());
      expect(after - before).toBe(3);
      expect(await generations()).toEqual(deploymentsBefore);
      expect((await kube.get('configmap', 'mcp-bystander-proxy-authz', ns))?.metadata.resourceVersion).toBe(bystanderCm);

      // An invalid edit (the CRD keeps config as written; the operator's check refuses it).
      await kube.apply(authzConfig('shared', []), ns);
      const invalid = await configValid(kube, 'mcpauthzconfig', ns, 'shared', 'False');
      expect(JSON.stringify(invalid.status)).toMatch(/cedar.policies must be a non-empty list/);
      const held = await eventually('one not Ready', 30_000, async () => {
        const x = await kube.get('mcpserver', 'one', ns);
        return condition(x, 'AuthzConfigRefValidated')?.status === 'False' ? x : undefined;
      });
      expect(condition(held, 'AuthzConfigRefValidated')).toMatchObject({ reason: 'AuthzConfigRefNotValid' });
      expect(condition(held, 'AuthzConfigRefValidated')?.message).toMatch(/MCPAuthzConfig shared is not valid: config: cedar.policies/);
      expect(condition(held, 'Ready')).toMatchObject({ status: 'False', reason: 'AuthzConfigRefNotValid' });
      await settle(op());
      // The last good policies stay in place, and nothing rolled.
      expect((await kube.get('configmap', 'mcp-one-proxy-authz', ns))?.['data']).toEqual(
        expect.objectContaining({ 'authz.json': expect.stringContaining('Tool::\\"add\\"') as unknown }),
      );
      expect(await generations()).toEqual(deploymentsBefore);
      expect((await kube.get('mcpserver', 'bystander', ns))?.status).toMatchObject({ phase: 'Ready' });

      // Fixed: Ready again, still without a roll.
      await kube.apply(authzConfig('shared', [POLICY_A]), ns);
      await waitReady(kube, 'one', ns);
      await waitReady(kube, 'two', ns);
      expect(await generations()).toEqual(deploymentsBefore);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'an MCPOIDCConfig edit rolls exactly the proxies that use it; an idle operator writes nothing',
    async () => {
      const ns = await kube.newNamespace('roll');
      await kube.apply(oidcConfig('idp', { type: 'inline', inline: { issuer: 'https://idp-a.example.test' } }), ns);
      await kube.apply(manifest('uses', { ...HTTP, oidcConfigRef: { name: 'idp', audience: 'uses' } }), ns);
      await kube.apply(manifest('plain', HTTP), ns);
      await waitReady(kube, 'uses', ns);
      await waitReady(kube, 'plain', ns);
      const hashOf = async (n: string): Promise<string | undefined> =>
        podTemplate(await proxyDeployment(ns, n)).metadata.annotations?.['mcpfleet.dev/config-hash'];
      const usesBefore = await hashOf('uses');
      const plainBefore = await hashOf('plain');

      // Idle: nothing written (resyncs every 4 s reconcile everything and find nothing to do).
      const idle = await settle(op());
      await sleep(9_000);
      expect(await op().writes()).toBe(idle);

      await kube.apply(oidcConfig('idp', { type: 'inline', inline: { issuer: 'https://idp-b.example.test' } }), ns);
      await eventually('the proxy of uses rolled', 30_000, async () => (await hashOf('uses')) !== usesBefore);
      expect(flagValue(proxyContainer(await proxyDeployment(ns, 'uses')).args, '--oidc-issuer')).toBe('https://idp-b.example.test');
      expect(await hashOf('plain')).toBe(plainBefore);
      await waitReady(kube, 'uses', ns);
    },
    TEST_TIMEOUT_MS,
  );
  it(
    'a missing authzConfig ConfigMap is NotFound like a missing config and holds the proxy; a CA bundle edit rolls the proxies that read it',
    async () => {
      const ns = await kube.newNamespace('cms');
      const configMap = (name: string, data: Record<string, string>): object => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });
      // authzConfig (type configMap) naming a ConfigMap that does not exist yet: no proxy.
      await kube.apply(manifest('inline-authz', { ...HTTP, authzConfig: { type: 'configMap', configMap: { name: 'policies' } } }), ns);
      const missing = await eventually('AuthzConfigMapNotFound', 60_000, async () => {
        const x = await kube.get('mcpserver', 'inline-authz', ns);
        return condition(x, 'AuthzConfigValidated')?.reason === 'AuthzConfigMapNotFound' ? x : undefined;
      });
      expect(condition(missing, 'AuthzConfigValidated')).toMatchObject({ status: 'False' });
      expect(condition(missing, 'AuthzConfigValidated')?.message).toMatch(/spec.authzConfig.configMap names ConfigMap policies, which does not exist/);
      expect(condition(missing, 'Ready')).toMatchObject({ status: 'False', reason: 'AuthzConfigMapNotFound' });
      await eventually('backend StatefulSet', 30_000, () => kube.get('statefulset', 'mcp-inline-authz', ns));
      expect(await kube.get('deployment', 'mcp-inline-authz-proxy', ns)).toBeUndefined();

      // The ConfigMap appears (a watch event, no restart): Ready with a proxy.
      await kube.apply(configMap('policies', { 'authz.json': JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies: [POLICY_A] } }) }), ns);
      const ready = await waitReady(kube, 'inline-authz', ns);
      expect(condition(ready, 'AuthzConfigValidated')).toMatchObject({ status: 'True' });
      const generation = (await proxyDeployment(ns, 'inline-authz')).metadata.generation;

      // Deleted again: NotFound, not Ready, and the last good proxy stays as it was.
      await kube.ok(['delete', 'configmap', 'policies', '-n', ns]);
      await eventually('AuthzConfigMapNotFound again', 30_000, async () => {
        const x = await kube.get('mcpserver', 'inline-authz', ns);
        return condition(x, 'Ready')?.reason === 'AuthzConfigMapNotFound' ? x : undefined;
      });
      await settle(op());
      expect((await proxyDeployment(ns, 'inline-authz')).metadata.generation).toBe(generation);

      // caBundleRef: missing ConfigMap is a broken reference; an edit of its data rolls only its users.
      const ca = { type: 'inline', inline: { issuer: 'https://idp.example.test', caBundleRef: { configMapRef: { name: 'idp-ca' } } } };
      await kube.apply(oidcConfig('idp', ca), ns);
      await kube.apply(manifest('ca-user', { ...HTTP, oidcConfigRef: { name: 'idp', audience: 'ca-user' } }), ns);
      await kube.apply(manifest('ca-bystander', HTTP), ns);
      await eventually('OIDCConfigRefConfigMapNotFound', 60_000, async () => {
        const x = await kube.get('mcpserver', 'ca-user', ns);
        return condition(x, 'OIDCConfigRefValidated')?.reason === 'OIDCConfigRefConfigMapNotFound' ? x : undefined;
      });
      expect(await kube.get('deployment', 'mcp-ca-user-proxy', ns)).toBeUndefined();
      await kube.apply(configMap('idp-ca', { 'ca.crt': 'first bundle' }), ns);
      await waitReady(kube, 'ca-user', ns);
      await waitReady(kube, 'ca-bystander', ns);
      const caHash = async (n: string): Promise<string | undefined> =>
        podTemplate(await proxyDeployment(ns, n)).metadata.annotations?.['mcpfleet.dev/configmaps-hash'];
      const first = await caHash('ca-user');
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      const bystander = (await proxyDeployment(ns, 'ca-bystander')).metadata.generation;
      await kube.apply(configMap('idp-ca', { 'ca.crt': 'rotated bundle' }), ns);
      await eventually('the proxy of ca-user rolled', 30_000, async () => {
        const h = await caHash('ca-user');
        return h !== undefined && h !== first;
      });
      expect((await proxyDeployment(ns, 'ca-bystander')).metadata.generation).toBe(bystander);
      const text = JSON.stringify(await proxyDeployment(ns, 'ca-user'));
      expect(text).not.toContain('rotated bundle'); // a hash, never the content
    },
    TEST_TIMEOUT_MS,
  );
});
