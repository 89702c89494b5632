// mcpfleet_proxy_auth_total{result}: one count per request that authentication decided on,
// registered on the proxy's registry (every result pre-set to 0 so rates and alerts work
// before the first refusal). Results:
//   allowed          a verified token with the required scopes
//   unauthenticated  no bearer token (401 with the metadata URL)
//   invalid_token    a bearer token that does not verify (401 error="invalid_token")
//   forbidden        a valid token lacking scopes or of a principal not let in (403)
//   unavailable      the issuer's keys or introspection could not be reached (503)
import { Counter, type Registry, type CounterChild } from '../../../common/promClient.ts';

export const AUTH_RESULTS = ['allowed', 'unauthenticated', 'invalid_token', 'forbidden', 'unavailable'] as const;
export type AuthResult = (typeof AUTH_RESULTS)[number];

export interface AuthnMetrics {
  result(result: AuthResult): void;
}

export function createAuthnMetrics(registry: Registry): AuthnMetrics {
  const counter = new Counter({
    name: 'mcpfleet_proxy_auth_total',
    help: 'Requests decided by authentication, by result (allowed, unauthenticated, invalid_token, forbidden, unavailable).',
    labelNames: ['result'],
    registers: [registry],
  });
  const children = Object.fromEntries(AUTH_RESULTS.map((r) => [r, counter.labels(r)])) as Record<AuthResult, CounterChild>;
  for (const r of AUTH_RESULTS) children[r].inc(0);
  return { result: (r) => children[r].inc() };
}
