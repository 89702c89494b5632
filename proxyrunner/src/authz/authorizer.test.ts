// The authorizer's decision cache, with the real engine underneath: answers are reused
// only where nothing a policy can read differs, never across a reload, and within bounds.
import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../common/log.ts';
import { createAuthorizer } from './authorizer.ts';
import { parseAuthzConfig } from './config.ts';
import { compilePolicies, type CompiledPolicies } from './engine.ts';
import { itemOperation } from './operations.ts';

let ids = 0;
/** Compiled policies that count the evaluations reaching the engine. */
function counted(policies: string[]): { compiled: CompiledPolicies; calls: () => number } {
  const real = compilePolicies(parseAuthzConfig(JSON.stringify({ type: 'cedarv1', cedar: { policies } })), `cache-${ids++}`);
  let calls = 0;
  return {
    compiled: { ...real, evaluate: (q) => (calls++, real.evaluate(q)) },
    calls: () => calls,
  };
}
const noMetrics = { authzDecision: () => {} };
const alice = { subject: 'alice', claims: { sub: 'alice', groups: ['eng'], n: 1 } };

describe('authorizer decision cache', () => {
  it('reuses a decision for the same principal, action and target, and leaves unread claims and arguments out of the key', () => {
    const { compiled, calls } = counted(['permit(principal in THVGroup::"eng", action, resource == Tool::"echo");']);
    const authz = createAuthorizer(() => compiled, noMetrics, silentLogger);
    expect(authz.decide(alice, itemOperation('tool', 'echo', { m: 1 }))).toBe('allow');
    expect(authz.decide({ ...alice, claims: { ...alice.claims, n: 2 } }, itemOperation('tool', 'echo', { m: 2 }))).toBe('allow');
    expect(calls()).toBe(1);
    expect(authz.decide(alice, itemOperation('tool', 'other'))).toBe('deny');
    expect(authz.decide({ subject: 'alice', claims: { sub: 'alice' } }, itemOperation('tool', 'echo'))).toBe('deny');
    expect(authz.decide(undefined, itemOperation('tool', 'echo'))).toBe('deny');
    expect(calls()).toBe(4);
  });

  it('keys on arguments and claims when a policy reads them', () => {
    const { compiled, calls } = counted([
      'permit(principal, action, resource) when { context has arg_env && context.arg_env == "dev" && principal.claim_n == 1 };',
    ]);
    const authz = createAuthorizer(() => compiled, noMetrics, silentLogger);
    expect(authz.decide(alice, itemOperation('tool', 'deploy', { env: 'dev' }))).toBe('allow');
    expect(authz.decide(alice, itemOperation('tool', 'deploy', { env: 'prod' }))).toBe('deny');
    expect(authz.decide({ ...alice, claims: { ...alice.claims, n: 2 } }, itemOperation('tool', 'deploy', { env: 'dev' }))).toBe('deny');
    expect(authz.decide(alice, itemOperation('tool', 'deploy', { env: 'dev' }))).toBe('allow');
    expect(calls()).toBe(3);
  });

  it('starts empty after a reload, and stays within its bound', () => {
    let current = counted(['permit(principal, action, resource == Tool::"echo");']);
    const authz = createAuthorizer(() => current.compiled, noMetrics, silentLogger, 2);
    expect(authz.decide(alice, itemOperation('tool', 'echo'))).toBe('allow');
    current = counted(['forbid(principal, action, resource);']);
    expect(authz.decide(alice, itemOperation('tool', 'echo'))).toBe('deny');
    for (const tool of ['a', 'b', 'c']) authz.decide(alice, itemOperation('tool', tool));
    expect(current.calls()).toBe(4);
    authz.decide(alice, itemOperation('tool', 'echo'));
    expect(current.calls()).toBe(5);
  });
});
