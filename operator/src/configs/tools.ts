// MCPToolConfig as a config kind, wired like MCPAuthzConfig and for the same reason: hot reload,
// not a roll. The operator renders the spec into a ConfigMap owned by each MCPServer that
// references it (mcp-<name>-proxy-tools, key tools.json), mounted in the proxy at the
// --tool-config path. The pod template names only the ConfigMap, so an edit rewrites that
// ConfigMap and no pod: the kubelet swaps the mounted file (within its sync period, about a
// minute) and the proxy, which watches it, applies the new filter and names to the next
// request with every session intact. A roll would end every session of every proxy using the
// config to show one more tool. The operator checks the spec with the proxy's own parser
// (validate), so a config the proxy would refuse never reaches the ConfigMap: the proxies keep
// the last good one, and the MCPServer's ToolConfigRefValidated condition says why.
import { parseToolConfig, toolConfigFile } from '../../../common/contract/toolConfig.ts';
import { CONFIGMAP, kindInfo } from '../../../common/kube/kinds.ts';
import { TOOLS_KIND, TOOLS_PLURAL, type MCPToolConfigSpec } from '../api/mcptoolconfig/types.ts';
import { GROUP, VERSION, type MCPServer } from '../api/types.ts';
import { childMeta, finish } from '../builders/desired.ts';
import { childNames } from '../builders/meta.ts';
import type { ConfigKind, ConfigObject, ProxyContribution } from './configKind.ts';
import { configHash } from './resolve.ts';

/** Annotation on the rendered ConfigMap (not on the pod template: an edit must not roll the proxy). */
export const TOOLS_HASH_ANNOTATION = `${GROUP}/${TOOLS_PLURAL.replace(/s$/, '')}-hash`;
export const TOOL_CONFIG_MOUNT_PATH = '/etc/mcpfleet/tool-config';
export const TOOL_CONFIG_KEY = 'tools.json';
const VOLUME = 'tool-config';

export const toolConfigMapName = (mcp: MCPServer): string => `${childNames(mcp.metadata.name).proxy}-tools`;

export function validateToolSpec(spec: MCPToolConfigSpec | undefined): string[] {
  try {
    parseToolConfig(toolConfigFile(spec ?? {}));
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

export function toolContribution(config: ConfigObject<MCPToolConfigSpec | undefined>, mcp: MCPServer): ProxyContribution {
  const name = toolConfigMapName(mcp);
  const configMap = finish({
    apiVersion: CONFIGMAP.apiVersion,
    kind: CONFIGMAP.kind,
    metadata: { ...childMeta(mcp, name, 'proxy'), annotations: { [TOOLS_HASH_ANNOTATION]: configHash(config) } },
    data: { [TOOL_CONFIG_KEY]: toolConfigFile(config.spec ?? {}) },
  });
  return {
    options: { toolConfigFile: `${TOOL_CONFIG_MOUNT_PATH}/${TOOL_CONFIG_KEY}` },
    volumes: [{ name: VOLUME, configMap: { name } }],
    volumeMounts: [{ name: VOLUME, mountPath: TOOL_CONFIG_MOUNT_PATH, readOnly: true }],
    children: [configMap],
  };
}

export const TOOL_CONFIG_KIND: ConfigKind<MCPToolConfigSpec | undefined> = {
  info: kindInfo(TOOLS_KIND, GROUP, VERSION, TOOLS_PLURAL),
  refCondition: 'ToolConfigRefValidated',
  reasonPrefix: 'ToolConfigRef',
  refField: 'spec.toolConfigRef',
  refName: (spec) => spec.toolConfigRef?.name,
  validate: validateToolSpec,
  contribute: toolContribution,
};
