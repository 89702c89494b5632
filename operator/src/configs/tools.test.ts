// MCPToolConfig as a config kind (pure parts): the operator's check is the proxy's parser, the
// contribution renders the spec into the proxy's own ConfigMap and mounts it at --tool-config,
// and an edit changes that ConfigMap, never the proxy's pod template (no roll).
import { describe, expect, it } from '@jest/globals';
import { parseToolConfig } from '../../../common/contract/toolConfig.ts';
import { httpSpec, stored } from '../../../test/support/mcpServers.ts';
import type { MCPToolConfigSpec } from '../api/mcptoolconfig/types.ts';
import { desiredObjects } from '../builders/desired.ts';
import type { ConfigObject } from './configKind.ts';
import { CONFIG_KINDS } from './registry.ts';
import { configHash, resolveConfigs } from './resolve.ts';
import { TOOL_CONFIG_KIND, TOOLS_HASH_ANNOTATION, validateToolSpec } from './tools.ts';

const config = (spec: MCPToolConfigSpec | undefined, generation = 1): ConfigObject<MCPToolConfigSpec | undefined> => ({
  apiVersion: 'mcpfleet.dev/v1alpha1',
  kind: 'MCPToolConfig',
  metadata: { name: 'tools', namespace: 'team-a', uid: 'uid-tools', generation },
  spec,
});

describe('MCPToolConfig', () => {
  it('is valid exactly when the proxy would load it', () => {
    expect(validateToolSpec({ toolsFilter: ['fetch'] })).toEqual([]);
    expect(validateToolSpec({})).toEqual([]);
    expect(validateToolSpec(undefined)).toEqual([]);
    expect(validateToolSpec({ toolsOverride: { a: { name: 'x' }, b: { name: 'x' } } })).toEqual(['toolsOverride: a and b are both renamed to "x"']);
    expect(validateToolSpec({ toolsOverride: { a: {} } })).toEqual(['toolsOverride.a: give a name, a description or annotations']);
  });

  it('renders into the proxy’s ConfigMap, mounted at --tool-config; an edit changes the ConfigMap and not the pod template', () => {
    const mcp = stored('web', { ...httpSpec, toolConfigRef: { name: 'tools' } });
    const spec: MCPToolConfigSpec = { toolsFilter: ['web_fetch'], toolsOverride: { fetch: { name: 'web_fetch', annotations: { readOnlyHint: true } } } };
    const build = (c: ConfigObject<MCPToolConfigSpec | undefined>): ReturnType<typeof desiredObjects> =>
      desiredObjects(mcp, { proxyrunnerImage: 'p:1' }, resolveConfigs(mcp, CONFIG_KINDS, (kind) => (kind === TOOL_CONFIG_KIND ? c : undefined)).contributions);
    const template = (objs: ReturnType<typeof desiredObjects>): { spec: { containers: { name: string; args: string[] }[]; volumes: unknown[] } } =>
      (objs.find((d) => d.kind === 'Deployment')?.['spec'] as { template: ReturnType<typeof template> }).template;
    const base = build(config(spec));
    const configMap = base.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'mcp-web-proxy-tools');
    expect(configMap?.metadata.annotations).toMatchObject({ [TOOLS_HASH_ANNOTATION]: configHash(config(spec)) });
    const file = (configMap?.['data'] as Record<string, string>)['tools.json'] as string;
    expect(JSON.parse(file)).toEqual(spec);
    expect(parseToolConfig(file).upstreamNameOf.get('web_fetch')).toBe('fetch');
    const proxy = template(base).spec.containers.find((c) => c.name === 'proxyrunner');
    expect(proxy?.args.slice(proxy.args.indexOf('--tool-config'), proxy.args.indexOf('--tool-config') + 2)).toEqual([
      '--tool-config',
      '/etc/mcpfleet/tool-config/tools.json',
    ]);
    expect(template(base).spec.volumes).toContainEqual({ name: 'tool-config', configMap: { name: 'mcp-web-proxy-tools' } });

    const edited = build(config({ toolsFilter: ['echo'] }, 2));
    expect(JSON.stringify(template(edited))).toBe(JSON.stringify(template(base)));
    expect(JSON.stringify(edited.find((d) => d.metadata.name === 'mcp-web-proxy-tools'))).toContain('echo');
  });
});
