// Who is asking, as authorization and audit see it. Authentication (a separate stage)
// validates the bearer token and attaches this to the exchange; here we only read it
// through a PrincipalSource, so authorization does not depend on how it was obtained.
//
// No authentication configured (or no principal attached) means the caller is anonymous:
// Cedar sees `Anonymous::"anonymous"` as the principal, no group parents, and
// `context.authenticated == false`. Policies that must only admit authenticated callers
// say so with `principal is Client`.
import type { Exchange } from '../http/exchange.ts';

export interface Principal {
  /** The token's `sub`. */
  subject: string;
  /** Every claim of the validated token (sub, iss, scope, groups, …), as decoded JSON. */
  claims: Readonly<Record<string, unknown>>;
}

/** Reads the authenticated principal of an exchange; undefined = anonymous. */
export type PrincipalSource = (exchange: Exchange) => Principal | undefined;

export const anonymousSource: PrincipalSource = () => undefined;

/** The principal the authentication stage (auth/) attached, if any. */
export const authenticatedPrincipal: PrincipalSource = (exchange) => exchange.principal;
