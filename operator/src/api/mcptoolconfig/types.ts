// MCPToolConfig (group mcpfleet.dev): which tools the MCPServers that reference it
// (spec.toolConfigRef) show their clients, and under which names, with ToolHive's v1beta1 kind
// and fields: toolsFilter (an allow list of names; empty = all) and toolsOverride (upstream
// name → {name, description, annotations}). The proxy applies it (--tool-config); the operator
// checks it with the proxy's own parser (common/contract/toolConfig.ts).
import type { ObjectMeta } from '../../../../common/kube/kinds.ts';
import type { ConfigStatus } from '../configStatus.ts';

export const TOOLS_KIND = 'MCPToolConfig';
export const TOOLS_PLURAL = 'mcptoolconfigs';
export const TOOLS_SINGULAR = 'mcptoolconfig';
/** ToolHive's short names. */
export const TOOLS_SHORT_NAMES = ['tc', 'toolconfig'] as const;

export interface ToolAnnotationsOverride {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface ToolOverride {
  name?: string;
  description?: string;
  annotations?: ToolAnnotationsOverride;
}

export interface MCPToolConfigSpec {
  toolsFilter?: string[];
  toolsOverride?: Record<string, ToolOverride>;
}

export interface MCPToolConfig {
  apiVersion: string;
  kind: typeof TOOLS_KIND;
  metadata: ObjectMeta;
  spec: MCPToolConfigSpec;
  status?: ConfigStatus;
}
