// A token issuer on loopback for the authentication tests: a real HTTP server serving an
// OpenID discovery document and a JWKS, with signing keys made by jose. Tests mint tokens
// with any claims (expired, wrong audience...), rotate keys, and read how often the JWKS was
// fetched (to see that the proxy caches keys and rate-limits refetches). It signs, but it is
// not an OAuth server: the real-provider tests use oidc-provider (test/support/oidcProvider.ts).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface TestIssuer {
  /** The issuer identifier (iss), e.g. http://127.0.0.1:PORT */
  url: string;
  /** Signs claims with the current key; iss, iat and a 5-minute exp are defaults. */
  sign(claims?: JWTPayload, options?: { key?: SigningKey; header?: Record<string, unknown> }): Promise<string>;
  /** Replaces the published key set with a new key (the old one is no longer published). */
  rotate(): Promise<SigningKey>;
  /** A key that is never published. */
  unpublishedKey(): Promise<SigningKey>;
  currentKey(): SigningKey;
  jwksFetches(): number;
  discoveryFetches(): number;
  close(): Promise<void>;
}

let keyCounter = 0;

export async function newSigningKey(alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `key-${++keyCounter}-${alg}`;
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export async function startTestIssuer(options: { alg?: string } = {}): Promise<TestIssuer> {
  let current = await newSigningKey(options.alg);
  let jwks = 0;
  let discovery = 0;
  const server = http.createServer((req, res) => {
    const json = (body: unknown): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/.well-known/openid-configuration') {
      discovery++;
      json({
        issuer: url,
        jwks_uri: `${url}/jwks`,
        token_endpoint: `${url}/token`,
        authorization_endpoint: `${url}/authorize`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [current.alg],
      });
    } else if (req.url === '/jwks') {
      jwks++;
      json({ keys: [current.publicJwk] });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    async sign(claims = {}, opts = {}) {
      const key = opts.key ?? current;
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: url, iat: now, exp: now + 300, ...claims })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...opts.header })
        .sign(key.privateKey);
    },
    async rotate() {
      current = await newSigningKey(current.alg);
      return current;
    },
    unpublishedKey: () => newSigningKey(current.alg),
    currentKey: () => current,
    jwksFetches: () => jwks,
    discoveryFetches: () => discovery,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
