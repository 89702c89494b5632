// One Cedar authorization request built from a principal and an MCP operation (pure):
//   principal  Client::"<sub>" with every claim as attribute `claim_<name>`, and parents
//              <groupEntityType>::"<g>" for each group/role in the configured claims
//              (ToolHive: group_claim_name, else groups / roles / cognito:groups; plus
//              role_claim_name); Anonymous::"anonymous" when unauthenticated
//   action     Action::"<action>" (attribute operation)
//   resource   Tool|Prompt|Resource::"<name>" (attributes name, operation, feature, uri for
//              resources, and arg_* of the arguments) or FeatureType::"<feature>" for lists
//   context    claim_* and arg_* again (policies may use either place, as in ToolHive),
//              plus `authenticated`
// The configured entities (entities_json) are added. A configured entity with the same uid
// as one of the request's is merged into it (its parents kept, its attributes under the
// request's), so entities_json can put tools in groups: `resource in ToolGroup::"admin"`.
import type { CedarValueJson, Context, EntityJson, EntityUidJson, TypeAndId } from '@cedar-policy/cedar-wasm/nodejs';
import { argumentAttributes, toCedarRecord } from './cedarValues.ts';
import type { Feature, Operation } from './operations.ts';
import type { Principal } from './principal.ts';

export interface QueryScope {
  /** Include claim_* attributes (principal and context). */
  claims: boolean;
  /** Include arg_* attributes (resource and context). */
  args: boolean;
}

const EVERYTHING: QueryScope = { claims: true, args: true };

export interface EntitySettings {
  groupClaimName: string | undefined;
  roleClaimName: string | undefined;
  groupEntityType: string;
  /** entities_json, parsed; keyed by `Type::"id"`. */
  configured: ReadonlyMap<string, EntityJson>;
}

export interface CedarQuery {
  principal: TypeAndId;
  action: TypeAndId;
  resource: TypeAndId;
  context: Context;
  entities: EntityJson[];
}

export const ANONYMOUS: TypeAndId = { type: 'Anonymous', id: 'anonymous' };
const DEFAULT_GROUP_CLAIMS = ['groups', 'roles', 'cognito:groups'];
const RESOURCE_TYPE: Readonly<Record<Feature, string>> = { tool: 'Tool', prompt: 'Prompt', resource: 'Resource' };

export const uidKey = (uid: EntityUidJson): string => {
  const t = '__entity' in uid ? uid.__entity : uid;
  return `${t.type}::${JSON.stringify(t.id)}`;
};

/** ToolHive's resource id: the URI with : / \ ? & = # space and . replaced by _. */
export function sanitizeResourceUri(uri: string): string {
  return uri.replace(/[:/\\?&=# .]/g, '_');
}

/** A claim by exact name, else by dot path into nested objects (Keycloak's realm_access.roles). */
export function claimAt(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (path in claims) return claims[path];
  let current: unknown = claims;
  for (const segment of path.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

const stringsOf = (value: unknown): string[] | undefined => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined);

/** Group and role names of a principal, deduplicated, in claim order. */
export function groupsOf(claims: Readonly<Record<string, unknown>>, settings: Pick<EntitySettings, 'groupClaimName' | 'roleClaimName'>): string[] {
  let groups = settings.groupClaimName ? stringsOf(claimAt(claims, settings.groupClaimName)) : undefined;
  for (const name of DEFAULT_GROUP_CLAIMS) {
    if (groups) break;
    groups = stringsOf(claims[name]);
  }
  const roles = settings.roleClaimName ? (stringsOf(claimAt(claims, settings.roleClaimName)) ?? []) : [];
  return [...new Set([...(groups ?? []), ...roles])];
}

/** The Cedar query for one operation. `claimAttrs` is the principal's converted claims, reused across a list's items. */
export function buildQuery(
  settings: EntitySettings,
  principal: Principal | undefined,
  operation: Operation,
  scope: QueryScope = EVERYTHING,
  claimAttrs = scope.claims ? principalAttributes(principal) : {},
): CedarQuery {
  const principalUid: TypeAndId = principal ? { type: 'Client', id: principal.subject } : ANONYMOUS;
  const parents = principal ? groupsOf(principal.claims, settings).map((id) => ({ type: settings.groupEntityType, id })) : [];
  const action: TypeAndId = { type: 'Action', id: operation.action };
  const args = scope.args ? argumentAttributes(operation.arguments) : {};

  let resource: TypeAndId;
  let resourceAttrs: Record<string, CedarValueJson>;
  if (operation.target === undefined) {
    resource = { type: 'FeatureType', id: operation.feature };
    resourceAttrs = { type: operation.feature, operation: operation.operation, feature: operation.feature };
  } else if (operation.feature === 'resource') {
    resource = { type: 'Resource', id: sanitizeResourceUri(operation.target) };
    resourceAttrs = { ...args, name: operation.target, uri: operation.target, operation: operation.operation, feature: operation.feature };
  } else {
    resource = { type: RESOURCE_TYPE[operation.feature], id: operation.target };
    resourceAttrs = { ...args, name: operation.target, operation: operation.operation, feature: operation.feature };
  }

  const own: EntityJson[] = [
    { uid: principalUid, attrs: claimAttrs, parents },
    { uid: action, attrs: { operation: operation.action }, parents: [] },
    { uid: resource, attrs: resourceAttrs, parents: [] },
  ];
  let entities = own;
  if (settings.configured.size > 0) {
    const ownKeys = new Set<string>();
    entities = own.map((entity) => {
      const key = uidKey(entity.uid);
      ownKeys.add(key);
      const configured = settings.configured.get(key);
      return configured ? { uid: entity.uid, attrs: { ...configured.attrs, ...entity.attrs }, parents: [...configured.parents, ...entity.parents] } : entity;
    });
    for (const [key, entity] of settings.configured) if (!ownKeys.has(key)) entities.push(entity);
  }
  return {
    principal: principalUid,
    action,
    resource,
    context: { ...claimAttrs, ...args, authenticated: principal !== undefined },
    entities,
  };
}

export function principalAttributes(principal: Principal | undefined): Record<string, CedarValueJson> {
  return principal ? toCedarRecord(principal.claims, 1, 'claim_') : {};
}
