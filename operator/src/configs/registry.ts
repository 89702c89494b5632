// Every config kind the operator watches and MCPServers may reference, in the order their
// contributions are applied to a proxy (and their conditions listed). A new kind: one entry.
import type { AnyConfigKind } from './configKind.ts';
import { AUTHZ_CONFIG_KIND } from './authz.ts';
import { OIDC_CONFIG_KIND } from './oidc.ts';
import { TELEMETRY_CONFIG_KIND } from './telemetry.ts';
import { TOOL_CONFIG_KIND } from './tools.ts';

export const CONFIG_KINDS: readonly AnyConfigKind[] = [OIDC_CONFIG_KIND, AUTHZ_CONFIG_KIND, TELEMETRY_CONFIG_KIND, TOOL_CONFIG_KIND];
