// The MCPServer CustomResourceDefinition, built from the typed schema by the generic builder
// (crdKind.ts). scripts/gen-crd.ts writes every kind of api/registry.ts to deploy/crd/; a unit
// test checks that the committed files are exactly what this produces.
import { KIND, PLURAL, SHORT_NAMES, SINGULAR } from './types.ts';
import { rootRules, specSchema, statusSchema } from './schema.ts';
import type { AnySchema } from './schemaTypes.ts';
import { crdFile, crdName, crdObjectOf, crdYamlOf, rootSchemaOf, type CrdKind } from './crdKind.ts';

export const MCPSERVER_CRD: CrdKind = {
  kind: KIND,
  plural: PLURAL,
  singular: SINGULAR,
  shortNames: SHORT_NAMES,
  description:
    'MCPServer runs one Model Context Protocol server on Kubernetes behind the mcpfleet proxyrunner, ' +
    'which tracks client sessions and exports Prometheus metrics.',
  spec: specSchema as unknown as AnySchema,
  status: statusSchema as unknown as AnySchema,
  specRequired: true,
  rootRules,
  printerColumns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Ready, Failed, Stopped or Terminating.' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'The Ready condition.' },
    { name: 'Replicas', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Ready proxy replicas.' },
    { name: 'URL', type: 'string', jsonPath: '.status.url', description: 'The in-cluster MCP endpoint.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};

export const CRD_NAME = crdName(MCPSERVER_CRD);
export const CRD_FILE = crdFile(MCPSERVER_CRD);

export const rootSchema = (): AnySchema => rootSchemaOf(MCPSERVER_CRD);
export const crdObject = (): Record<string, unknown> => crdObjectOf(MCPSERVER_CRD);
export const crdYaml = (): string => crdYamlOf(MCPSERVER_CRD);
