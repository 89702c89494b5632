// Every kind of the mcpfleet.dev API, in the order scripts/gen-crd.ts writes them and install.yaml
// lists them. A new kind: its module under api/ (types, schema, a CrdKind) and one entry here.
import type { CrdKind } from './crdKind.ts';
import { MCPSERVER_CRD } from './crd.ts';
import { OIDC_CRD } from './mcpoidcconfig/schema.ts';
import { AUTHZ_CRD } from './mcpauthzconfig/schema.ts';
import { TELEMETRY_CRD } from './mcptelemetryconfig/schema.ts';
import { TOOLS_CRD } from './mcptoolconfig/schema.ts';

export const API_KINDS: readonly CrdKind[] = [MCPSERVER_CRD, OIDC_CRD, AUTHZ_CRD, TELEMETRY_CRD, TOOLS_CRD];
