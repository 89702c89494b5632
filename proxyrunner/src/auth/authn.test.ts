// Unit tests of the pure parts of authentication: flag checks, claims → Principal, the
// service-account allow-list, the metadata document, challenge escaping, and the verdict
// cache (a verified token is checked once; an expired one is checked again).
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateKeyPair, SignJWT, createLocalJWKSet, exportJWK, type JWTVerifyGetKey } from 'jose';
import { parseConfig, UsageError, type ProxyConfig } from '../config.ts';
import { createTokenVerifier, serviceAccountAllowed } from './authn.ts';
import type { AuthnConfig } from './authnConfig.ts';
import { headerSafe } from './authnStage.ts';
import type { KeyResolver } from './jwks.ts';
import { resourceMetadata, resourceMetadataUrl, prmRoutes } from './prm.ts';
import { principalFromClaims } from './principal.ts';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}): ProxyConfig => {
  const config = parseConfig([...argv, '--', 'server'], env);
  if (config === 'help') throw new Error('unexpected help');
  return config;
};

describe('authentication flags', () => {
  it('is off without an issuer, and refuses auth flags that would then do nothing', () => {
    expect(parse([]).authn).toBeUndefined();
    expect(() => parse(['--oidc-audience', 'x'])).toThrow(/needs --oidc-issuer/);
    expect(() => parse(['--resource-url', 'https://mcp.example.test/mcp'])).toThrow(UsageError);
  });

  it('needs a resource URL, and defaults the audience to it', () => {
    expect(() => parse(['--oidc-issuer', 'https://issuer.example.test'])).toThrow(/--resource-url is required/);
    const config = parse(['--oidc-issuer', 'https://issuer.example.test', '--resource-url', 'https://mcp.example.test/mcp']);
    expect(config.authn).toMatchObject({
      type: 'inline',
      issuer: 'https://issuer.example.test',
      audiences: ['https://mcp.example.test/mcp'],
      clockSkewSeconds: 30,
      jwksCooldownMs: 30_000,
    });
    expect(
      parse(['--oidc-issuer', 'https://i.example.test', '--resource-url', 'https://m.example.test/mcp', '--oidc-audience', 'mcp']).authn?.audiences,
    ).toEqual(['mcp']);
    // ToolHive's scopes are advertised only; required scopes are a separate, explicit choice.
    const scoped = parse([
      '--oidc-issuer',
      'https://i.example.test',
      '--resource-url',
      'https://m.example.test/mcp',
      '--oidc-scopes',
      'openid',
      '--oidc-required-scopes',
      'mcp:tools',
    ]);
    expect(scoped.authn).toMatchObject({ requiredScopes: ['mcp:tools'], advertisedScopes: ['openid', 'mcp:tools'] });
  });

  it('refuses none and HMAC algorithms, and plain http off loopback', () => {
    const base = ['--oidc-issuer', 'https://issuer.example.test', '--resource-url', 'https://mcp.example.test/mcp'];
    expect(() => parse([...base, '--oidc-algorithms', 'RS256,HS256'])).toThrow(/HS256 not allowed/);
    expect(() => parse([...base, '--oidc-algorithms', 'none'])).toThrow(/none not allowed/);
    expect(() => parse(['--oidc-issuer', 'http://issuer.example.test', '--resource-url', 'https://mcp.example.test/mcp'])).toThrow(/https/);
    expect(parse(['--oidc-issuer', 'http://127.0.0.1:5556', '--resource-url', 'http://localhost:8080/mcp']).authn?.issuer).toBe('http://127.0.0.1:5556');
  });

  it('reads the introspection secret from a file or MCPFLEET_OIDC_CLIENT_SECRET, and never shows it', () => {
    const base = [
      '--oidc-issuer',
      'https://issuer.example.test',
      '--resource-url',
      'https://mcp.example.test/mcp',
      '--oidc-introspection-url',
      'https://issuer.example.test/introspect',
    ];
    expect(() => parse(base)).toThrow(/--oidc-client-id/);
    expect(() => parse([...base, '--oidc-client-id', 'proxy'])).toThrow(/client secret/);
    const dir = mkdtempSync(path.join(tmpdir(), 'authn-'));
    writeFileSync(path.join(dir, 'secret'), 's3cr3t-from-file\n');
    const fromFile = parse([...base, '--oidc-client-id', 'proxy', '--oidc-client-secret-file', path.join(dir, 'secret')]);
    expect(fromFile.authn?.introspection).toMatchObject({ clientId: 'proxy', clientSecret: 's3cr3t-from-file' });
    const fromEnv = parse([...base, '--oidc-client-id', 'proxy'], { MCPFLEET_OIDC_CLIENT_SECRET: 's3cr3t-env' });
    expect(fromEnv.authn?.introspection?.clientSecret).toBe('s3cr3t-env');
  });

  it('checks the service-account allow-list syntax and needs the kubernetesServiceAccount type for it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'authn-'));
    writeFileSync(path.join(dir, 'ca.crt'), 'not checked here');
    const base = [
      '--oidc-type',
      'kubernetesServiceAccount',
      '--resource-url',
      'https://mcp.example.test/mcp',
      '--oidc-ca-bundle-file',
      path.join(dir, 'ca.crt'),
    ];
    expect(parse([...base, '--oidc-allowed-service-accounts', 'agents/*,ci/deployer']).authn).toMatchObject({
      type: 'kubernetesServiceAccount',
      issuer: undefined,
      allowedServiceAccounts: ['agents/*', 'ci/deployer'],
    });
    expect(() => parse([...base, '--oidc-allowed-service-accounts', 'just-a-name'])).toThrow(/namespace\/name/);
    expect(() =>
      parse(['--oidc-issuer', 'https://i.example.test', '--resource-url', 'https://m.example.test/mcp', '--oidc-allowed-service-accounts', 'a/b']),
    ).toThrow(/kubernetesServiceAccount/);
  });
});

describe('principalFromClaims', () => {
  it('maps the standard claims and the configured group and role claims', () => {
    const p = principalFromClaims(
      { sub: 'alice', iss: 'https://i', aud: 'https://m/mcp', scope: 'a b', groups: ['eng', 7], realm_access: { roles: ['admin'] }, azp: 'cli', exp: 99 },
      'jwt',
      { groups: 'groups', roles: 'realm_access.roles' },
    );
    expect(p).toMatchObject({
      subject: 'alice',
      issuer: 'https://i',
      audience: ['https://m/mcp'],
      scopes: ['a', 'b'],
      groups: ['eng'],
      roles: ['admin'],
      clientId: 'cli',
      expiresAt: 99,
      tokenKind: 'jwt',
      serviceAccount: undefined,
    });
    expect(Object.isFrozen(p?.claims)).toBe(true);
    expect(principalFromClaims({ iss: 'https://i' }, 'jwt', { groups: 'groups', roles: 'roles' })).toBeUndefined();
  });

  it('reads a service account from a Kubernetes token', () => {
    const claims = {
      sub: 'system:serviceaccount:agents:bot',
      iss: 'https://kubernetes.default.svc',
      'kubernetes.io': { namespace: 'agents', serviceaccount: { name: 'bot', uid: 'u' } },
    };
    expect(principalFromClaims(claims, 'kubernetesServiceAccount', { groups: 'groups', roles: 'roles' })?.serviceAccount).toEqual({
      namespace: 'agents',
      name: 'bot',
    });
    expect(serviceAccountAllowed(['agents/*'], { namespace: 'agents', name: 'bot' })).toBe(true);
    expect(serviceAccountAllowed(['agents/other', 'ci/*'], { namespace: 'agents', name: 'bot' })).toBe(false);
  });
});

describe('protected resource metadata', () => {
  it('forms the well-known URL between host and path (RFC 9728 §3.1)', () => {
    expect(resourceMetadataUrl(new URL('https://mcp.example.test/mcp'))).toBe('https://mcp.example.test/.well-known/oauth-protected-resource/mcp');
    expect(resourceMetadataUrl(new URL('https://mcp.example.test/'))).toBe('https://mcp.example.test/.well-known/oauth-protected-resource');
    expect(resourceMetadata(new URL('https://m.example.test/mcp'), 'https://i', ['s'])).toEqual({
      resource: 'https://m.example.test/mcp',
      authorization_servers: ['https://i'],
      scopes_supported: ['s'],
      bearer_methods_supported: ['header'],
    });
    expect(Object.keys(prmRoutes(new URL('https://m.example.test/team/mcp'), ['/mcp'], [], async () => undefined)).sort()).toEqual([
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource/team/mcp',
    ]);
  });

  it('keeps error descriptions inside the RFC 6750 character set', () => {
    expect(headerSafe('bad "quoted" \\ value\n')).toBe('bad quoted  value');
  });
});

describe('token verifier cache', () => {
  it('verifies a token once until it expires, and never caches a failure', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const local = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' }] });
    let lookups = 0;
    const getKey: JWTVerifyGetKey = (header, token) => {
      lookups++;
      return local(header, token);
    };
    const keys: KeyResolver = { resolve: async () => ({ issuer: 'https://i', getKey, jwksUrl: new URL('https://i/jwks') }) };
    let now = 1_000_000_000_000;
    const config = {
      type: 'inline',
      issuer: 'https://i',
      audiences: ['https://m/mcp'],
      algorithms: ['ES256'],
      clockSkewSeconds: 0,
      cacheMaxEntries: 2,
      allowedServiceAccounts: [],
      groupsClaim: 'groups',
      rolesClaim: 'roles',
    } as unknown as AuthnConfig;
    const verifier = createTokenVerifier(config, keys, { now: () => now });
    const sign = (sub: string, exp: number) =>
      new SignJWT({ sub, iss: 'https://i', aud: 'https://m/mcp', exp }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).sign(privateKey);
    const token = await sign('alice', now / 1000 + 60);
    expect((await verifier.verify(token)).ok).toBe(true);
    expect(verifier.cached(token)?.subject).toBe('alice');
    expect((await verifier.verify(token)).ok).toBe(true);
    expect(lookups).toBe(1);
    const wrong = await new SignJWT({ sub: 'eve', iss: 'https://i', aud: 'https://other', exp: now / 1000 + 60 })
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .sign(privateKey);
    expect(await verifier.verify(wrong)).toMatchObject({ ok: false, kind: 'invalid_token' });
    expect(verifier.cached(wrong)).toBeUndefined();
    // Bounded: a third verified token pushes the oldest out.
    const [b, c] = [await sign('bob', now / 1000 + 60), await sign('carol', now / 1000 + 60)];
    await verifier.verify(b);
    await verifier.verify(c);
    expect(verifier.cached(token)).toBeUndefined();
    // Past its exp the cached verdict is gone and the token is refused.
    now += 61_000;
    expect(verifier.cached(c)).toBeUndefined();
    expect(await verifier.verify(c)).toMatchObject({ ok: false, kind: 'invalid_token', reason: 'the token has expired' });
  });
});

describe('session owners', () => {
  it('is an LRU bounded by its capacity; a bound session keeps its first owner', async () => {
    const { SessionOwners } = await import('./authnSessions.ts');
    const owners = new SessionOwners(2);
    owners.bind('a', 'alice');
    owners.bind('a', 'bob'); // first owner stays
    owners.bind('b', 'bob');
    expect(owners.owner('a')).toBe('alice'); // refreshes a: b is now the oldest
    owners.bind('c', 'carol');
    expect([owners.owner('a'), owners.owner('b'), owners.owner('c'), owners.size]).toEqual(['alice', undefined, 'carol', 2]);
    owners.unbind('a');
    expect(owners.owner('a')).toBeUndefined();
    owners.bind('x'.repeat(300), 'mallory');
    expect(owners.size).toBe(1);
  });
});
