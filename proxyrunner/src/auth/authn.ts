// Token → verdict. A bearer token is either a JWT, verified here against the issuer's keys
// (signature with an allow-listed asymmetric algorithm, `iss`, `aud`, `exp`/`nbf` with a
// small skew), or, when an introspection endpoint is configured, an opaque token the issuer
// is asked about (RFC 7662). A verified token's Principal is remembered under the token's
// SHA-256 until the token expires (introspected ones for at most a minute, so a revocation
// takes effect soon), in a cache bounded by entries and bytes: a verified token's signature
// is checked once, not per request. Failures are never cached (a cache an attacker fills).
// The token itself is never logged nor kept.
import { createHash } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { AuthnConfig } from './authnConfig.ts';
import { createAuthnFetch, type AuthnFetch } from './authnHttp.ts';
import { DiscoveryError, type KeyResolver } from './jwks.ts';
import { principalFromClaims, type Principal, type TokenKind } from './principal.ts';

export type AuthnVerdict =
  | { ok: true; principal: Principal }
  /** 401 invalid_token: the token is bad (expired, wrong audience, bad signature...). */
  | { ok: false; kind: 'invalid_token'; reason: string }
  /** 403: a valid token of a principal that is not let in (service account not allowed). */
  | { ok: false; kind: 'forbidden'; reason: string }
  /** 503: the issuer could not be asked (discovery, JWKS or introspection unreachable). */
  | { ok: false; kind: 'unavailable'; reason: string };

export interface TokenVerifier {
  /** A remembered, unexpired verdict for this token, without any async work. */
  cached(token: string): Principal | undefined;
  verify(token: string): Promise<AuthnVerdict>;
}

export interface VerifierOptions {
  /** Upper bound on the bytes of tokens whose verdicts are cached (claims are about that size). */
  cacheMaxBytes?: number;
  /** Longest an introspected token is trusted without asking again. */
  introspectionTtlMs?: number;
  now?: () => number;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function createTokenVerifier(config: AuthnConfig, keys: KeyResolver, options: VerifierOptions = {}): TokenVerifier {
  const now = options.now ?? Date.now;
  const cache = new VerdictCache(config.cacheMaxEntries, options.cacheMaxBytes ?? 8 * 1024 * 1024, now);
  const introspectionTtlMs = options.introspectionTtlMs ?? 60_000;
  const claimNames = { groups: config.groupsClaim, roles: config.rolesClaim };
  const tokenKind: TokenKind = config.type === 'kubernetesServiceAccount' ? 'kubernetesServiceAccount' : 'jwt';
  const introspectionFetch: AuthnFetch | undefined = config.introspection
    ? createAuthnFetch({ caBundle: config.caBundle, timeoutMs: 5_000, maxBytes: 256 * 1024 })
    : undefined;

  return {
    cached: (token) => cache.get(hashOf(token)),
    async verify(token) {
      const key = hashOf(token);
      const hit = cache.get(key);
      if (hit) return { ok: true, principal: hit };
      const verdict = JWT_SHAPE.test(token) ? await verifyJwt(token) : await introspect(token);
      if (verdict.ok) {
        const expiresAtMs = verdict.principal.expiresAt !== undefined ? verdict.principal.expiresAt * 1000 : now() + introspectionTtlMs;
        const until = verdict.principal.tokenKind === 'introspected' ? Math.min(expiresAtMs, now() + introspectionTtlMs) : expiresAtMs;
        cache.set(key, verdict.principal, until, token.length);
      }
      return verdict;
    },
  };

  async function verifyJwt(token: string): Promise<AuthnVerdict> {
    let issuerKeys;
    try {
      issuerKeys = await keys.resolve();
    } catch (err) {
      return { ok: false, kind: 'unavailable', reason: `issuer keys unavailable: ${(err as Error).message}` };
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, issuerKeys.getKey, {
        issuer: issuerKeys.issuer,
        audience: config.audiences,
        algorithms: config.algorithms,
        clockTolerance: config.clockSkewSeconds,
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(now()),
      }));
    } catch (err) {
      return jwtFailure(err);
    }
    return admit(payload, tokenKind);
  }

  async function introspect(token: string): Promise<AuthnVerdict> {
    const endpoint = config.introspection;
    if (!endpoint || !introspectionFetch) return { ok: false, kind: 'invalid_token', reason: 'the token is not a JWT' };
    let body: Record<string, unknown>;
    try {
      const basic = Buffer.from(`${encodeURIComponent(endpoint.clientId)}:${encodeURIComponent(endpoint.clientSecret)}`).toString('base64');
      const response = await introspectionFetch(endpoint.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: `Basic ${basic}` },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
      if (response.status !== 200) return { ok: false, kind: 'unavailable', reason: `introspection answered ${response.status}` };
      const parsed: unknown = await response.json();
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
      body = parsed as Record<string, unknown>;
    } catch (err) {
      return { ok: false, kind: 'unavailable', reason: `introspection failed: ${(err as Error).message}` };
    }
    if (body['active'] !== true) return { ok: false, kind: 'invalid_token', reason: 'the token is not active' };
    const nowSeconds = now() / 1000;
    const exp = body['exp'];
    if (typeof exp === 'number' && exp + config.clockSkewSeconds < nowSeconds) return { ok: false, kind: 'invalid_token', reason: 'the token has expired' };
    const nbf = body['nbf'];
    if (typeof nbf === 'number' && nbf - config.clockSkewSeconds > nowSeconds)
      return { ok: false, kind: 'invalid_token', reason: 'the token is not yet valid' };
    if (body['iss'] !== undefined && config.issuer !== undefined && body['iss'] !== config.issuer)
      return { ok: false, kind: 'invalid_token', reason: 'the token has another issuer' };
    const aud = body['aud'];
    if (aud !== undefined) {
      const list = Array.isArray(aud) ? aud : [aud];
      if (!config.audiences.some((a) => list.includes(a))) return { ok: false, kind: 'invalid_token', reason: 'the token is for another audience' };
    }
    const claims = { ...body, iss: body['iss'] ?? config.issuer, sub: body['sub'] ?? body['client_id'] };
    return admit(claims, 'introspected');
  }

  function admit(claims: Record<string, unknown>, kind: TokenKind): AuthnVerdict {
    const principal = principalFromClaims(claims, kind, claimNames);
    if (!principal) {
      return { ok: false, kind: 'invalid_token', reason: kind === 'kubernetesServiceAccount' ? 'not a service-account token' : 'the token has no subject' };
    }
    if (
      principal.serviceAccount &&
      config.allowedServiceAccounts.length > 0 &&
      !serviceAccountAllowed(config.allowedServiceAccounts, principal.serviceAccount)
    ) {
      return { ok: false, kind: 'forbidden', reason: `service account ${principal.serviceAccount.namespace}/${principal.serviceAccount.name} is not allowed` };
    }
    return { ok: true, principal };
  }
}

export function serviceAccountAllowed(allowed: readonly string[], account: { namespace: string; name: string }): boolean {
  return allowed.some((entry) => entry === `${account.namespace}/${account.name}` || entry === `${account.namespace}/*`);
}

/** What a client is told (RFC 6750 error_description) and what the issuer's trouble is. */
function jwtFailure(err: unknown): AuthnVerdict {
  const e = joseErrors;
  if (err instanceof e.JWTExpired) return { ok: false, kind: 'invalid_token', reason: 'the token has expired' };
  if (err instanceof e.JWTClaimValidationFailed) {
    const what: Record<string, string> = { aud: 'the token is for another audience', iss: 'the token has another issuer', nbf: 'the token is not yet valid' };
    return { ok: false, kind: 'invalid_token', reason: what[err.claim] ?? `claim ${err.claim} is ${err.reason === 'missing' ? 'missing' : 'invalid'}` };
  }
  if (err instanceof e.JOSEAlgNotAllowed) return { ok: false, kind: 'invalid_token', reason: "the token's signing algorithm is not allowed" };
  if (err instanceof e.JWSSignatureVerificationFailed) return { ok: false, kind: 'invalid_token', reason: "the token's signature does not verify" };
  if (err instanceof e.JWKSNoMatchingKey || err instanceof e.JWKSMultipleMatchingKeys)
    return { ok: false, kind: 'invalid_token', reason: 'no issuer key matches the token' };
  if (err instanceof e.JWKSTimeout || err instanceof e.JWKSInvalid || err instanceof DiscoveryError) {
    return { ok: false, kind: 'unavailable', reason: `issuer keys unavailable: ${err.message}` };
  }
  if (err instanceof e.JOSEError) {
    // ERR_JOSE_GENERIC is what jose throws for a JWKS endpoint answering other than 200.
    if (err.code === 'ERR_JOSE_GENERIC') return { ok: false, kind: 'unavailable', reason: `issuer keys unavailable: ${err.message}` };
    return { ok: false, kind: 'invalid_token', reason: 'the token is malformed or unverifiable' };
  }
  if (err instanceof TypeError || err instanceof SyntaxError) return { ok: false, kind: 'invalid_token', reason: 'the token is malformed' };
  // Anything else came from fetching keys (socket errors, our own timeouts).
  return { ok: false, kind: 'unavailable', reason: `issuer keys unavailable: ${(err as Error).message}` };
}

function hashOf(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Verified principals by token hash, until expiry; bounded by entries and by token bytes (oldest go first). */
class VerdictCache {
  readonly #entries = new Map<string, { principal: Principal; untilMs: number; bytes: number }>();
  #bytes = 0;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly now: () => number;

  constructor(maxEntries: number, maxBytes: number, now: () => number) {
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
    this.now = now;
  }

  get(key: string): Principal | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.untilMs <= this.now()) {
      this.#delete(key, entry.bytes);
      return undefined;
    }
    return entry.principal;
  }

  set(key: string, principal: Principal, untilMs: number, bytes: number): void {
    if (this.maxEntries === 0 || bytes > this.maxBytes || untilMs <= this.now()) return;
    const old = this.#entries.get(key);
    if (old) this.#delete(key, old.bytes);
    while (this.#entries.size >= this.maxEntries || this.#bytes + bytes > this.maxBytes) {
      const [oldestKey, oldest] = this.#entries.entries().next().value as [string, { bytes: number }];
      this.#delete(oldestKey, oldest.bytes);
    }
    this.#entries.set(key, { principal, untilMs, bytes });
    this.#bytes += bytes;
  }

  #delete(key: string, bytes: number): void {
    this.#entries.delete(key);
    this.#bytes -= bytes;
  }
}
