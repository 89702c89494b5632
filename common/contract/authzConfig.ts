// The authorization config, in ToolHive's file format (JSON or YAML), so a ToolHive
// `authzConfig` file or ConfigMap works unchanged:
//   version: "1.0"
//   type: cedarv1
//   cedar:
//     policies: ['permit(principal, action == Action::"call_tool", resource == Tool::"echo");', …]
//     entities_json: '[…]'        # a JSON string (ToolHive) or a plain list
//     group_claim_name: groups    # optional; default: groups, roles, cognito:groups
//     role_claim_name: roles      # optional
//     group_entity_type: THVGroup # optional
// Parsing is pure and strict: anything unexpected is an error naming the field. It is part of
// the operator↔proxyrunner contract: the operator checks an MCPAuthzConfig with this parser (and
// renders the file from it) before any proxy sees it; the proxyrunner loads the file with it.
import type { EntityJson } from '@cedar-policy/cedar-wasm/nodejs';
import { parse as parseYaml } from 'yaml';

export interface AuthzConfig {
  policies: string[];
  entities: EntityJson[];
  groupClaimName: string | undefined;
  roleClaimName: string | undefined;
  groupEntityType: string;
}

export class AuthzConfigError extends Error {}

const IDENTIFIER = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

/** Parses the text of a config file (JSON is YAML, so one parser reads both). */
export function parseAuthzConfig(text: string): AuthzConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new AuthzConfigError(`not valid JSON or YAML: ${(err as Error).message}`);
  }
  const root = object(doc, 'the config');
  if (root.type !== 'cedarv1') throw new AuthzConfigError(`type must be "cedarv1" (got ${JSON.stringify(root.type)})`);
  if (root.version !== undefined && typeof root.version !== 'string') throw new AuthzConfigError('version must be a string, e.g. "1.0"');
  const cedar = object(root.cedar, 'cedar');
  const policies = cedar.policies;
  if (!Array.isArray(policies) || policies.length === 0 || !policies.every((p) => typeof p === 'string' && p.trim() !== '')) {
    throw new AuthzConfigError('cedar.policies must be a non-empty list of Cedar policy strings');
  }
  let entities: unknown = cedar.entities_json ?? [];
  if (typeof entities === 'string') {
    try {
      entities = entities.trim() === '' ? [] : JSON.parse(entities);
    } catch (err) {
      throw new AuthzConfigError(`cedar.entities_json is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (!Array.isArray(entities)) throw new AuthzConfigError('cedar.entities_json must be a JSON list of Cedar entities');
  const groupEntityType = optionalString(cedar.group_entity_type, 'cedar.group_entity_type') || 'THVGroup';
  if (!IDENTIFIER.test(groupEntityType))
    throw new AuthzConfigError(`cedar.group_entity_type "${groupEntityType}" is not a Cedar identifier (namespaces are not supported)`);
  return {
    policies: policies as string[],
    entities: entities.map(normalizeEntity),
    groupClaimName: optionalString(cedar.group_claim_name, 'cedar.group_claim_name') || undefined,
    roleClaimName: optionalString(cedar.role_claim_name, 'cedar.role_claim_name') || undefined,
    groupEntityType,
  };
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AuthzConfigError(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new AuthzConfigError(`${what} must be a string`);
  return value;
}

/** Cedar's entity JSON, with `attrs` and `parents` defaulted (ToolHive's examples omit them). */
function normalizeEntity(value: unknown, index: number): EntityJson {
  const entity = object(value, `entity ${index}`);
  const uid = entity.uid;
  if (typeof uid !== 'object' || uid === null) throw new AuthzConfigError(`entity ${index}: uid must be {"type": …, "id": …}`);
  return {
    uid: uid as EntityJson['uid'],
    attrs: (entity.attrs ?? {}) as EntityJson['attrs'],
    parents: (entity.parents ?? []) as EntityJson['parents'],
    ...(entity.tags !== undefined ? { tags: entity.tags as EntityJson['tags'] } : {}),
  };
}

/** The config file the proxyrunner loads, in ToolHive's format, from a cedarv1 block (what is under `cedar:`). */
export function authzConfigFile(cedarBlock: Record<string, unknown>): string {
  return `${JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: cedarBlock }, null, 2)}\n`;
}
