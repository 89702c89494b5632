// MCPToolConfig on a real control plane, with the operator run as it ships: ToolHive's
// mcpserver_fetch_tools_filter.yaml (test/fixtures/toolhive, apiVersion changed and nothing else)
// applies and reconciles into a proxy started with --tool-config on a ConfigMap the operator
// renders; an edit rewrites exactly the ConfigMaps of the MCPServers that use the config and
// rolls nothing (the proxy reloads the mounted file); a config the proxy's parser refuses is
// reported Valid=False, shows on the MCPServers that use it and never reaches their ConfigMap;
// a reference to a missing config holds the proxy with the reason.
import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { eventually, RESTRICTED, TEST_PROXY_IMAGE, waitReady, type Kube } from '../support/kube.ts';
import { manifest } from '../support/mcpServers.ts';
import { condition, configValid, flagValue, operatorArgs, operatorOnControlPlane, proxyContainer, settle } from '../support/operatorHarness.ts';
import { ROOT } from '../support/processes.ts';
import type { MCPServerSpec } from '../../operator/src/api/types.ts';

const TEST_TIMEOUT_MS = 180_000;
const FIXTURE = path.join(ROOT, 'test/fixtures/toolhive/mcpserver_fetch_tools_filter.yaml');
const HTTP: MCPServerSpec = { image: 'example/mcp-http:1', transport: 'streamable-http', mcpPort: 3001 };

let kube: Kube;

/** The rendered file of an MCPServer's proxy, parsed. */
async function rendered(ns: string, name: string): Promise<unknown> {
  const cm = await kube.get('configmap', `mcp-${name}-proxy-tools`, ns);
  const text = (cm?.['data'] as Record<string, string> | undefined)?.['tools.json'];
  return text === undefined ? undefined : JSON.parse(text);
}

const toolConfig = (name: string, spec: object): object => ({ apiVersion: 'mcpfleet.dev/v1alpha1', kind: 'MCPToolConfig', metadata: { name }, spec });

describe('operator: MCPToolConfig on a real control plane', () => {
  const { op } = operatorOnControlPlane(operatorArgs(TEST_PROXY_IMAGE), async (k) => {
    kube = k;
  });

  it(
    "ToolHive's mcpserver_fetch_tools_filter.yaml applies unchanged but for apiVersion and its proxy gets the rendered tool config",
    async () => {
      expect(await readFile(FIXTURE, 'utf8')).not.toMatch(/^apiVersion: toolhive/m);
      await kube.ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'toolhive-system', labels: RESTRICTED } }));
      await kube.ok(['apply', '-f', FIXTURE]);
      const ns = 'toolhive-system';
      const c = await configValid(kube, 'mcptoolconfig', ns, 'fetch-tools', 'True');
      expect((c.status as { configHash?: string }).configHash).toMatch(/^[0-9a-f]{64}$/);
      expect(await kube.ok(['get', 'tc', '-n', ns])).toMatch(/fetch-tools\s+True/);

      const m = await waitReady(kube, 'fetch', ns);
      expect(condition(m, 'ToolConfigRefValidated')).toMatchObject({ status: 'True', reason: 'ToolConfigRefValid' });
      const d = await eventually('proxy Deployment', 60_000, () => kube.get('deployment', 'mcp-fetch-proxy', ns));
      const container = proxyContainer(d);
      expect(flagValue(container.args, '--tool-config')).toBe('/etc/mcpfleet/tool-config/tools.json');
      expect(container.volumeMounts).toContainEqual({ name: 'tool-config', mountPath: '/etc/mcpfleet/tool-config', readOnly: true });
      expect(await rendered(ns, 'fetch')).toEqual({ toolsFilter: ['fetch'] });
      const cm = await kube.get('configmap', 'mcp-fetch-proxy-tools', ns);
      expect(cm?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'MCPServer', name: 'fetch', controller: true });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'an edit rewrites only its users’ ConfigMaps and rolls nothing; one the proxy would refuse is held back with the reason',
    async () => {
      const ns = await kube.newNamespace('tools');
      const first = { toolsFilter: ['echo'] };
      const second = { toolsFilter: ['web_fetch'], toolsOverride: { fetch: { name: 'web_fetch', annotations: { readOnlyHint: true } } } };
      await kube.apply(toolConfig('shared', first), ns);
      await kube.apply(toolConfig('other', first), ns);
      await kube.apply(manifest('one', { ...HTTP, toolConfigRef: { name: 'shared' } }), ns);
      await kube.apply(manifest('two', { ...HTTP, toolConfigRef: { name: 'shared' } }), ns);
      await kube.apply(manifest('bystander', { ...HTTP, toolConfigRef: { name: 'other' } }), ns);
      for (const name of ['one', 'two', 'bystander']) await waitReady(kube, name, ns);
      expect(await rendered(ns, 'one')).toEqual(first);

      const before = await settle(op());
      const generations = async (): Promise<(number | undefined)[]> =>
        Promise.all(['one', 'two', 'bystander'].map(async (n) => (await kube.get('deployment', `mcp-${n}-proxy`, ns))?.metadata.generation));
      const deploymentsBefore = await generations();
      const bystander = (await kube.get('configmap', 'mcp-bystander-proxy-tools', ns))?.metadata.resourceVersion;

      // A valid edit: the two users' ConfigMaps and the config's status are written, nothing else.
      await kube.apply(toolConfig('shared', second), ns);
      await eventually('ConfigMaps of one and two updated', 30_000, async () => {
        const files = await Promise.all(['one', 'two'].map((n) => rendered(ns, n)));
        return files.every((f) => isDeepStrictEqual(f, second));
      });
      expect((await settle(op())) - before).toBe(3);
      expect(await generations()).toEqual(deploymentsBefore);
      expect((await kube.get('configmap', 'mcp-bystander-proxy-tools', ns))?.metadata.resourceVersion).toBe(bystander);

      // Two tools renamed to one name: the schema admits it, the proxy's parser does not.
      await kube.apply(toolConfig('shared', { toolsOverride: { a: { name: 'x' }, b: { name: 'x' } } }), ns);
      const invalid = await configValid(kube, 'mcptoolconfig', ns, 'shared', 'False');
      expect(JSON.stringify(invalid.status)).toContain('a and b are both renamed to \\"x\\"');
      const held = await eventually('one not Ready', 30_000, async () => {
        const x = await kube.get('mcpserver', 'one', ns);
        return condition(x, 'ToolConfigRefValidated')?.status === 'False' ? x : undefined;
      });
      expect(condition(held, 'ToolConfigRefValidated')).toMatchObject({ reason: 'ToolConfigRefNotValid' });
      expect(condition(held, 'ToolConfigRefValidated')?.message).toMatch(/MCPToolConfig shared is not valid/);
      await settle(op());
      expect(await rendered(ns, 'one')).toEqual(second); // the last good config stays
      expect(await generations()).toEqual(deploymentsBefore);
      expect((await kube.get('mcpserver', 'bystander', ns))?.status).toMatchObject({ phase: 'Ready' });

      // The schema refuses what it can see (a wrong type) at admission.
      await expect(kube.apply(toolConfig('shared', { toolsOverride: { a: { annotations: { readOnlyHint: 'yes' } } } }), ns)).rejects.toThrow(/readOnlyHint/);

      await kube.apply(toolConfig('shared', first), ns);
      await waitReady(kube, 'one', ns);
      expect(await rendered(ns, 'one')).toEqual(first);
      expect(await generations()).toEqual(deploymentsBefore);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a reference to a missing MCPToolConfig: not Ready with the reason, the proxy made once it exists',
    async () => {
      const ns = await kube.newNamespace('tools-missing');
      await kube.apply(manifest('early', { ...HTTP, toolConfigRef: { name: 'later' } }), ns);
      const m = await eventually('ToolConfigRefNotFound', 60_000, async () => {
        const x = await kube.get('mcpserver', 'early', ns);
        return condition(x, 'ToolConfigRefValidated')?.reason === 'ToolConfigRefNotFound' ? x : undefined;
      });
      expect(condition(m, 'Ready')).toMatchObject({ status: 'False', reason: 'ToolConfigRefNotFound' });
      expect(condition(m, 'ToolConfigRefValidated')?.message).toMatch(/spec.toolConfigRef names MCPToolConfig later, which does not exist/);
      expect(await kube.get('deployment', 'mcp-early-proxy', ns)).toBeUndefined();
      await kube.apply(toolConfig('later', { toolsFilter: ['echo'] }), ns);
      await waitReady(kube, 'early', ns);
      expect(await rendered(ns, 'early')).toEqual({ toolsFilter: ['echo'] });
    },
    TEST_TIMEOUT_MS,
  );
});
