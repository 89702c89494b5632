// Where the issuer's signing keys come from, resolved lazily and kept:
//   inline:                   issuer's /.well-known/openid-configuration → jwks_uri
//                             (or --oidc-jwks-url, then no discovery at all)
//   kubernetesServiceAccount: the apiserver's discovery (for the issuer name, unless given)
//                             and <apiserver>/openid/v1/jwks, fetched with the pod's token
// The key set is jose's remote JWKS: cached for 10 minutes, refetched at once for a token
// whose `kid` is unknown (key rotation without restart) but at most once per cooldown, so
// tokens with made-up key ids cannot turn into a flood of JWKS requests. A failed discovery
// is retried on a later request, not more often than the cooldown either.
//
// An issuer outage does not take authentication down with it: when a refetch fails, the last
// key set fetched stays in use for up to STALE_KEYS_MAX_MS after it was fetched, and the issuer
// is asked again at most once per cooldown (jose alone would retry on every request, each
// waiting out the timeout). Keys the issuer removed are dropped at the first successful fetch.
import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { AuthnConfig } from './authnConfig.ts';
import { createAuthnFetch, fetchJsonObject, type AuthnFetch } from './authnHttp.ts';

export interface IssuerKeys {
  readonly issuer: string;
  readonly getKey: JWTVerifyGetKey;
  readonly jwksUrl: URL;
}

export class DiscoveryError extends Error {}

/** Longest a fetched key set is used while the issuer cannot be reached. */
export const STALE_KEYS_MAX_MS = 60 * 60_000;

export interface KeyResolver {
  /** Resolves (once, then from memory) the issuer name and its key set. */
  resolve(): Promise<IssuerKeys>;
}

/** Well-known discovery URL of an issuer (OpenID Connect Discovery 1.0 §4: appended to the path). */
export function discoveryUrl(issuer: string): URL {
  return new URL(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
}

export function createKeyResolver(config: AuthnConfig, now: () => number = Date.now): KeyResolver {
  const k8s = config.kubernetes;
  const fetchImpl: AuthnFetch = createAuthnFetch({
    caBundle: config.caBundle,
    bearerTokenFile: k8s?.tokenFile,
    timeoutMs: 5_000,
    maxBytes: 1024 * 1024,
  });
  let resolved: IssuerKeys | undefined;
  let pending: Promise<IssuerKeys> | undefined;
  let failedAt = -Infinity;
  let lastFailure: Error | undefined;

  return {
    resolve() {
      if (resolved) return Promise.resolve(resolved);
      if (pending) return pending;
      if (lastFailure && now() - failedAt < config.jwksCooldownMs) return Promise.reject(lastFailure);
      pending = discover().then(
        (keys) => {
          resolved = keys;
          pending = undefined;
          return keys;
        },
        (err: unknown) => {
          pending = undefined;
          failedAt = now();
          lastFailure = err instanceof DiscoveryError ? err : new DiscoveryError((err as Error).message);
          throw lastFailure;
        },
      );
      return pending;
    },
  };

  async function discover(): Promise<IssuerKeys> {
    let issuer = config.issuer;
    let jwksUrl = config.jwksUrl;
    if (k8s) {
      // The apiserver serves discovery for its configured --service-account-issuer; the
      // jwks_uri in it may name an address only reachable from outside, so the keys are
      // always fetched from the apiserver we talk to.
      if (!issuer) {
        const doc = await fetchJsonObject(fetchImpl, new URL('/.well-known/openid-configuration', k8s.apiServer));
        if (typeof doc['issuer'] !== 'string') throw new DiscoveryError(`the apiserver's discovery document at ${k8s.apiServer.href} names no issuer`);
        issuer = doc['issuer'];
      }
      jwksUrl ??= new URL('/openid/v1/jwks', k8s.apiServer);
    } else if (!jwksUrl) {
      const url = discoveryUrl(issuer as string);
      const doc = await fetchJsonObject(fetchImpl, url);
      if (doc['issuer'] !== issuer) {
        // OIDC Discovery §4.3: the document must name the issuer it was fetched for.
        throw new DiscoveryError(`discovery at ${url.href} names issuer ${JSON.stringify(doc['issuer'])}, not the configured ${issuer}`);
      }
      if (typeof doc['jwks_uri'] !== 'string') throw new DiscoveryError(`discovery at ${url.href} has no jwks_uri`);
      try {
        jwksUrl = new URL(doc['jwks_uri']);
      } catch {
        throw new DiscoveryError(`discovery at ${url.href} has an invalid jwks_uri`);
      }
    }
    return { issuer: issuer as string, getKey: outageTolerant(jwksUrl), jwksUrl };
  }

  function outageTolerant(jwksUrl: URL): JWTVerifyGetKey {
    let fetchedAt = -Infinity;
    let failedAt = -Infinity;
    const countingFetch: AuthnFetch = async (url, init) => {
      const response = await fetchImpl(url, init);
      if (response.status === 200) fetchedAt = now();
      return response;
    };
    const remote = createRemoteJWKSet(jwksUrl, {
      cooldownDuration: config.jwksCooldownMs,
      cacheMaxAge: config.jwksCacheMaxAgeMs,
      timeoutDuration: 5_000,
      [customFetch]: countingFetch as unknown as typeof fetch,
    });
    let staleSource: JSONWebKeySet | undefined;
    let staleKeys: JWTVerifyGetKey | undefined;
    const stale = (): JWTVerifyGetKey | undefined => {
      const known = remote.jwks();
      if (!known || now() - fetchedAt > STALE_KEYS_MAX_MS) return undefined;
      if (known !== staleSource) {
        staleSource = known;
        staleKeys = createLocalJWKSet(known);
      }
      return staleKeys;
    };
    return async (header, token) => {
      const fallback = remote.fresh ? undefined : stale();
      if (fallback && now() - failedAt < config.jwksCooldownMs) return fallback(header, token);
      try {
        return await remote(header, token);
      } catch (err) {
        if (!keyFetchFailed(err)) throw err;
        failedAt = now();
        const keys = stale();
        if (keys) return keys(header, token);
        throw err;
      }
    };
  }
}

/** The JWKS could not be fetched (as opposed to: the token matches no key). */
function keyFetchFailed(err: unknown): boolean {
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid) return true;
  if (err instanceof joseErrors.JOSEError) return err.code === 'ERR_JOSE_GENERIC';
  return true; // sockets, our own timeouts, size limit
}
