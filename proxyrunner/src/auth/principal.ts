// Who sent a request, as the authentication stage established it. This is the contract
// between authentication (auth/, which creates it) and everything after it in the pipeline
// (authorization and audit in authz/, which only read it): one immutable object, attached to
// the exchange as `exchange.principal`, built from a token that was verified (a JWT checked
// against the issuer's keys, or an opaque token the issuer's introspection endpoint called
// active). Nothing in it comes from an unverified source; the raw token is never kept.
export type TokenKind = 'jwt' | 'introspected' | 'kubernetesServiceAccount';

export interface ServiceAccountRef {
  readonly namespace: string;
  readonly name: string;
}

export interface Principal {
  /** `sub` claim (a Kubernetes SA token: `system:serviceaccount:<ns>:<name>`). */
  readonly subject: string;
  /** `iss` claim, equal to the configured issuer. */
  readonly issuer: string;
  /** `aud` claim as a list (it contains this server's audience). */
  readonly audience: readonly string[];
  /** Granted scopes: `scope` (space-separated) or `scp` (list or string). */
  readonly scopes: readonly string[];
  /** Values of the configured groups claim (default `groups`). */
  readonly groups: readonly string[];
  /** Values of the configured roles claim (default `roles`). */
  readonly roles: readonly string[];
  /** OAuth client the token was issued to (`azp` or `client_id`), when the token says. */
  readonly clientId: string | undefined;
  /** Expiry as seconds since the epoch (`exp`), when the token has one. */
  readonly expiresAt: number | undefined;
  readonly tokenKind: TokenKind;
  /** Set for Kubernetes service-account tokens. */
  readonly serviceAccount: ServiceAccountRef | undefined;
  /** Every claim of the verified token (or introspection response), frozen. */
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface ClaimNames {
  groups: string;
  roles: string;
}

/** Builds a Principal from verified claims; undefined when a required claim is missing. */
export function principalFromClaims(claims: Record<string, unknown>, tokenKind: TokenKind, names: ClaimNames): Principal | undefined {
  const subject = claims['sub'];
  const issuer = claims['iss'];
  if (typeof subject !== 'string' || subject === '' || typeof issuer !== 'string') return undefined;
  const serviceAccount = tokenKind === 'kubernetesServiceAccount' ? serviceAccountOf(claims) : undefined;
  if (tokenKind === 'kubernetesServiceAccount' && !serviceAccount) return undefined;
  const clientId = stringClaim(claims['azp']) ?? stringClaim(claims['client_id']);
  const exp = claims['exp'];
  return Object.freeze({
    subject,
    issuer,
    audience: Object.freeze(stringList(claims['aud'])),
    scopes: Object.freeze(scopesOf(claims)),
    groups: Object.freeze(stringList(claimAt(claims, names.groups))),
    roles: Object.freeze(stringList(claimAt(claims, names.roles))),
    clientId,
    expiresAt: typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined,
    tokenKind,
    serviceAccount,
    claims: deepFreeze({ ...claims }),
  });
}

/** `scope` is a space-separated string (RFC 8693/9068); some issuers send `scp` as a list. */
export function scopesOf(claims: Record<string, unknown>): string[] {
  const scope = claims['scope'];
  if (typeof scope === 'string') return scope.split(' ').filter((s) => s !== '');
  const scp = claims['scp'];
  if (typeof scp === 'string') return scp.split(' ').filter((s) => s !== '');
  return stringList(scp);
}

/** The namespace and name of a Kubernetes service-account token (`kubernetes.io` claim, else `sub`). */
export function serviceAccountOf(claims: Record<string, unknown>): ServiceAccountRef | undefined {
  const k8s = claims['kubernetes.io'];
  if (k8s && typeof k8s === 'object') {
    const namespace = (k8s as Record<string, unknown>)['namespace'];
    const sa = (k8s as Record<string, unknown>)['serviceaccount'];
    const name = sa && typeof sa === 'object' ? (sa as Record<string, unknown>)['name'] : undefined;
    if (typeof namespace === 'string' && typeof name === 'string') return Object.freeze({ namespace, name });
  }
  const sub = claims['sub'];
  const m = typeof sub === 'string' ? /^system:serviceaccount:([^:]+):([^:]+)$/.exec(sub) : null;
  return m ? Object.freeze({ namespace: m[1] as string, name: m[2] as string }) : undefined;
}

/** A claim by name; a dotted name (`realm_access.roles`) walks into objects when no claim has the literal name. */
function claimAt(claims: Record<string, unknown>, name: string): unknown {
  if (name in claims) return claims[name];
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (!value || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value as Record<string, unknown>)) deepFreeze(inner);
  }
  return value;
}
