// Issue 14 item 3: `--backend-service`. Three real streamable-HTTP MCP servers (the SDK's,
// recording every request) on loopback; a real kube-apiserver holding the EndpointSlices of
// their Service; the real proxyrunner CLI discovering them through list+watch.
// The apiserver refuses loopback IPs in EndpointSlices ("may not be in the loopback
// range"), so each backend gets its own FQDN slice `<name>.localhost` with its own port
// (the proxy maps *.localhost to 127.0.0.1, RFC 6761): real slices, real watch events, real
// sockets. Asserted at the upstreams: every request of a session reaches the backend that
// issued it; removing a backend's endpoint ends exactly its sessions (404 to those
// clients, others unaffected); an SDK client re-initializes and carries on; replay mode
// recovers and counts; no ready backend is a counted 503; two proxies sharing Redis route a
// session alike.
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startControlPlane, type ControlPlane } from '../control-plane/controlPlane.ts';
import { McpHttpClient, toolCall } from '../support/mcpHttp.ts';
import { eventually, scrape } from '../support/metrics.ts';
import { startProxy, type ProxyProcess } from '../support/processes.ts';
import { startRecordingBackend, type RecordingBackend } from '../support/recordingBackend.ts';
import { startRedis, type RedisServer } from '../support/redis.ts';
import { BUILD_TIMEOUT_MS } from '../support/kube.ts';

jest.setTimeout(90_000);

const NAMESPACE = 'default';
const agent = new http.Agent({ keepAlive: true });
const cleanups: (() => Promise<void>)[] = [];
let cp: ControlPlane;
let redis: RedisServer;
let backends: RecordingBackend[] = [];

beforeAll(async () => {
  cp = await startControlPlane({ withControllers: false, withKwok: false });
  redis = await startRedis();
}, BUILD_TIMEOUT_MS);
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  for (const backend of backends) await backend.stop();
  backends = [];
});
afterAll(async () => {
  agent.destroy();
  await redis?.stop();
  await cp?.stop();
});

async function kubectl(args: string[], input?: string): Promise<void> {
  const res = await cp.kubectl(args, input === undefined ? {} : { input });
  if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${res.stderr}`);
}

/** One backend's EndpointSlice: its own FQDN address and port, as the Service `service` lists it. */
async function applySlice(service: string, backend: RecordingBackend, ready = true): Promise<void> {
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-${backend.name}`, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'FQDN',
    ports: [{ name: 'mcp', port: backend.port, protocol: 'TCP' }],
    endpoints: [
      { addresses: [`${backend.name}.localhost`], conditions: { ready }, targetRef: { kind: 'Pod', name: `mcp-${backend.name}`, namespace: NAMESPACE } },
    ],
  };
  await kubectl(['apply', '-f', '-'], JSON.stringify(slice));
}

const deleteSlice = (service: string, backend: RecordingBackend): Promise<void> =>
  kubectl(['delete', 'endpointslice', '-n', NAMESPACE, `${service}-${backend.name}`, '--wait=false']);

/** Three backends, their slices under a fresh Service name, and `count` proxies in front. */
async function setUp(count: number, extra: string[] = []): Promise<{ service: string; proxies: ProxyProcess[] }> {
  backends = await Promise.all(['a', 'b', 'c'].map((name) => startRecordingBackend(name)));
  const service = `mcp-${randomUUID().slice(0, 8)}`;
  for (const backend of backends) await applySlice(service, backend);
  const args = [
    '--transport',
    'streamable-http',
    '--target-url',
    'http://backends.invalid:3001/mcp',
    '--backend-service',
    service,
    '--backend-port',
    'mcp',
    ...extra,
  ];
  const env = { KUBECONFIG: cp.kubeconfigPath, POD_NAMESPACE: NAMESPACE };
  const proxies = await Promise.all(Array.from({ length: count }, () => startProxy(args, { env })));
  for (const proxy of proxies) cleanups.push(() => proxy.stop());
  for (const proxy of proxies) await waitReadyBackends(proxy, 3);
  return { service, proxies };
}

async function metric(proxy: ProxyProcess, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  return (await scrape(proxy.metricsUrl)).value(name, labels);
}

const waitReadyBackends = (proxy: ProxyProcess, n: number): Promise<void> =>
  eventually(async () => expect(await metric(proxy, 'mcpfleet_proxy_backends_ready')).toBe(n));

const client = (proxy: ProxyProcess): McpHttpClient => new McpHttpClient(proxy.mcpUrl, agent);

/** The backend that issued this session ID. */
const owner = (sessionId: string): RecordingBackend => {
  const found = backends.find((b) => b.issued.has(sessionId));
  if (!found) throw new Error(`no backend issued ${sessionId}`);
  return found;
};

/** Every request carrying a session ID reached the backend that issued it. */
function expectAllRequestsAtOwners(): void {
  for (const backend of backends) {
    const foreign = backend.seen.filter((s) => s.sessionId !== undefined && !backend.issued.has(s.sessionId));
    expect(foreign).toEqual([]);
  }
}

async function echo(proxy: ProxyProcess, sessionId: string, message: string): Promise<{ status: number; text: string | undefined }> {
  const res = await client(proxy).request('POST', toolCall(7, 'echo', { message }), sessionId);
  if (res.status !== 200) return { status: res.status, text: undefined };
  const parsed = JSON.parse(res.body) as { result?: { content?: { text?: string }[] } };
  return { status: 200, text: parsed.result?.content?.[0]?.text };
}

describe('backend replicas (--backend-service) over a real apiserver', () => {
  it('spreads initialize by least sessions and pins every request of a session to the pod that issued it', async () => {
    const { proxies } = await setUp(1);
    const [proxy] = proxies as [ProxyProcess];
    const sessions: string[] = [];
    for (let i = 0; i < 9; i++) sessions.push(await client(proxy).initialize());
    for (const backend of backends) expect(backend.issued.size).toBe(3);
    for (let round = 0; round < 3; round++) {
      for (const id of sessions) expect(await echo(proxy, id, `m${round}`)).toEqual({ status: 200, text: `${owner(id).name}: m${round}` });
    }
    expectAllRequestsAtOwners();
    for (const backend of backends)
      expect(await metric(proxy, 'mcpfleet_proxy_backend_sessions', { backend: `mcp-${backend.name}@${backend.name}.localhost:${backend.port}` })).toBe(3);
    // A DELETE goes to the owner as well, and ends the session there.
    const gone = sessions[0] as string;
    expect((await client(proxy).request('DELETE', undefined, gone)).status).toBe(200);
    expect(owner(gone).seen.at(-1)).toEqual({ sessionId: gone, method: 'DELETE', rpcMethod: undefined });
    expectAllRequestsAtOwners();
  });

  it('spreads requests without a session (stateless) over the ready pods, round-robin', async () => {
    const { proxies } = await setUp(1);
    const [proxy] = proxies as [ProxyProcess];
    for (let i = 0; i < 6; i++) await client(proxy).request('POST', JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/list' }));
    for (const backend of backends) expect(backend.seen.filter((s) => s.rpcMethod === 'tools/list' && s.sessionId === undefined)).toHaveLength(2);
  });

  it('ends exactly the sessions of a backend whose endpoint is removed or not ready: 404 to those clients, the others unaffected', async () => {
    const { service, proxies } = await setUp(1);
    const [proxy] = proxies as [ProxyProcess];
    const sessions: string[] = [];
    for (let i = 0; i < 6; i++) sessions.push(await client(proxy).initialize());
    const [a, b, c] = backends as [RecordingBackend, RecordingBackend, RecordingBackend];
    await deleteSlice(service, b);
    await waitReadyBackends(proxy, 2);
    await eventually(async () => expect(await metric(proxy, 'mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' })).toBe(2));
    const seenByB = b.seen.length;
    for (const id of sessions) {
      const answer = await echo(proxy, id, 'after');
      if (owner(id) === b) expect(answer.status).toBe(404);
      else expect(answer).toEqual({ status: 200, text: `${owner(id).name}: after` });
    }
    expect(b.seen.length).toBe(seenByB); // nothing more reached the removed backend
    // Not ready (the pod is failing its probe, or terminating) counts the same as removed.
    await applySlice(service, c, false);
    await waitReadyBackends(proxy, 1);
    await eventually(async () => expect(await metric(proxy, 'mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' })).toBe(4));
    for (const id of sessions.filter((s) => owner(s) === a)) expect((await echo(proxy, id, 'still')).status).toBe(200);
    // New sessions go to the one ready backend.
    const fresh = await client(proxy).initialize();
    expect(owner(fresh)).toBe(a);
    expect(await metric(proxy, 'mcpfleet_proxy_sessions_active')).toBe(3);
    expectAllRequestsAtOwners();
  });

  it('an SDK client whose backend went away gets 404, re-initializes on a live pod and carries on', async () => {
    const { service, proxies } = await setUp(1);
    const [proxy] = proxies as [ProxyProcess];
    const sdk = new Client({ name: 'mcpfleet-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(proxy.mcpUrl));
    await sdk.connect(transport);
    const first = (await sdk.callTool({ name: 'echo', arguments: { message: 'one' } })) as { content: { text: string }[] };
    const home = owner(transport.sessionId as string);
    expect(first.content[0]?.text).toBe(`${home.name}: one`);
    await deleteSlice(service, home);
    await waitReadyBackends(proxy, 2);
    const failed = await sdk.callTool({ name: 'echo', arguments: { message: 'two' } }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failed).toBeInstanceOf(StreamableHTTPError);
    expect((failed as StreamableHTTPError).code).toBe(404);
    await sdk.close();
    // What the specification asks of the client: a new session, without the old ID.
    const again = new Client({ name: 'mcpfleet-test', version: '1.0.0' });
    const retry = new StreamableHTTPClientTransport(new URL(proxy.mcpUrl));
    await again.connect(retry);
    const next = (await again.callTool({ name: 'echo', arguments: { message: 'three' } })) as { content: { text: string }[] };
    const newHome = owner(retry.sessionId as string);
    expect(newHome).not.toBe(home);
    expect(next.content[0]?.text).toBe(`${newHome.name}: three`);
    await again.close();
    expectAllRequestsAtOwners();
  });

  it('--session-recovery replay re-initializes a lost session on a live pod, replays the request and counts it', async () => {
    const { service, proxies } = await setUp(1, ['--session-recovery', 'replay']);
    const [proxy] = proxies as [ProxyProcess];
    const sessions: string[] = [];
    for (let i = 0; i < 3; i++) sessions.push(await client(proxy).initialize());
    const lostId = sessions.find((id) => owner(id).name === 'b') as string;
    const b = owner(lostId);
    await deleteSlice(service, b);
    await waitReadyBackends(proxy, 2);
    const answer = await echo(proxy, lostId, 'replayed');
    expect(answer.status).toBe(200);
    const newHome = backends.find(
      (x) => x !== b && x.seen.some((s) => s.rpcMethod === 'tools/call' && s.sessionId !== undefined && !sessions.includes(s.sessionId)),
    );
    expect(newHome).toBeDefined();
    expect(answer.text).toBe(`${(newHome as RecordingBackend).name}: replayed`);
    // The new pod saw the client's initialize, notifications/initialized, then the call, under its own ID.
    const upstreamId = [...(newHome as RecordingBackend).issued].find((id) => !sessions.includes(id)) as string;
    expect((newHome as RecordingBackend).seen.filter((s) => s.sessionId === upstreamId).map((s) => s.rpcMethod)).toEqual([
      'notifications/initialized',
      'tools/call',
    ]);
    expect(await metric(proxy, 'mcpfleet_proxy_session_recoveries_total', { result: 'recovered' })).toBe(1);
    // It carries on there, still under the client's ID; the others were never touched.
    expect(await echo(proxy, lostId, 'again')).toEqual({ status: 200, text: `${(newHome as RecordingBackend).name}: again` });
    for (const id of sessions.filter((s) => s !== lostId)) expect((await echo(proxy, id, 'x')).text).toBe(`${owner(id).name}: x`);
    expect(await metric(proxy, 'mcpfleet_proxy_session_recoveries_total', { result: 'recovered' })).toBe(1);
    expect(await metric(proxy, 'mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' })).toBe(0);
  });

  it('replay with two proxies sharing Redis: a session is moved once, and the other proxy follows the new pin', async () => {
    const prefix = `rp-${randomUUID().slice(0, 8)}`;
    const { service, proxies } = await setUp(2, [
      '--session-recovery',
      'replay',
      '--session-storage',
      'redis',
      '--redis-address',
      redis.address,
      '--redis-key-prefix',
      prefix,
    ]);
    const [p1, p2] = proxies as [ProxyProcess, ProxyProcess];
    const id = await client(p1).initialize();
    const home = owner(id);
    expect((await echo(p2, id, 'cached')).text).toBe(`${home.name}: cached`); // p2 now holds a fresh copy with the old pin
    const issuedBefore = backends.reduce((n, b) => n + b.issued.size, 0);
    await deleteSlice(service, home);
    await waitReadyBackends(p1, 2);
    await waitReadyBackends(p2, 2);
    const moved = await echo(p1, id, 'on p1');
    expect(moved.status).toBe(200);
    const newHome = backends.find((b) => moved.text === `${b.name}: on p1`) as RecordingBackend;
    expect(newHome).toBeDefined();
    expect(await echo(p2, id, 'on p2')).toEqual({ status: 200, text: `${newHome.name}: on p2` });
    expect(backends.reduce((n, b) => n + b.issued.size, 0)).toBe(issuedBefore + 1); // re-initialized once in the fleet
    let recovered = 0;
    for (const proxy of proxies) recovered += (await metric(proxy, 'mcpfleet_proxy_session_recoveries_total', { result: 'recovered' })) ?? 0;
    expect(recovered).toBe(1);
  });

  it('answers 503 with a reason, counted, when no backend pod is ready', async () => {
    const { service, proxies } = await setUp(1);
    const [proxy] = proxies as [ProxyProcess];
    for (const backend of backends) await deleteSlice(service, backend);
    await waitReadyBackends(proxy, 0);
    const res = await client(proxy).request('POST', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }));
    expect(res.status).toBe(503);
    expect(res.body).toContain('no backend pod is ready');
    expect(await metric(proxy, 'mcpfleet_proxy_requests_rejected_total', { reason: 'no_ready_backend' })).toBe(1);
    const ready = await fetch(`http://127.0.0.1:${proxy.metricsPort}/readyz`);
    expect(ready.status).toBe(503);
    await ready.text();
  });

  it('two proxies sharing Redis route a session to the same pod, and end it alike when the pod goes', async () => {
    const prefix = `bk-${randomUUID().slice(0, 8)}`;
    const { service, proxies } = await setUp(2, ['--session-storage', 'redis', '--redis-address', redis.address, '--redis-key-prefix', prefix]);
    const [p1, p2] = proxies as [ProxyProcess, ProxyProcess];
    const sessions: string[] = [];
    for (let i = 0; i < 6; i++) sessions.push(await client(i % 2 ? p2 : p1).initialize());
    for (const id of sessions) {
      expect(await echo(p2, id, 'two')).toEqual({ status: 200, text: `${owner(id).name}: two` });
      expect(await echo(p1, id, 'one')).toEqual({ status: 200, text: `${owner(id).name}: one` });
    }
    expectAllRequestsAtOwners();
    const b = backends[1] as RecordingBackend;
    await deleteSlice(service, b);
    await waitReadyBackends(p1, 2);
    await waitReadyBackends(p2, 2);
    for (const id of sessions) {
      const answer = await echo(p2, id, 'after');
      expect(answer.status).toBe(owner(id) === b ? 404 : 200);
    }
    let closed = 0;
    for (const proxy of proxies) closed += (await metric(proxy, 'mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' })) ?? 0;
    expect(closed).toBe(2); // each session of the removed pod closed once in the fleet
  });
});
