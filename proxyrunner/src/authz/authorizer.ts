// The authorization decisions of the proxy: one Cedar evaluation per operation, counted in
// mcpfleet_proxy_authz_decisions_total{action,decision}, with engine errors logged (rate
// limited) and denied. Policies come from a PolicySource (the store, which hot-reloads),
// read at each decision so a reload applies to the next request.
//
// Decisions are cached: Cedar is deterministic (same principal, action, resource, context
// and policies → same answer), and an evaluation costs far more than the proxy's own work
// per request, mostly in handing the entities to the engine. The key holds exactly what
// the query holds: the subject and groups, plus the claims only if a policy reads claim_*,
// plus the arguments only if a policy reads arg_*. The cache is bounded (entries and key
// size) and belongs to one compiled policy set, so a reload starts it empty.
import type { Logger } from '../../../common/log.ts';
import type { RpcMessage } from '../jsonrpc.ts';
import type { Decision, CompiledPolicies, Evaluation } from './engine.ts';
import { buildQuery, groupsOf } from './entities.ts';
import { filterListResponse } from './listFilter.ts';
import type { Operation } from './operations.ts';
import type { Principal } from './principal.ts';

export interface AuthzMetrics {
  authzDecision(action: string, decision: Decision): void;
}

export interface Authorizer {
  /** allow/deny for one operation. */
  decide(principal: Principal | undefined, operation: Operation): Decision;
  /** Lists are open unless a forbid policy explicitly matches the list action. */
  listForbidden(principal: Principal | undefined, operation: Operation): boolean;
  /** A list response with the items the principal may not use removed. */
  filterList(principal: Principal | undefined, method: string, message: RpcMessage): RpcMessage;
}

const ERROR_LOG_INTERVAL_MS = 30_000;
export const CACHE_ENTRIES = 4096;
const MAX_KEY_LENGTH = 1024;

export function createAuthorizer(policies: () => CompiledPolicies, metrics: AuthzMetrics, log: Logger, cacheEntries = CACHE_ENTRIES): Authorizer {
  let lastErrorLog = 0;
  const logError = (operation: Operation, error: string): void => {
    const now = Date.now();
    if (now - lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    lastErrorLog = now;
    log.warn('cedar evaluation error (the request is judged without the failing policy; rate-limited log)', { action: operation.action, error });
  };

  let cacheOf: CompiledPolicies | undefined;
  const cache = new Map<string, Evaluation>();

  const principalKey = (compiled: CompiledPolicies, principal: Principal | undefined): string => {
    if (!principal) return '\u0000anonymous';
    if (compiled.usesClaims) return JSON.stringify(principal.claims) + '\u0000' + principal.subject;
    return principal.subject + '\u0000' + groupsOf(principal.claims, compiled.settings).join('\u0000');
  };

  const evaluate = (principal: Principal | undefined, operation: Operation, key?: string) => {
    const compiled = policies();
    if (cacheOf !== compiled) {
      cache.clear();
      cacheOf = compiled;
    }
    let cacheKey = `${key ?? principalKey(compiled, principal)}\u0001${operation.action}\u0001${operation.target ?? ''}`;
    if (compiled.usesArgs && operation.arguments) cacheKey += '\u0001' + JSON.stringify(operation.arguments);
    const cacheable = cacheKey.length <= MAX_KEY_LENGTH && cacheEntries > 0;
    const hit = cacheable ? cache.get(cacheKey) : undefined;
    if (hit) return hit;
    const scope = { claims: compiled.usesClaims, args: compiled.usesArgs };
    const result = compiled.evaluate(buildQuery(compiled.settings, principal, operation, scope));
    if (result.error !== undefined) logError(operation, result.error);
    // Only clean answers are kept: an engine error is retried (and logged) next time.
    if (cacheable && result.error === undefined) {
      if (cache.size >= cacheEntries) cache.delete(cache.keys().next().value as string);
      cache.set(cacheKey, result);
    }
    return result;
  };

  return {
    decide(principal, operation) {
      const { decision } = evaluate(principal, operation);
      metrics.authzDecision(operation.action, decision);
      return decision;
    },
    listForbidden(principal, operation) {
      const { decision, forbiddenBy } = evaluate(principal, operation);
      const forbidden = decision === 'deny' && forbiddenBy > 0;
      metrics.authzDecision(operation.action, forbidden ? 'deny' : 'allow');
      return forbidden;
    },
    filterList(principal, method, message) {
      const key = principalKey(policies(), principal);
      return filterListResponse(method, message, (operation) => evaluate(principal, operation, key).decision === 'allow');
    },
  };
}
