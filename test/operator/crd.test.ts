// The generated CRD and the samples against a real kube-apiserver: the CRD installs, every
// sample in deploy/samples is accepted (defaults applied), every invalid sample in
// deploy/samples/invalid is rejected with the message its `# expect:` line names, and
// `kubectl explain` reads the descriptions.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureBinaries, startControlPlane, type ControlPlane } from '../control-plane/controlPlane.ts';
import { ROOT } from '../support/processes.ts';
import { Kube } from '../support/kube.ts';
import { CRD_FILE } from '../../operator/src/api/crd.ts';
import { crdName } from '../../operator/src/api/crdKind.ts';
import { API_KINDS } from '../../operator/src/api/registry.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const TEST_TIMEOUT_MS = 120_000;
const SAMPLES = path.join(ROOT, 'deploy/samples');
const INVALID = path.join(SAMPLES, 'invalid');

let cp: ControlPlane | undefined;
let kube: Kube;

async function yamlFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
}

describe('MCPServer CRD on a real apiserver', () => {
  beforeAll(async () => {
    await ensureBinaries();
    cp = await startControlPlane({ withControllers: true, withKwok: false });
    kube = new Kube(cp);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await cp?.stop();
  }, TEST_TIMEOUT_MS);

  it(
    'installs with kubectl apply and becomes Established',
    async () => {
      await kube.ok(['apply', '-f', path.join(ROOT, CRD_FILE)]);
      await kube.ok(['wait', '--for=condition=Established', 'crd/mcpservers.mcpfleet.dev', '--timeout=60s']);
      const resources = await kube.ok(['api-resources', '--api-group=mcpfleet.dev', '-o', 'wide']);
      expect(resources).toMatch(/mcpservers\s+mcps\s+mcpfleet.dev\/v1alpha1\s+true\s+MCPServer/);
      expect(resources).toContain('mcpfleet');
      // Applying it again changes nothing.
      expect(await kube.ok(['apply', '-f', path.join(ROOT, CRD_FILE)])).toContain('unchanged');
      // And the config kinds MCPServers reference.
      await kube.ok(['apply', '-f', path.join(ROOT, 'deploy/crd')]);
      await kube.ok(['wait', '--for=condition=Established', ...API_KINDS.map((k) => `crd/${crdName(k)}`), '--timeout=60s']);
      const all = await kube.ok(['api-resources', '--api-group=mcpfleet.dev', '-o', 'wide']);
      expect(all).toMatch(/mcpoidcconfigs\s+mcpoidc\s+mcpfleet.dev\/v1alpha1\s+true\s+MCPOIDCConfig/);
      expect(all).toMatch(/mcpauthzconfigs\s+authzcfg\s+mcpfleet.dev\/v1alpha1\s+true\s+MCPAuthzConfig/);
      expect(all).toMatch(/mcptoolconfigs\s+tc,toolconfig\s+mcpfleet.dev\/v1alpha1\s+true\s+MCPToolConfig/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'accepts every sample in deploy/samples (one per transport) and fills in the defaults',
    async () => {
      const files = await yamlFiles(SAMPLES);
      expect(files).toEqual(['mcpserver-sse.yaml', 'mcpserver-stdio.yaml', 'mcpserver-streamable-http.yaml']);
      const ns = await kube.newNamespace('samples');
      await kube.ok(['apply', '-n', ns, '-f', SAMPLES]);
      const items = await kube.list('mcpservers', ns);
      expect(items.map((m) => [m.metadata.name, m.spec?.['transport']]).sort()).toEqual([
        ['everything-http', 'streamable-http'],
        ['everything-sse', 'sse'],
        ['everything-stdio', 'stdio'],
      ]);
      const stdio = items.find((m) => m.metadata.name === 'everything-stdio');
      expect(stdio?.spec).toMatchObject({
        proxyMode: 'streamable-http',
        proxyPort: 8080,
        sessionAffinity: 'ClientIP',
        maxSessions: 1000,
        sessionIdleTimeout: '30m',
      });
      // replicas has no default: unset, an autoscaler owns the proxy Deployment's replicas.
      expect(items.find((m) => m.metadata.name === 'everything-sse')?.spec).not.toHaveProperty('replicas');
      // The short name and category work.
      expect(await kube.ok(['get', 'mcps', '-n', ns, '-o', 'name'])).toContain('mcpserver.mcpfleet.dev/everything-sse');
      expect(await kube.ok(['get', 'mcpfleet', '-n', ns, '-o', 'name'])).toContain('mcpserver.mcpfleet.dev/everything-http');
      // Printer columns.
      const table = await kube.ok(['get', 'mcps', '-n', ns]);
      expect(table.split('\n')[0]).toMatch(/^NAME\s+PHASE\s+READY\s+REPLICAS\s+URL\s+AGE$/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rejects each invalid sample with the message a person needs',
    async () => {
      const files = await yamlFiles(INVALID);
      expect(files.length).toBeGreaterThanOrEqual(10);
      const ns = await kube.newNamespace('invalid');
      const failures: string[] = [];
      for (const file of files) {
        const text = await readFile(path.join(INVALID, file), 'utf8');
        const expected = /^# expect: (.+)$/m.exec(text)?.[1];
        if (expected === undefined) throw new Error(`${file} has no "# expect:" line`);
        const res = await cp!.kubectl(['apply', '-n', ns, '-f', path.join(INVALID, file)]);
        if (res.code === 0) failures.push(`${file}: accepted`);
        else if (!res.stderr.includes(expected)) failures.push(`${file}: expected "${expected}" in:\n${res.stderr}`);
      }
      expect(failures).toEqual([]);
      expect(await kube.list('mcpservers,mcpoidcconfigs,mcpauthzconfigs,mcptoolconfigs', ns)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "accepts ToolHive's sessionStorage (redis with a passwordRef) and sessionAffinity None across replicas, filling in db",
    async () => {
      const ns = await kube.newNamespace('redis');
      await kube.ok(['apply', '-n', ns, '-f', path.join(SAMPLES, 'mcpserver-streamable-http.yaml')]);
      const storage = { provider: 'redis', address: 'redis.infra:6379', keyPrefix: 'team-a:web', passwordRef: { name: 'redis-auth', key: 'password' } };
      await kube.ok([
        'patch',
        'mcps',
        'everything-http',
        '-n',
        ns,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { replicas: 3, sessionAffinity: 'None', sessionStorage: storage } }),
      ]);
      const [server] = await kube.list('mcpservers', ns);
      expect(server?.spec).toMatchObject({ replicas: 3, sessionAffinity: 'None', sessionStorage: { ...storage, db: 0 } });
      // Removing the store while replicas > 1 and affinity None is refused on update too.
      const dropped = await cp!.kubectl(['patch', 'mcps', 'everything-http', '-n', ns, '--type=json', '-p', '[{"op":"remove","path":"/spec/sessionStorage"}]']);
      expect(dropped.code).not.toBe(0);
      expect(dropped.stderr).toContain('sessionStorage with provider redis is required when replicas > 1 and sessionAffinity is None');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rejects a stdio server scaled to 2 on update too, and accepts 0 (stopped)',
    async () => {
      const ns = await kube.newNamespace('update');
      await kube.ok(['apply', '-n', ns, '-f', path.join(SAMPLES, 'mcpserver-stdio.yaml')]);
      const scaled = await cp!.kubectl(['patch', 'mcps', 'everything-stdio', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":2}}']);
      expect(scaled.code).not.toBe(0);
      expect(scaled.stderr).toContain('replicas must be 0 or 1 when transport is stdio');
      await kube.ok(['patch', 'mcps', 'everything-stdio', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":0}}']);
      // Switching to HTTP without mcpPort is refused as well.
      const http = await cp!.kubectl(['patch', 'mcps', 'everything-stdio', '-n', ns, '--type=merge', '-p', '{"spec":{"transport":"sse"}}']);
      expect(http.stderr).toContain('spec.mcpPort: Required value: mcpPort is required when transport is streamable-http or sse');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "accepts ToolHive's authzConfig (ConfigMap by default, or inline) and audit, filling in their defaults",
    async () => {
      const ns = await kube.newNamespace('authz');
      await kube.ok(['apply', '-n', ns, '-f', path.join(SAMPLES, 'mcpserver-stdio.yaml')]);
      await kube.ok([
        'patch',
        'mcps',
        'everything-stdio',
        '-n',
        ns,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { authzConfig: { configMap: { name: 'policies' } }, audit: { enabled: true } } }),
      ]);
      let [server] = await kube.list('mcpservers', ns);
      expect(server?.spec).toMatchObject({ authzConfig: { type: 'configMap', configMap: { name: 'policies', key: 'authz.json' } }, audit: { enabled: true } });
      const inline = { type: 'inline', configMap: null, inline: { policies: ['permit(principal, action == Action::"call_tool", resource == Tool::"echo");'] } };
      await kube.ok(['patch', 'mcps', 'everything-stdio', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { authzConfig: inline } })]);
      [server] = await kube.list('mcpservers', ns);
      expect(server?.spec?.['authzConfig']).toEqual({ type: 'inline', inline: { policies: inline.inline.policies, entitiesJson: '[]' } });
      const empty = await cp!.kubectl([
        'patch',
        'mcps',
        'everything-stdio',
        '-n',
        ns,
        '--type=merge',
        '-p',
        '{"spec":{"authzConfig":{"inline":{"policies":[]}}}}',
      ]);
      expect(empty.code).not.toBe(0);
      expect(empty.stderr).toMatch(/policies: Invalid value: .*should have at least 1 items/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'explains every field (kubectl explain)',
    async () => {
      const spec = await kube.ok(['explain', 'mcpserver.spec']);
      for (const field of [
        'image',
        'transport',
        'proxyMode',
        'proxyPort',
        'mcpPort',
        'args',
        'env',
        'resources',
        'replicas',
        'serviceAccount',
        'podTemplateSpec',
        'sessionIdleTimeout',
        'maxSessions',
      ]) {
        expect(spec).toMatch(new RegExp(`^  ${field}\\s`, 'm'));
      }
      expect(spec).toMatch(/image\s+<string> -required-/);
      const transport = await kube.ok(['explain', 'mcpserver.spec.transport']);
      expect(transport).toContain('ENUM:');
      expect(transport).toContain('streamable-http');
      expect(await kube.ok(['explain', 'mcpserver.status.conditions'])).toContain('failure class');
      expect(await kube.ok(['explain', 'mcpserver.spec.oidcConfigRef'])).toContain('UNAUTHENTICATED');
      expect(await kube.ok(['explain', 'mcpoidcconfig.spec.kubernetesServiceAccount'])).toContain("apiserver's keys");
      expect(await kube.ok(['explain', 'mcpauthzconfig.spec.config'])).toContain('entities_json');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'accepts the config kinds, defaults useClusterAuth, and prints Source/Type and Valid',
    async () => {
      const ns = await kube.newNamespace('configs');
      const oidc = {
        apiVersion: 'mcpfleet.dev/v1alpha1',
        kind: 'MCPOIDCConfig',
        metadata: { name: 'cluster' },
        spec: { type: 'kubernetesServiceAccount', kubernetesServiceAccount: { namespace: 'agents' } },
      };
      const authz = {
        apiVersion: 'mcpfleet.dev/v1alpha1',
        kind: 'MCPAuthzConfig',
        metadata: { name: 'tools' },
        spec: { type: 'cedarv1', config: { policies: ['permit(principal, action, resource);'], entities_json: '[]', group_claim_name: 'groups' } },
      };
      await kube.ok(['apply', '-n', ns, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [oidc, authz] }));
      const stored = await kube.get('mcpoidcconfig', 'cluster', ns);
      expect(stored?.spec).toEqual({ type: 'kubernetesServiceAccount', kubernetesServiceAccount: { namespace: 'agents', useClusterAuth: true } });
      // config is kept as written, unknown keys included.
      expect((await kube.get('mcpauthzconfig', 'tools', ns))?.spec).toEqual(authz.spec);
      expect((await kube.ok(['get', 'mcpoidc', '-n', ns])).split('\n')[0]).toMatch(/^NAME\s+SOURCE\s+VALID\s+AGE$/);
      expect((await kube.ok(['get', 'authzcfg', '-n', ns])).split('\n')[0]).toMatch(/^NAME\s+TYPE\s+VALID\s+AGE$/);
      expect(await kube.ok(['get', 'mcpfleet', '-n', ns, '-o', 'name'])).toContain('mcpauthzconfig.mcpfleet.dev/tools');
    },
    TEST_TIMEOUT_MS,
  );
});
