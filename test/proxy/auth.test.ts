// Authentication at the proxy, end to end over real sockets: a real proxyrunner process, a
// token issuer on loopback (real discovery + JWKS, keys from jose), real MCP upstreams (the
// SDK's server over stdio and streamable HTTP) and a recording upstream that shows what the
// proxy forwards. The matrix: no token, expired, not yet valid, wrong audience, wrong issuer,
// tampered signature, alg none, HS256 keyed with the public key, an unpublished key, rotated
// keys, missing scopes, and valid tokens; the RFC 9728 document and RFC 6750 challenges.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type http from 'node:http';
import { exportSPKI, importJWK, SignJWT, UnsecuredJWT, base64url, type CryptoKey } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { fakeHttpUpstream, readBody, type FakeUpstream } from '../support/fakeUpstream.ts';
import { scrape } from '../support/metrics.ts';
import { everythingStdioCommand, startEchoServer, startProxy, type ProxyProcess, type Running } from '../support/processes.ts';
import { startTestIssuer, type TestIssuer } from '../support/testIssuer.ts';

jest.setTimeout(60_000);

const RESOURCE = 'https://mcp.example.test/mcp';
const PRM_URL = 'https://mcp.example.test/.well-known/oauth-protected-resource/mcp';
const LIST = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });

let issuer: TestIssuer;
let upstream: FakeUpstream;
const seen: { headers: http.IncomingHttpHeaders; body: string }[] = [];
let proxy: ProxyProcess;
const stops: (() => Promise<void>)[] = [];

const authArgs = (extra: string[] = []): string[] => ['--oidc-issuer', issuer.url, '--resource-url', RESOURCE, ...extra];

beforeAll(async () => {
  issuer = await startTestIssuer();
  upstream = await fakeHttpUpstream(async (req, res) => {
    seen.push({ headers: req.headers, body: await readBody(req) });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}');
  });
  proxy = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url, ...authArgs()]);
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await proxy?.stop();
  await upstream?.close();
  await issuer?.close();
});

async function post(
  url: string,
  token: string | undefined,
  body = LIST,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; challenge: string | null; body: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...extraHeaders };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.text() };
}

/** RFC 6750 §3 challenge parameters (auth-param = token "=" quoted-string). */
function challengeParams(header: string | null): Record<string, string> {
  expect(header).toMatch(/^Bearer /);
  const params: Record<string, string> = {};
  for (const m of (header as string).slice('Bearer '.length).matchAll(/([a-z_]+)="([^"\\]*)"(?:, |$)/g)) params[m[1] as string] = m[2] as string;
  // Nothing left unparsed: every parameter is a well-formed quoted string.
  expect(
    Object.entries(params)
      .map(([k, v]) => `${k}="${v}"`)
      .join(', '),
  ).toBe((header as string).slice('Bearer '.length));
  return params;
}

const validClaims = (extra: Record<string, unknown> = {}) => ({ sub: 'alice', aud: RESOURCE, scope: 'mcp:tools', groups: ['eng'], ...extra });

async function expectInvalid(token: string, description: RegExp): Promise<void> {
  const before = seen.length;
  const res = await post(proxy.mcpUrl, token);
  expect(res.status).toBe(401);
  const params = challengeParams(res.challenge);
  expect(params).toMatchObject({ error: 'invalid_token', resource_metadata: PRM_URL });
  expect(params['error_description']).toMatch(description);
  expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_token' });
  expect(seen.length).toBe(before); // refused before the upstream
}

describe('bearer tokens at a streamable-HTTP (transparent) proxy', () => {
  it('answers a request without a token 401 with the resource metadata URL, and forwards nothing', async () => {
    const res = await post(proxy.mcpUrl, undefined);
    expect(res.status).toBe(401);
    // RFC 6750 §3.1: no error code when the request carried no credentials.
    expect(challengeParams(res.challenge)).toEqual({ resource_metadata: PRM_URL });
    const other = await fetch(proxy.mcpUrl, { method: 'POST', headers: { authorization: 'Basic YTpi', 'content-type': 'application/json' }, body: LIST });
    expect(other.status).toBe(401);
    expect(challengeParams(other.headers.get('www-authenticate'))).toEqual({ resource_metadata: PRM_URL });
    expect(seen).toHaveLength(0);
  });

  it('lets a valid token through and never forwards the Authorization header', async () => {
    const token = await issuer.sign(validClaims());
    const res = await post(proxy.mcpUrl, token);
    expect(res.status).toBe(200);
    const last = seen.at(-1);
    expect(last?.body).toBe(LIST);
    expect(last?.headers).not.toHaveProperty('authorization');
    expect(JSON.stringify(last?.headers)).not.toContain(token.slice(-20));
  });

  it('refuses expired and not-yet-valid tokens (beyond the clock skew)', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectInvalid(await issuer.sign(validClaims({ iat: now - 600, exp: now - 120 })), /expired/);
    await expectInvalid(await issuer.sign(validClaims({ nbf: now + 600 })), /not yet valid/);
    // Within the 30 s skew an expired token still passes (clocks differ a little).
    expect((await post(proxy.mcpUrl, await issuer.sign(validClaims({ exp: now - 5 })))).status).toBe(200);
  });

  it('refuses a token for another audience or from another issuer', async () => {
    await expectInvalid(await issuer.sign(validClaims({ aud: 'https://other.example.test/mcp' })), /audience/);
    await expectInvalid(await issuer.sign(validClaims({ iss: 'https://evil.example.test' })), /issuer/);
    const other = await startTestIssuer();
    stops.push(() => other.close());
    await expectInvalid(await other.sign(validClaims({ iss: issuer.url })), /key/); // right iss, someone else's key
  });

  it('refuses a tampered token, alg none, HS256 keyed with the public key, and a token without exp', async () => {
    const token = await issuer.sign(validClaims());
    const [header, , signature] = token.split('.');
    const forged = base64url.encode(JSON.stringify({ ...validClaims({ sub: 'admin' }), iss: issuer.url, exp: Math.floor(Date.now() / 1000) + 300 }));
    await expectInvalid(`${header}.${forged}.${signature}`, /signature/);

    const unsecured = new UnsecuredJWT({ ...validClaims(), iss: issuer.url }).setExpirationTime('5m').encode();
    await expectInvalid(unsecured, /algorithm/);

    const publicKey = (await importJWK(issuer.currentKey().publicJwk, 'RS256')) as CryptoKey;
    const pem = await exportSPKI(publicKey);
    const hs256 = await new SignJWT({ ...validClaims(), iss: issuer.url })
      .setProtectedHeader({ alg: 'HS256', kid: issuer.currentKey().kid })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(pem));
    await expectInvalid(hs256, /algorithm/);

    const noExp = await issuer.sign(validClaims({ exp: undefined }));
    await expectInvalid(noExp, /exp/);
    await expectInvalid('not-a-jwt', /not a JWT/);
  });

  it('refuses a token signed by a key the issuer does not publish, without refetching the JWKS each time', async () => {
    const fetchesBefore = issuer.jwksFetches();
    const stranger = await issuer.unpublishedKey();
    for (let i = 0; i < 5; i++) await expectInvalid(await issuer.sign(validClaims(), { key: stranger }), /key/);
    // The JWKS was fetched well under the 30 s cooldown ago: unknown kids do not refetch it.
    expect(issuer.jwksFetches()).toBe(fetchesBefore);
  });

  it('serves RFC 9728 metadata without authentication at both well-known forms', async () => {
    const origin = new URL(proxy.mcpUrl).origin;
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await fetch(`${origin}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toEqual({ resource: RESOURCE, authorization_servers: [issuer.url], bearer_methods_supported: ['header'] });
    }
  });

  it('counts every decision in mcpfleet_proxy_auth_total and keeps /metrics and /healthz open', async () => {
    const metrics = await scrape(proxy.metricsUrl); // no token: the metrics port is not authenticated
    expect(metrics.value('mcpfleet_proxy_auth_total', { result: 'unauthenticated' })).toBeGreaterThanOrEqual(2);
    expect(metrics.value('mcpfleet_proxy_auth_total', { result: 'invalid_token' })).toBeGreaterThanOrEqual(10);
    expect(metrics.value('mcpfleet_proxy_auth_total', { result: 'allowed' })).toBeGreaterThanOrEqual(2);
    expect(metrics.value('mcpfleet_proxy_auth_total', { result: 'forbidden' })).toBe(0);
    expect((await fetch(proxy.metricsUrl.replace('/metrics', '/healthz'))).status).toBe(200);
    expect(proxy.stderr()).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./); // no token in the logs
  });
});

describe('authentication options', () => {
  it('picks up a rotated key (new kid) without a restart, once the refresh cooldown allows', async () => {
    const p = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url, ...authArgs(['--oidc-jwks-refresh-cooldown', '1s'])]);
    stops.push(() => p.stop());
    const rotating = issuer;
    expect((await post(p.mcpUrl, await rotating.sign(validClaims()))).status).toBe(200);
    const fetches = rotating.jwksFetches();
    const oldKey = rotating.currentKey();
    await rotating.rotate();
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await post(p.mcpUrl, await rotating.sign(validClaims()))).status).toBe(200);
    expect(rotating.jwksFetches()).toBe(fetches + 1);
    // The retired key is gone from the set: its tokens no longer verify.
    const res = await post(p.mcpUrl, await rotating.sign(validClaims({ sub: 'old' }), { key: oldKey }));
    expect(res.status).toBe(401);
  });

  it('answers 403 insufficient_scope when a required scope is missing', async () => {
    const p = await startProxy([
      '--transport',
      'streamable-http',
      '--target-url',
      upstream.url,
      ...authArgs(['--oidc-required-scopes', 'mcp:tools,mcp:admin', '--oidc-scopes', 'openid']),
    ]);
    stops.push(() => p.stop());
    const res = await post(p.mcpUrl, await issuer.sign(validClaims({ scope: 'mcp:tools' })));
    expect(res.status).toBe(403);
    expect(challengeParams(res.challenge)).toMatchObject({ error: 'insufficient_scope', scope: 'mcp:tools mcp:admin', resource_metadata: PRM_URL });
    expect((await post(p.mcpUrl, await issuer.sign(validClaims({ scope: 'mcp:admin mcp:tools' })))).status).toBe(200);
    const doc = await (await fetch(`${new URL(p.mcpUrl).origin}/.well-known/oauth-protected-resource/mcp`)).json();
    expect(doc).toMatchObject({ scopes_supported: ['openid', 'mcp:tools', 'mcp:admin'] });
    const metrics = await scrape(p.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_auth_total', { result: 'forbidden' })).toBe(1);
  });

  it('accepts a configured audience instead of the resource URL', async () => {
    const p = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url, ...authArgs(['--oidc-audience', 'mcp-echo'])]);
    stops.push(() => p.stop());
    expect((await post(p.mcpUrl, await issuer.sign(validClaims({ aud: ['something-else', 'mcp-echo'] })))).status).toBe(200);
    expect((await post(p.mcpUrl, await issuer.sign(validClaims()))).status).toBe(401);
  });

  it('keeps verifying with the last fetched keys while the issuer is down, once they are due for a refresh', async () => {
    const flaky = await startTestIssuer();
    const p = await startProxy([
      '--transport',
      'streamable-http',
      '--target-url',
      upstream.url,
      '--oidc-issuer',
      flaky.url,
      '--resource-url',
      RESOURCE,
      '--oidc-jwks-cache-max-age',
      '1s',
    ]);
    stops.push(() => p.stop());
    expect((await post(p.mcpUrl, await flaky.sign(validClaims({ sub: 'before' })))).status).toBe(200);
    await flaky.close();
    await new Promise((r) => setTimeout(r, 1_100)); // the key set is now stale: jose would refetch and fail
    for (const sub of ['during-1', 'during-2']) expect((await post(p.mcpUrl, await flaky.sign(validClaims({ sub })))).status).toBe(200);
    // Still no key for a kid the issuer never published.
    expect((await post(p.mcpUrl, await flaky.sign(validClaims(), { key: await flaky.unpublishedKey() }))).status).toBe(401);
  });

  it('answers 503 with Retry-After while the issuer cannot be reached', async () => {
    const gone = await startTestIssuer();
    const token = await gone.sign(validClaims());
    const url = gone.url;
    await gone.close();
    const p = await startProxy(['--transport', 'streamable-http', '--target-url', upstream.url, '--oidc-issuer', url, '--resource-url', RESOURCE]);
    stops.push(() => p.stop());
    const res = await fetch(p.mcpUrl, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: LIST });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const metrics = await scrape(p.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_auth_total', { result: 'unavailable' })).toBe(1);
  });
});

describe('MCP SDK clients with a bearer token through every upstream kind', () => {
  const withToken = (token: string): RequestInit => ({ headers: { authorization: `Bearer ${token}` } });

  async function callEcho(url: string, token: string): Promise<unknown> {
    const client = new Client({ name: 'auth-test', version: '1' });
    const transport = url.endsWith('/sse')
      ? new SSEClientTransport(new URL(url), {
          requestInit: withToken(token),
          eventSourceInit: {
            fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${token}` } }),
          },
        })
      : new StreamableHTTPClientTransport(new URL(url), { requestInit: withToken(token) });
    await client.connect(transport);
    try {
      return await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
    } finally {
      if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession();
      await client.close();
    }
  }

  it('stdio upstream (streamable HTTP and SSE frontends)', async () => {
    for (const mode of ['streamable-http', 'sse']) {
      const p = await startProxy(['--transport', 'stdio', '--proxy-mode', mode, ...authArgs()], { command: everythingStdioCommand() });
      stops.push(() => p.stop());
      const result = await callEcho(p.mcpUrl, await issuer.sign(validClaims()));
      expect(result).toMatchObject({ content: [{ type: 'text', text: 'Echo: hi' }] });
      const refused = await fetch(p.mcpUrl, {
        method: mode === 'sse' ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: mode === 'sse' ? undefined : LIST,
      });
      expect(refused.status).toBe(401);
    }
  });

  it('streamable-HTTP upstream (the SDK server)', async () => {
    const echo: Running = await startEchoServer();
    stops.push(() => echo.stop());
    const p = await startProxy(['--transport', 'streamable-http', '--target-url', `http://127.0.0.1:${echo.port}/mcp`, ...authArgs()]);
    stops.push(() => p.stop());
    expect(await callEcho(p.mcpUrl, await issuer.sign(validClaims()))).toMatchObject({ content: [{ type: 'text', text: 'Echo: hi' }] });
  });
});

describe('a session belongs to the principal that started it', () => {
  const INIT = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'auth-test', version: '1' } },
  });
  const INITIALIZED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
  const headers = (token: string, sessionId?: string): Record<string, string> => ({
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(sessionId ? { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' } : {}),
  });

  async function streamableUpstreams(): Promise<ProxyProcess[]> {
    const echo = await startEchoServer();
    stops.push(() => echo.stop());
    const stdio = await startProxy(['--transport', 'stdio', ...authArgs()], { command: everythingStdioCommand() });
    stops.push(() => stdio.stop());
    const http = await startProxy(['--transport', 'streamable-http', '--target-url', `http://127.0.0.1:${echo.port}/mcp`, ...authArgs()]);
    stops.push(() => http.stop());
    return [stdio, http];
  }

  it("refuses another principal's requests and DELETE on it (404), over stdio and streamable-HTTP upstreams", async () => {
    const alice = await issuer.sign(validClaims({ sub: 'alice' }));
    const bob = await issuer.sign(validClaims({ sub: 'bob' }));
    for (const p of await streamableUpstreams()) {
      const init = await fetch(p.mcpUrl, { method: 'POST', headers: headers(alice), body: INIT });
      await init.text();
      const id = init.headers.get('mcp-session-id') as string;
      expect(id).toBeTruthy();
      expect((await fetch(p.mcpUrl, { method: 'POST', headers: headers(alice, id), body: INITIALIZED })).status).toBe(202);
      const stolen = await fetch(p.mcpUrl, { method: 'POST', headers: headers(bob, id), body: LIST });
      expect(stolen.status).toBe(404);
      expect(await stolen.text()).not.toContain('tools');
      expect((await fetch(p.mcpUrl, { method: 'DELETE', headers: headers(bob, id) })).status).toBe(404);
      const own = await fetch(p.mcpUrl, { method: 'POST', headers: headers(alice, id), body: LIST });
      expect(own.status).toBe(200);
      expect(await own.text()).toContain('echo');
      // Alice's own DELETE ends it, and frees the binding.
      expect((await fetch(p.mcpUrl, { method: 'DELETE', headers: headers(alice, id) })).status).toBe(200);
      const metrics = await scrape(p.metricsUrl);
      expect(metrics.value('mcpfleet_proxy_auth_total', { result: 'forbidden' })).toBe(2);
    }
  });

  it("refuses another principal's POSTs into a legacy SSE session", async () => {
    const p = await startProxy(['--transport', 'stdio', '--proxy-mode', 'sse', ...authArgs()], { command: everythingStdioCommand() });
    stops.push(() => p.stop());
    const alice = await issuer.sign(validClaims({ sub: 'alice' }));
    const bob = await issuer.sign(validClaims({ sub: 'bob' }));
    const controller = new AbortController();
    const stream = await fetch(p.mcpUrl, { headers: { authorization: `Bearer ${alice}`, accept: 'text/event-stream' }, signal: controller.signal });
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!/endpoint\ndata: (\S+)/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    const endpoint = new URL((/endpoint\ndata: (\S+)/.exec(text) as RegExpExecArray)[1] as string, p.mcpUrl).href;
    expect((await fetch(endpoint, { method: 'POST', headers: headers(alice), body: INIT })).status).toBe(202);
    expect((await fetch(endpoint, { method: 'POST', headers: headers(bob), body: LIST })).status).toBe(404);
    expect((await fetch(endpoint, { method: 'POST', headers: headers(alice), body: INITIALIZED })).status).toBe(202);
    controller.abort();
  });
});
