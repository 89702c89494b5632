// Authentication against a real OpenID Provider (oidc-provider, see test/support/oidcProvider.ts):
// tokens obtained by the client-credentials grant with a resource indicator, sent through a
// real proxyrunner process to real MCP upstreams. JWT access tokens are verified with the
// provider's discovered JWKS; opaque ones by RFC 7662 introspection as the proxy's own client.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { base64url, UnsecuredJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { silentLogger } from '../../common/log.ts';
import { startProxyRunner } from '../../proxyrunner/src/app.ts';
import { parseConfig } from '../../proxyrunner/src/config.ts';
import { fakeHttpUpstream, readBody, type FakeUpstream } from '../support/fakeUpstream.ts';
import { scrape } from '../support/metrics.ts';
import { everythingStdioCommand, freePort, startProxy, type ProxyProcess } from '../support/processes.ts';
import { AGENT, PROXY_CLIENT, startOidcProvider, type OidcProvider } from '../support/oidcProvider.ts';

jest.setTimeout(60_000);

const RESOURCE = 'https://mcp.example.test/mcp';
const OPAQUE_RESOURCE = 'https://opaque.example.test/mcp';
const SHORT_RESOURCE = 'https://short.example.test/mcp';
const OTHER_RESOURCE = 'https://other.example.test/mcp';
const LIST = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });

let op: OidcProvider;
let upstream: FakeUpstream;
const seenAuthorization: (string | undefined)[] = [];
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  op = await startOidcProvider([
    { resource: RESOURCE, format: 'jwt' },
    { resource: OTHER_RESOURCE, format: 'jwt' },
    { resource: SHORT_RESOURCE, format: 'jwt', ttlSeconds: 1 },
    { resource: OPAQUE_RESOURCE, format: 'opaque' },
  ]);
  upstream = await fakeHttpUpstream(async (req, res) => {
    seenAuthorization.push(req.headers.authorization);
    await readBody(req);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}');
  });
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await upstream?.close();
  await op?.close();
});

async function proxyFor(resource: string, extra: string[] = [], issuer = op.issuer): Promise<ProxyProcess> {
  const p = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url, '--oidc-issuer', issuer, '--resource-url', resource, ...extra]);
  stops.push(() => p.stop());
  return p;
}

async function post(url: string, token: string): Promise<{ status: number; challenge: string | null }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: LIST,
  });
  await res.text();
  return { status: res.status, challenge: res.headers.get('www-authenticate') };
}

describe('JWT access tokens from a real OpenID Provider', () => {
  let proxy: ProxyProcess;
  beforeAll(async () => {
    proxy = await proxyFor(RESOURCE, ['--oidc-required-scopes', 'mcp:tools', '--oidc-jwks-refresh-cooldown', '1s', '--oidc-clock-skew', '0s']);
  });

  it('lets a token issued for this resource through, without passing it on', async () => {
    const token = await op.token(RESOURCE);
    expect(decodeJwt(token)).toMatchObject({ iss: op.issuer, aud: RESOURCE, scope: 'mcp:tools', sub: 'mcp-agent' });
    expect((await post(proxy.mcpUrl, token)).status).toBe(200);
    expect(seenAuthorization.length).toBeGreaterThan(0);
    expect(seenAuthorization).toEqual(seenAuthorization.map(() => undefined));
  });

  it('refuses a token issued for another resource, a tampered one, alg none and an expired one', async () => {
    const other = await op.token(OTHER_RESOURCE);
    expect((await post(proxy.mcpUrl, other)).challenge).toMatch(/error="invalid_token", error_description="the token is for another audience"/);

    const good = await op.token(RESOURCE);
    const [h, p, s] = good.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...claims, scope: 'mcp:tools mcp:admin' }))}.${s}`;
    expect((await post(proxy.mcpUrl, tampered)).status).toBe(401);
    const none = new UnsecuredJWT(claims).encode();
    expect((await post(proxy.mcpUrl, none)).challenge).toMatch(/algorithm/);

    const short = await op.token(SHORT_RESOURCE); // 1 s lifetime, for a proxy of that resource with no skew
    const shortProxy = await proxyFor(SHORT_RESOURCE, ['--oidc-clock-skew', '0s']);
    await new Promise((r) => setTimeout(r, 2_100));
    expect((await post(shortProxy.mcpUrl, short)).challenge).toMatch(/expired/);
  });

  it('refuses a valid token at a proxy that trusts another issuer', async () => {
    const elsewhere = await startOidcProvider([{ resource: RESOURCE, format: 'jwt' }]);
    stops.push(() => elsewhere.close());
    const p = await proxyFor(RESOURCE, [], elsewhere.issuer);
    expect((await post(p.mcpUrl, await op.token(RESOURCE))).status).toBe(401);
    expect((await post(p.mcpUrl, await elsewhere.token(RESOURCE))).status).toBe(200);
  });

  it('answers 403 insufficient_scope for a token without the required scope', async () => {
    const res = await post(proxy.mcpUrl, await op.token(RESOURCE, 'mcp:admin'));
    expect(res.status).toBe(403);
    expect(res.challenge).toMatch(/error="insufficient_scope"/);
  });

  it("picks up the provider's new signing key without a restart", async () => {
    const before = decodeProtectedHeader(await op.token(RESOURCE)).kid;
    await op.rotateKeys();
    await new Promise((r) => setTimeout(r, 1_100)); // past the proxy's 1 s refresh cooldown
    const token = await op.token(RESOURCE);
    expect(decodeProtectedHeader(token).kid).not.toBe(before);
    expect((await post(proxy.mcpUrl, token)).status).toBe(200);
  });

  it('serves an MCP SDK client with a provider token over a stdio upstream', async () => {
    const p = await startProxy(['--transport', 'stdio', '--oidc-issuer', op.issuer, '--resource-url', RESOURCE], { command: everythingStdioCommand() });
    stops.push(() => p.stop());
    const client = new Client({ name: 'oidc-test', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(p.mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${await op.token(RESOURCE)}` } },
    });
    await client.connect(transport);
    expect(await client.callTool({ name: 'echo', arguments: { message: 'from the provider' } })).toMatchObject({
      content: [{ text: 'Echo: from the provider' }],
    });
    await transport.terminateSession();
    await client.close();
  });
});

describe('opaque access tokens by introspection (RFC 7662)', () => {
  it('accepts an active token, refuses a revoked one, and never logs the client secret', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'oidc-'));
    writeFileSync(path.join(dir, 'client-secret'), `${PROXY_CLIENT.secret}\n`);
    const p = await proxyFor(OPAQUE_RESOURCE, [
      '--oidc-introspection-url',
      `${op.issuer}/token/introspection`,
      '--oidc-client-id',
      PROXY_CLIENT.id,
      '--oidc-client-secret-file',
      path.join(dir, 'client-secret'),
    ]);
    const token = await op.token(OPAQUE_RESOURCE);
    expect(token.split('.')).toHaveLength(1); // opaque, not a JWT
    expect((await post(p.mcpUrl, token)).status).toBe(200);

    const revoked = await op.token(OPAQUE_RESOURCE);
    await op.revoke(revoked);
    expect((await post(p.mcpUrl, revoked)).challenge).toMatch(/error="invalid_token", error_description="the token is not active"/);
    // A token for another resource is active, but not for us.
    const jwtForOther = await op.token(OTHER_RESOURCE);
    expect((await post(p.mcpUrl, jwtForOther)).status).toBe(401);
    expect(p.stderr()).not.toContain(PROXY_CLIENT.secret);
    const metrics = await scrape(p.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_auth_total', { result: 'allowed' })).toBe(1);
    expect(metrics.value('mcpfleet_proxy_auth_total', { result: 'invalid_token' })).toBe(2);
  });
});

describe("the MCP SDK client's own OAuth support", () => {
  it("finds the provider from the proxy's 401 and metadata, gets a token by client credentials, and calls a tool", async () => {
    // The SDK checks that the metadata's resource is the URL it connects to, so the proxy's
    // resource URL is its real address: the proxy runs in-process on a port chosen first.
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const provider = await startOidcProvider([{ resource, format: 'jwt' }]);
    stops.push(() => provider.close());
    const config = parseConfig(
      [
        '--transport',
        'stdio',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--metrics-host',
        '127.0.0.1',
        '--metrics-port',
        '0',
        '--oidc-issuer',
        provider.issuer,
        '--resource-url',
        resource,
        '--oidc-scopes',
        'mcp:tools',
        '--',
        ...everythingStdioCommand(),
      ],
      {},
    );
    if (config === 'help') throw new Error('unexpected help');
    const proxy = await startProxyRunner(config, silentLogger);
    stops.push(() => proxy.stop());

    const authProvider = new ClientCredentialsProvider({ clientId: AGENT.id, clientSecret: AGENT.secret, scope: 'mcp:tools' });
    const client = new Client({ name: 'sdk-oauth-test', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(resource), { authProvider });
    await client.connect(transport);
    expect(await client.callTool({ name: 'echo', arguments: { message: 'via OAuth' } })).toMatchObject({ content: [{ text: 'Echo: via OAuth' }] });
    const token = authProvider.tokens()?.access_token as string;
    expect(decodeJwt(token)).toMatchObject({ iss: provider.issuer, aud: resource, scope: 'mcp:tools' });
    await transport.terminateSession();
    await client.close();
  });
});
