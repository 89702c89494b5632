// MCPAuthzConfig (group mcpfleet.dev): Cedar authorization shared by the MCPServers that
// reference it (spec.authzConfigRef), with ToolHive's v1beta1 kind and fields: a backend type
// and its config, here ToolHive's cedarv1 block as it appears under `cedar:` in an authorization
// config file (policies, entities_json, group_claim_name, role_claim_name, group_entity_type).
// ToolHive's httpv1 backend (an external decision endpoint) has no counterpart in the proxy,
// so type accepts cedarv1 only.
import type { ObjectMeta } from '../../../../common/kube/kinds.ts';
import type { ConfigStatus } from '../configStatus.ts';

export const AUTHZ_KIND = 'MCPAuthzConfig';
export const AUTHZ_PLURAL = 'mcpauthzconfigs';
export const AUTHZ_SINGULAR = 'mcpauthzconfig';
export const AUTHZ_SHORT_NAMES = ['authzcfg'] as const;

export const AUTHZ_BACKEND_TYPES = ['cedarv1'] as const;
export type AuthzBackendType = (typeof AUTHZ_BACKEND_TYPES)[number];

/** The backend's settings as written (checked by the operator, reported in status). */
export type AuthzBackendConfig = Record<string, unknown>;

export interface MCPAuthzConfigSpec {
  type: AuthzBackendType;
  config: AuthzBackendConfig;
}

export interface MCPAuthzConfig {
  apiVersion: string;
  kind: typeof AUTHZ_KIND;
  metadata: ObjectMeta;
  spec: MCPAuthzConfigSpec;
  status?: ConfigStatus;
}
