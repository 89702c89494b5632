// Cedar evaluation with the official engine (@cedar-policy/cedar-wasm). A policy set is
// parsed and validated once (preparsePolicySet) and then only referenced by id per
// request (statefulIsAuthorized), so requests pay for evaluation, not parsing.
//
// The engine keeps parsed sets by id for the life of the process, so callers reuse ids:
// the policy store alternates two slots, parsing a new set into the idle one while
// requests keep using the active one. A failed parse leaves its slot untouched (the
// engine's contract), so a bad reload costs nothing.
// Any evaluation error (not an expected outcome) denies: authorization fails closed.
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { EntityJson } from '@cedar-policy/cedar-wasm/nodejs';
import { AuthzConfigError, type AuthzConfig } from './config.ts';
import { uidKey, type CedarQuery, type EntitySettings } from './entities.ts';

export type Decision = 'allow' | 'deny';

export interface Evaluation {
  decision: Decision;
  /** On deny, how many forbid policies matched (0 = denied by default, nothing permitted it). */
  forbiddenBy: number;
  /** Engine or policy errors (never shown to clients). */
  error?: string;
}

export interface CompiledPolicies {
  readonly settings: EntitySettings;
  /** Whether any policy can read claim_* / arg_* attributes (else they are left out of queries). */
  readonly usesClaims: boolean;
  readonly usesArgs: boolean;
  readonly policyCount: number;
  evaluate(query: CedarQuery): Evaluation;
}

/**
 * Parses and validates a config's policies and entities into the engine's slot `id`
 * (replacing what it held); throws AuthzConfigError with the engine's messages.
 */
export function compilePolicies(config: AuthzConfig, id: string): CompiledPolicies {
  const entityCheck = cedar.checkParseEntities({ entities: config.entities });
  if (entityCheck.type === 'failure') throw new AuthzConfigError(`cedar.entities_json: ${messages(entityCheck.errors)}`);
  const configured = new Map<string, EntityJson>();
  for (const entity of config.entities) configured.set(uidKey(entity.uid), entity);

  const staticPolicies: Record<string, string> = {};
  config.policies.forEach((text, i) => (staticPolicies[`policy${i}`] = text));
  const parsed = cedar.preparsePolicySet(id, { staticPolicies });
  if (parsed.type === 'failure') throw new AuthzConfigError(`cedar.policies: ${messages(parsed.errors)}`);

  // Passing attributes into the engine is most of an evaluation's cost, so what no policy
  // can read is left out. A policy reads claim_*/arg_* attributes only by naming them, so
  // the substring test is conservative (a comment naming one merely keeps them in).
  return {
    usesClaims: config.policies.some((p) => p.includes('claim_')),
    usesArgs: config.policies.some((p) => p.includes('arg_')),
    settings: { groupClaimName: config.groupClaimName, roleClaimName: config.roleClaimName, groupEntityType: config.groupEntityType, configured },
    policyCount: config.policies.length,
    evaluate(query) {
      let answer: cedar.AuthorizationAnswer;
      try {
        answer = cedar.statefulIsAuthorized({ ...query, preparsedPolicySetId: id });
      } catch (err) {
        return { decision: 'deny', forbiddenBy: 0, error: (err as Error).message };
      }
      if (answer.type === 'failure') return { decision: 'deny', forbiddenBy: 0, error: messages(answer.errors) };
      const { decision, diagnostics } = answer.response;
      const forbiddenBy = decision === 'deny' ? diagnostics.reason.length : 0;
      // A policy that errors (e.g. reads a missing attribute) is skipped by Cedar, like
      // ToolHive's engine; reported so it can be logged, the decision stands.
      if (diagnostics.errors.length === 0) return { decision, forbiddenBy };
      return { decision, forbiddenBy, error: diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`).join('; ') };
    },
  };
}

function messages(errors: readonly { message: string }[]): string {
  return errors.map((e) => e.message).join('; ');
}
