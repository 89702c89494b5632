// The MCPAuthzConfig schema. config is kept as written (its shape depends on the backend type,
// as in ToolHive) and checked by the operator with the proxy's own parser of the cedarv1 block
// (common/contract/authzConfig.ts): a config the proxy would refuse is reported Valid=False and
// never reaches a proxy.
import type { AnySchema, ObjectSchema } from '../schemaTypes.ts';
import type { CrdKind } from '../crdKind.ts';
import { configPrinterColumns, configStatusSchema } from '../configStatus.ts';
import { AUTHZ_BACKEND_TYPES, AUTHZ_KIND, AUTHZ_PLURAL, AUTHZ_SHORT_NAMES, AUTHZ_SINGULAR, type MCPAuthzConfigSpec } from './types.ts';

export const authzSpecSchema: ObjectSchema<MCPAuthzConfigSpec> = {
  type: 'object',
  description: 'An authorization backend and its settings, shared by the MCPServers that name this config in spec.authzConfigRef.',
  required: { type: true, config: true },
  properties: {
    type: { type: 'string', description: 'The authorization backend: cedarv1 (Cedar policies evaluated in the proxy).', enum: AUTHZ_BACKEND_TYPES },
    config: {
      type: 'object',
      description:
        'The backend settings. cedarv1: policies (a non-empty list of Cedar policies), entities_json (Cedar entities as a JSON string), ' +
        'and optionally group_claim_name, role_claim_name and group_entity_type, as under `cedar:` in a ToolHive authorization config file.',
      'x-kubernetes-preserve-unknown-fields': true,
    },
  },
};

export const AUTHZ_CRD: CrdKind = {
  kind: AUTHZ_KIND,
  plural: AUTHZ_PLURAL,
  singular: AUTHZ_SINGULAR,
  shortNames: AUTHZ_SHORT_NAMES,
  description:
    'MCPAuthzConfig holds the authorization policies the mcpfleet proxy enforces on every MCP request (Cedar). MCPServers in the same ' +
    'namespace use it through spec.authzConfigRef; a change reaches their proxies without a restart.',
  spec: authzSpecSchema as unknown as AnySchema,
  status: configStatusSchema(AUTHZ_KIND) as unknown as AnySchema,
  specRequired: true,
  printerColumns: configPrinterColumns([{ name: 'Type', type: 'string', jsonPath: '.spec.type', description: 'The authorization backend.' }]),
};
