// The MCPToolConfig schema: ToolHive's v1beta1 fields with their types enforced by the
// apiserver (toolsOverride is a map, so its entries are described with additionalProperties,
// which the typed schema helpers do not model); what the schema cannot see (an override that
// changes nothing, two tools renamed to one name) the operator checks with the proxy's parser.
import type { AnySchema } from '../schemaTypes.ts';
import type { CrdKind } from '../crdKind.ts';
import { configPrinterColumns, configStatusSchema } from '../configStatus.ts';
import { TOOLS_KIND, TOOLS_PLURAL, TOOLS_SHORT_NAMES, TOOLS_SINGULAR } from './types.ts';

const hint = (what: string): AnySchema => ({ type: 'boolean', description: `Overrides the ${what} annotation.` });

const toolOverrideSchema: AnySchema = {
  type: 'object',
  description: 'How clients see one upstream tool. Give at least one field; an empty string means "not overridden", as in ToolHive.',
  properties: {
    name: { type: 'string', description: 'The name clients see and call; the proxy calls the upstream tool by its own name.', maxLength: 256 },
    description: { type: 'string', description: "Replaces the upstream tool's description.", maxLength: 65536 },
    annotations: {
      type: 'object',
      description: 'Tool annotations to override, field by field; the others pass through from the upstream.',
      properties: {
        title: { type: 'string', description: 'Overrides the human-readable title annotation.', maxLength: 1024 },
        readOnlyHint: hint('read-only hint'),
        destructiveHint: hint('destructive hint'),
        idempotentHint: hint('idempotent hint'),
        openWorldHint: hint('open-world hint'),
      },
    },
  },
};

export const toolSpecSchema: AnySchema = {
  type: 'object',
  description: 'Which tools the MCPServers that name this config in spec.toolConfigRef show their clients, and how.',
  properties: {
    toolsFilter: {
      type: 'array',
      description: 'Tool names to expose (an allow list); empty or absent: every tool. A name is matched against the name clients see and the upstream name.',
      items: { type: 'string', description: 'A tool name.', minLength: 1, maxLength: 256 },
      maxItems: 10000,
      'x-kubernetes-list-type': 'set',
    },
    toolsOverride: {
      type: 'object',
      description: "Upstream tool name → its override (new name, description, annotations). A renamed tool's upstream name is not callable.",
      additionalProperties: toolOverrideSchema,
      maxProperties: 10000,
    },
  },
};

export const TOOLS_CRD: CrdKind = {
  kind: TOOLS_KIND,
  plural: TOOLS_PLURAL,
  singular: TOOLS_SINGULAR,
  shortNames: TOOLS_SHORT_NAMES,
  description:
    'MCPToolConfig filters and renames the tools of MCP servers (ToolHive v1beta1 fields). MCPServers in the same namespace use it through ' +
    'spec.toolConfigRef; a change reaches their proxies without a restart.',
  spec: toolSpecSchema,
  status: configStatusSchema(TOOLS_KIND) as unknown as AnySchema,
  specRequired: false,
  printerColumns: configPrinterColumns([]),
};
