// The status every config kind (MCPOIDCConfig, MCPAuthzConfig, and the kinds that follow them)
// reports, as ToolHive's config kinds do: the generation it was computed for, a Valid
// condition (the operator's own checks, beyond what the CRD schema and CEL refuse at
// admission), and a hash of the spec, which MCPServers using the config carry on their proxy
// pod template so that a change rolls exactly those proxies (where a roll is needed).
import { conditionSchema } from './schema.ts';
import type { Condition } from './types.ts';
import type { ObjectSchema } from './schemaTypes.ts';
import type { PrinterColumn } from './crdKind.ts';

export interface ConfigStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  configHash?: string;
}

/** The one condition of a config kind (ToolHive's ConditionTypeValid). */
export const VALID_CONDITION = 'Valid';
export const CONFIG_VALID_REASON = 'ConfigValid';
export const CONFIG_INVALID_REASON = 'ConfigInvalid';

export function configStatusSchema(kind: string): ObjectSchema<ConfigStatus> {
  return {
    type: 'object',
    description: `The observed state of the ${kind}, written by the operator.`,
    properties: {
      observedGeneration: {
        type: 'integer',
        format: 'int64',
        minimum: 0,
        description: 'The metadata.generation the status was computed for.',
      },
      conditions: {
        type: 'array',
        description: `Valid: whether the operator accepts the ${kind} (reason ConfigValid or ConfigInvalid, with the problems in the message).`,
        items: conditionSchema,
        maxItems: 8,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      },
      configHash: {
        type: 'string',
        description: `sha256 of the spec; MCPServers that use this ${kind} carry it on their proxy pod template.`,
        maxLength: 64,
      },
    },
  };
}

/** Printer columns shared by config kinds, after their own. */
export function configPrinterColumns(first: readonly PrinterColumn[]): PrinterColumn[] {
  return [
    ...first,
    {
      name: 'Valid',
      type: 'string',
      jsonPath: `.status.conditions[?(@.type=="${VALID_CONDITION}")].status`,
      description: 'The Valid condition.',
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ];
}
