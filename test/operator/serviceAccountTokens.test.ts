// Kubernetes service-account tokens at the proxy (--oidc-type kubernetesServiceAccount),
// against the real test apiserver: its service-account issuer's discovery document and JWKS,
// read by the proxy with its own service account's token (the default
// system:service-account-issuer-discovery binding), and tokens minted by TokenRequest
// (`kubectl create token`). Here, not in the proxy project, because it needs the control plane.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { ensureBinaries, startControlPlane, type ControlPlane } from '../control-plane/controlPlane.ts';
import { fakeHttpUpstream, readBody, type FakeUpstream } from '../support/fakeUpstream.ts';
import { scrape } from '../support/metrics.ts';
import { startProxy, type ProxyProcess } from '../support/processes.ts';

jest.setTimeout(180_000);

const RESOURCE = 'https://echo.agents.example.test/mcp';
const LIST = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });

let cp: ControlPlane;
let upstream: FakeUpstream;
let caFile: string;
const forwarded: (string | undefined)[] = [];
const stops: (() => Promise<void>)[] = [];

async function kubectl(...args: string[]): Promise<string> {
  const res = await cp.kubectl(args);
  if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${res.stderr}`);
  return res.stdout.trim();
}

const tokenFor = (namespace: string, name: string, audience?: string): Promise<string> =>
  kubectl('create', 'token', name, '-n', namespace, '--duration', '10m', ...(audience ? ['--audience', audience] : []));

async function post(url: string, token: string): Promise<{ status: number; challenge: string | null }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
    body: LIST,
  });
  await res.text();
  return { status: res.status, challenge: res.headers.get('www-authenticate') };
}

async function saProxy(proxyTokenFile: string, extra: string[] = []): Promise<ProxyProcess> {
  const p = await startProxy([
    '--transport',
    'streamable-http',
    '--target-url',
    upstream.url,
    '--oidc-type',
    'kubernetesServiceAccount',
    '--oidc-kubernetes-api-url',
    cp.server,
    '--oidc-kubernetes-token-file',
    proxyTokenFile,
    '--oidc-ca-bundle-file',
    caFile,
    '--resource-url',
    RESOURCE,
    ...extra,
  ]);
  stops.push(() => p.stop());
  return p;
}

beforeAll(async () => {
  await ensureBinaries();
  cp = await startControlPlane({ withControllers: false, withKwok: false });
  const kubeconfig = JSON.parse(readFileSync(cp.kubeconfigPath, 'utf8')) as { clusters: { cluster: { 'certificate-authority-data': string } }[] };
  caFile = path.join(cp.dir, 'apiserver-ca-for-proxy.pem');
  writeFileSync(caFile, Buffer.from(kubeconfig.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64'));
  for (const ns of ['agents', 'ci', 'other', 'mcpfleet']) await kubectl('create', 'namespace', ns);
  for (const [ns, sa] of [
    ['agents', 'bot'],
    ['agents', 'intruder'],
    ['ci', 'deployer'],
    ['other', 'bot'],
    ['mcpfleet', 'echo-proxy'],
  ]) {
    await kubectl('create', 'serviceaccount', sa as string, '-n', ns as string);
  }
  upstream = await fakeHttpUpstream(async (req, res) => {
    forwarded.push(req.headers.authorization);
    await readBody(req);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}');
  });
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await upstream?.close();
  await cp?.stop();
});

describe('service-account tokens from the real apiserver', () => {
  let proxy: ProxyProcess;
  beforeAll(async () => {
    const proxyToken = path.join(cp.dir, 'echo-proxy.token');
    writeFileSync(proxyToken, await tokenFor('mcpfleet', 'echo-proxy'));
    proxy = await saProxy(proxyToken, ['--oidc-allowed-service-accounts', 'agents/bot,ci/*']);
  });

  it("accepts allowed accounts' tokens minted for this resource, and does not forward them", async () => {
    const token = await tokenFor('agents', 'bot', RESOURCE);
    expect(decodeJwt(token)).toMatchObject({ sub: 'system:serviceaccount:agents:bot', aud: [RESOURCE], iss: `${cp.server}/` });
    expect((await post(proxy.mcpUrl, token)).status).toBe(200);
    expect((await post(proxy.mcpUrl, await tokenFor('ci', 'deployer', RESOURCE))).status).toBe(200);
    expect(forwarded).toEqual([undefined, undefined]);
  });

  it('refuses other accounts (403) and tokens for another audience (401)', async () => {
    const intruder = await post(proxy.mcpUrl, await tokenFor('agents', 'intruder', RESOURCE));
    expect(intruder.status).toBe(403);
    expect((await post(proxy.mcpUrl, await tokenFor('other', 'bot', RESOURCE))).status).toBe(403);
    // The account's default token is for the apiserver, not for this MCP server.
    const apiserverToken = await post(proxy.mcpUrl, await tokenFor('agents', 'bot'));
    expect(apiserverToken.status).toBe(401);
    expect(apiserverToken.challenge).toMatch(/error="invalid_token", error_description="the token is for another audience"/);
    const metrics = await scrape(proxy.metricsUrl);
    expect(metrics.value('mcpfleet_proxy_auth_total', { result: 'forbidden' })).toBe(2);
    expect(metrics.value('mcpfleet_proxy_auth_total', { result: 'allowed' })).toBe(2);
  });

  it("names the cluster's issuer in the resource metadata", async () => {
    const doc = await (await fetch(`${new URL(proxy.mcpUrl).origin}/.well-known/oauth-protected-resource/mcp`)).json();
    expect(doc).toEqual({ resource: RESOURCE, authorization_servers: [`${cp.server}/`], bearer_methods_supported: ['header'] });
  });

  it("cannot read the issuer's keys without a valid token of its own (503, not a false accept)", async () => {
    const bad = path.join(cp.dir, 'garbage.token');
    writeFileSync(bad, 'not-a-token');
    const p = await saProxy(bad);
    const res = await post(p.mcpUrl, await tokenFor('agents', 'bot', RESOURCE));
    expect(res.status).toBe(503);
    expect(p.stderr()).toMatch(/issuer unavailable/);
  });
});
