// A real OpenID Provider on loopback for the authentication tests: panva's oidc-provider (an
// OpenID-certified OAuth 2.0 / OIDC server, npm dev dependency), not a stub. Dex, which the
// plan named, is refused by the Go module proxy here ("This module version is not available"
// for its tags and commits), so the real-provider tests use this one instead.
//
// It issues real access tokens by the client-credentials grant with RFC 8707 resource
// indicators (the way the MCP specification binds a token to one MCP server): JWT access
// tokens for JWT_RESOURCE, opaque ones (checked by RFC 7662 introspection) for
// OPAQUE_RESOURCE. Keys can be rotated by restarting on the same port with a new key first.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { errors } from 'oidc-provider';

export const AGENT = { id: 'mcp-agent', secret: 'agent-secret-for-tests' };
export const PROXY_CLIENT = { id: 'mcp-proxy', secret: 'proxy-secret-for-tests' };

export interface OidcProvider {
  issuer: string;
  /** A client-credentials access token for `resource` (scope: space-separated). */
  token(resource: string, scope?: string): Promise<string>;
  /** Revokes a token (RFC 7009). */
  revoke(token: string): Promise<void>;
  /** Restarts on the same port signing with a new key (the old one still published). */
  rotateKeys(): Promise<void>;
  close(): Promise<void>;
}

export interface ResourceServer {
  resource: string;
  format: 'jwt' | 'opaque';
  ttlSeconds?: number;
}

async function privateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `rsa-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, alg: 'RS256', use: 'sig' };
}

export async function startOidcProvider(resources: readonly ResourceServer[]): Promise<OidcProvider> {
  let keys = [await privateJwk()];
  let server: http.Server | undefined;
  let port = 0;

  const listen = async (): Promise<void> => {
    const issuer = `http://127.0.0.1:${port}`;
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: AGENT.id,
          client_secret: AGENT.secret,
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
          scope: 'mcp:tools mcp:admin',
        },
        { client_id: PROXY_CLIENT.id, client_secret: PROXY_CLIENT.secret, grant_types: [], redirect_uris: [], response_types: [] },
      ],
      jwks: { keys },
      scopes: ['mcp:tools', 'mcp:admin'],
      cookies: { keys: ['cookie-key-for-tests'] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: true },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => undefined,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, indicator: string) => {
            const rs = resources.find((r) => r.resource === indicator);
            if (!rs) throw new errors.InvalidTarget();
            return rs.format === 'jwt'
              ? {
                  scope: 'mcp:tools mcp:admin',
                  audience: rs.resource,
                  accessTokenFormat: 'jwt',
                  accessTokenTTL: rs.ttlSeconds ?? 300,
                  jwt: { sign: { alg: 'RS256' } },
                }
              : { scope: 'mcp:tools mcp:admin', audience: rs.resource, accessTokenFormat: 'opaque', accessTokenTTL: rs.ttlSeconds ?? 300 };
          },
        },
      },
    });
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- Koa's callback catches its own errors (ctx.onerror answers 500), so its promise does not reject
    server = http.createServer(provider.callback());
    await new Promise<void>((resolve) => (server as http.Server).listen(port, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  };
  await listen();
  // The issuer needs the port, which the first listen chose: start again under the right name.
  await stop();
  await listen();

  const issuer = `http://127.0.0.1:${port}`;
  const basic = Buffer.from(`${AGENT.id}:${AGENT.secret}`).toString('base64');

  async function stop(): Promise<void> {
    const s = server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  return {
    issuer,
    async token(resource, scope = 'mcp:tools') {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }).toString(),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!body.access_token) throw new Error(`token request failed: ${res.status} ${body.error} ${body.error_description}`);
      return body.access_token;
    },
    async revoke(token) {
      const res = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
      if (res.status !== 200) throw new Error(`revocation failed: ${res.status}`);
    },
    async rotateKeys() {
      keys = [await privateJwk(), ...keys];
      await stop();
      await listen();
    },
    close: stop,
  };
}
