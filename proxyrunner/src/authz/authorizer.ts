// The authorization decisions of the proxy: one Cedar evaluation per operation, counted in
// mcpfleet_proxy_authz_decisions_total{action,decision}, with engine errors logged (rate
// limited) and denied. Policies come from a PolicySource (the store, which hot-reloads),
// read at each decision so a reload applies to the next request.
import type { Logger } from '../../../common/log.ts';
import type { RpcMessage } from '../jsonrpc.ts';
import type { Decision, CompiledPolicies } from './engine.ts';
import { buildQuery, principalAttributes } from './entities.ts';
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

export function createAuthorizer(policies: () => CompiledPolicies, metrics: AuthzMetrics, log: Logger): Authorizer {
  let lastErrorLog = 0;
  const logError = (operation: Operation, error: string): void => {
    const now = Date.now();
    if (now - lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    lastErrorLog = now;
    log.warn('cedar evaluation error (the request is judged without the failing policy; rate-limited log)', { action: operation.action, error });
  };

  const evaluate = (principal: Principal | undefined, operation: Operation, claims?: ReturnType<typeof principalAttributes>) => {
    const compiled = policies();
    const result = compiled.evaluate(buildQuery(compiled.settings, principal, operation, claims));
    if (result.error !== undefined) logError(operation, result.error);
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
      const claims = principalAttributes(principal);
      return filterListResponse(method, message, (operation) => {
        const { decision } = evaluate(principal, operation, claims);
        return decision === 'allow';
      });
    },
  };
}
