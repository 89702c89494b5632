// pods/attach over the WebSocket channel protocol, against a fake apiserver on loopback that
// speaks it for real (test/support/fakeApiserver.ts): first the client in common/kube/attach.ts
// on its own (subprotocol negotiation and fallback, framing in both directions, the status
// channel, half-close, refusals, oversized frames), then a real proxyrunner in attach mode
// carrying MCP sessions (initialize → tools/call → DELETE) to a real stdio MCP server that the
// fake runs as the "container"; and a proxyrunner attached to three such pods at once
// (--attach-max-pods, the operator's stdio backendReplicas), each pod its own real stdio MCP
// server process, asserted at the pods' stdin. kwok has no kubelet, so the real-apiserver
// test (podAttach.test.ts) cannot carry a stream; this one can.
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { writeFile, mkdtemp } from 'node:fs/promises';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { attach, frame, describeEnd, type AttachRequest } from '../../common/kube/attach.ts';
import type { ClusterAccess } from '../../common/kube/kubeconfig.ts';
import { channelFrame, fakeKubeconfig, startFakeApiserver, type FakeApiserver } from '../support/fakeApiserver.ts';
import { eventually, scrape } from '../support/metrics.ts';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connect, type Connected } from '../support/sdk.ts';
import { everythingStdioCommand, startProxy, type ProxyProcess } from '../support/processes.ts';

jest.setTimeout(60_000);

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function fake(options: Parameters<typeof startFakeApiserver>[0]): Promise<FakeApiserver> {
  const api = await startFakeApiserver(options);
  open.push(api);
  api.pods.push({ name: 'mcp-0', labels: { app: 'demo' } });
  return api;
}

const access = (url: string, token?: string): ClusterAccess => ({
  server: url,
  insecureSkipTLSVerify: false,
  namespace: 'ns',
  credentials: async () => (token === undefined ? {} : { token }),
  source: 'test',
});

const request: AttachRequest = { namespace: 'ns', pod: 'mcp-0', container: 'mcp', connectTimeoutMs: 5_000, maxFrameBytes: 64 * 1024 };

function collect(stream: NodeJS.ReadableStream): () => string {
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return () => text;
}

describe('attach client (WebSocket channel protocol)', () => {
  it('negotiates v5, sends stdin frames and the stdin half-close, demultiplexes stdout/stderr, and reports the status', async () => {
    const api = await fake({
      token: 's3cret',
      onAttach: (s) => {
        s.socket.on('message', (data: Buffer) => {
          if (data[0] === 255) {
            // stdin closed: answer on both output channels, then end like a container that failed.
            s.socket.send(channelFrame(1, 'out:'));
            s.socket.send(channelFrame(1, Buffer.concat(s.stdin).toString('utf8')));
            s.socket.send(channelFrame(2, 'a warning'));
            s.socket.send(
              channelFrame(3, JSON.stringify({ status: 'Failure', reason: 'NonZeroExitCode', message: 'command terminated with exit code 3' })),
              () => s.socket.close(1000),
            );
          }
        });
      },
    });
    const stream = await attach(access(api.url, 's3cret'), request);
    expect(stream.protocol).toBe('v5.channel.k8s.io');
    const stdout = collect(stream.stdout);
    const stderr = collect(stream.stderr);
    stream.stdin.write('hello ');
    stream.stdin.end('world');
    const how = await stream.ended;
    expect(stdout()).toBe('out:hello world');
    expect(stderr()).toBe('a warning');
    expect(how).toBe('closed (1000): NonZeroExitCode: command terminated with exit code 3');
    const session = api.sessions[0]!;
    expect(session.stdin.map(String)).toEqual(['hello ', 'world']);
    expect(session.halfClosed).toEqual([0]);
    expect(session.authorization).toBe('Bearer s3cret');
    expect(Object.fromEntries(session.query)).toEqual({ container: 'mcp', stdin: 'true', stdout: 'true', stderr: 'true' });
    expect(stream.stdin.destroyed).toBe(true);
  });

  it('falls back to v4 (no half-close frame: ending stdin sends nothing)', async () => {
    const api = await fake({ protocols: ['v4.channel.k8s.io'] });
    const stream = await attach(access(api.url), request);
    expect(stream.protocol).toBe('v4.channel.k8s.io');
    stream.stdin.end('x');
    await eventually(async () => expect(api.sessions[0]?.stdin.map(String)).toEqual(['x']));
    stream.close();
    expect(await stream.ended).toBe('closed (1000)');
    expect(api.sessions[0]!.halfClosed).toEqual([]);
  });

  it('says why when the server speaks neither protocol, refuses the upgrade, or the pod is missing', async () => {
    const old = await fake({ protocols: ['channel.k8s.io'] });
    await expect(attach(access(old.url), request)).rejects.toThrow(/Server sent no subprotocol/);
    const guarded = await fake({ token: 'right' });
    await expect(attach(access(guarded.url, 'wrong'), request)).rejects.toThrow('refused: HTTP 401: Unauthorized');
    await expect(attach(access(guarded.url, 'right'), { ...request, pod: 'gone' })).rejects.toThrow('refused: HTTP 404: pods "gone" not found');
  });

  it('ends the stream on a frame over the limit, before buffering it', async () => {
    const api = await fake({ onAttach: (s) => s.socket.send(channelFrame(1, Buffer.alloc(request.maxFrameBytes + 1, 0x61))) });
    const stream = await attach(access(api.url), request);
    const stdout = collect(stream.stdout);
    expect(await stream.ended).toMatch(/^closed \(10\d\d\): Max payload size exceeded$/);
    expect(stdout()).toBe('');
  });

  it('times out an opening that never gets an answer', async () => {
    const net = await import('node:net');
    const sockets: Socket[] = [];
    const silent = net.createServer((socket) => void sockets.push(socket)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    open.push({ close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), silent.close(() => r()))) });
    const port = (silent.address() as { port: number }).port;
    await expect(attach(access(`http://127.0.0.1:${port}`), { ...request, connectTimeoutMs: 300 })).rejects.toThrow(/timed out|did not open within 300 ms/);
  });

  it('frames and words', () => {
    expect([...frame(0, Buffer.from('ab'))]).toEqual([0, 0x61, 0x62]);
    expect(describeEnd(undefined, 1006, '')).toBe('closed (1006)');
    expect(describeEnd({ status: 'Success' }, 1000, '')).toBe('closed (1000): Success');
  });
});

describe('proxyrunner in attach mode over the fake apiserver', () => {
  async function attachProxy(api: FakeApiserver, token?: string): Promise<ProxyProcess> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'attach-'));
    const kubeconfig = path.join(dir, 'config');
    await writeFile(kubeconfig, fakeKubeconfig(api.url, token));
    const proxy = await startProxy(['--transport', 'stdio', '--attach-selector', 'app=demo', '--attach-namespace', 'ns'], { env: { KUBECONFIG: kubeconfig } });
    open.push({ close: () => proxy.stop() });
    return proxy;
  }

  it('carries initialize → tools/call → DELETE to a real stdio MCP server in the "pod", and reattaches when it dies', async () => {
    const api = await fake({ token: 'sa-token', container: everythingStdioCommand() });
    api.pods.push({ name: 'other-0', labels: { app: 'other' } });
    const proxy = await attachProxy(api, 'sa-token');
    await eventually(
      async () =>
        expect(proxy.stderr()).toContain(
          '"msg":"attached to stdio server pod","component":"proxyrunner","namespace":"ns","pod":"mcp-0","container":"mcp","protocol":"v5.channel.k8s.io"',
        ),
      20_000,
    );
    expect(api.requests[0]).toBe('GET /api/v1/namespaces/ns/pods?labelSelector=app%3Ddemo&limit=500');

    const a = await connect(proxy.mcpUrl);
    const b = await connect(proxy.mcpUrl);
    const [ra, rb] = await Promise.all([
      a.client.callTool({ name: 'echo', arguments: { message: 'from a' } }),
      b.client.callTool({ name: 'echo', arguments: { message: 'from b' } }),
    ]);
    expect(ra.content).toEqual([{ type: 'text', text: 'Echo: from a' }]);
    expect(rb.content).toEqual([{ type: 'text', text: 'Echo: from b' }]);
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_active')).toBe(2);
    await a.end();
    await eventually(async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_active')).toBe(1));

    // The container dies (its status comes on the error channel): b's session ends with it,
    // the proxy reattaches to a new container, and a new session works.
    api.containers[0]!.kill('SIGKILL');
    await eventually(
      async () => expect(proxy.stderr()).toMatch(/"reason":"attach to pod mcp-0 closed \(1000\): NonZeroExitCode: container exited \(SIGKILL\)"/),
      20_000,
    );
    await eventually(async () => expect(api.sessions).toHaveLength(2), 20_000);
    await eventually(async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_upstream_up')).toBe(1), 20_000);
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_active')).toBe(0);
    const c = await connect(proxy.mcpUrl);
    expect((await c.client.callTool({ name: 'echo', arguments: { message: 'again' } })).content).toEqual([{ type: 'text', text: 'Echo: again' }]);
    await c.end();
    await b.client.close();
  });

  it('is not ready, and says why, when the apiserver refuses its credentials', async () => {
    const api = await fake({ token: 'right' });
    const proxy = await attachProxy(api, 'wrong');
    await eventually(
      async () => expect(proxy.stderr()).toMatch(/"msg":"stdio attach: listing or watching the pods failed; retrying".*"err":"Unauthorized"/),
      20_000,
    );
    const ready = await fetch(proxy.metricsUrl.replace('/metrics', '/readyz'));
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toContain('listing the pods failed: Unauthorized');
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_backend_discovery_errors_total')).toBeGreaterThanOrEqual(1);
  });
});

describe('proxyrunner attached to several pods (stdio backendReplicas)', () => {
  const PODS = ['mcp-0', 'mcp-1', 'mcp-2'];

  async function setUp(): Promise<{ api: FakeApiserver; proxy: ProxyProcess }> {
    const api = await startFakeApiserver({ container: everythingStdioCommand() });
    open.push(api);
    for (const name of PODS) api.pods.push({ name, labels: { app: 'demo' } });
    api.pods.push({ name: 'other-0', labels: { app: 'other' } });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'attach-'));
    const kubeconfig = path.join(dir, 'config');
    await writeFile(kubeconfig, fakeKubeconfig(api.url));
    const proxy = await startProxy(['--transport', 'stdio', '--attach-selector', 'app=demo', '--attach-namespace', 'ns', '--attach-max-pods', '3'], {
      env: { KUBECONFIG: kubeconfig },
    });
    open.push({ close: () => proxy.stop() });
    await eventually(async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_backends_ready')).toBe(3), 30_000);
    return { api, proxy };
  }

  /** Everything the proxy wrote to this pod's stdin, over all its attaches. */
  const stdinOf = (api: FakeApiserver, pod: string): string =>
    api.sessions
      .filter((s) => s.pod === pod)
      .map((s) => Buffer.concat(s.stdin).toString('utf8'))
      .join('');

  const echo = async (c: Connected, message: string): Promise<string | undefined> =>
    ((await c.client.callTool({ name: 'echo', arguments: { message } })) as { content: { text: string }[] }).content[0]?.text;

  /** The one pod whose stdin carried this marker (fails if none or several did). */
  function homeOf(api: FakeApiserver, marker: string): string {
    const homes = PODS.filter((pod) => stdinOf(api, pod).includes(marker));
    expect(homes).toHaveLength(1);
    return homes[0] as string;
  }

  it('spreads sessions over the pods, sends each session only to its pod, and a removed pod ends exactly its sessions', async () => {
    const { api, proxy } = await setUp();
    expect(api.sessions.map((s) => s.pod).sort()).toEqual(PODS); // one attach per pod; other-0 is not selected
    const clients: Connected[] = [];
    for (let i = 0; i < 6; i++) clients.push(await connect(proxy.mcpUrl));
    for (let round = 0; round < 2; round++) for (const [i, c] of clients.entries()) expect(await echo(c, `s${i}-r${round}`)).toBe(`Echo: s${i}-r${round}`);
    const homes = clients.map((_, i) => homeOf(api, `"s${i}-r0"`));
    for (const [i, home] of homes.entries()) expect(homeOf(api, `"s${i}-r1"`)).toBe(home); // pinned for its life
    for (const pod of PODS) expect(homes.filter((h) => h === pod)).toHaveLength(2); // least sessions: 2 each
    const metrics = await scrape(proxy.metricsUrl);
    for (const pod of PODS) expect(metrics.value('mcpfleet_proxy_backend_sessions', { backend: `${pod}@uid-${pod}` })).toBe(2);

    const gone = homes[0] as string;
    const lost = clients.filter((_, i) => homes[i] === gone);
    const kept = clients.filter((_, i) => homes[i] !== gone);
    const closedBefore = metrics.value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' }) ?? 0;
    api.removePod(gone);
    await eventually(async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_backends_ready')).toBe(2), 20_000);
    await eventually(async () => {
      const m = await scrape(proxy.metricsUrl);
      expect((m.value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' }) ?? 0) - closedBefore).toBe(lost.length);
      expect(m.value('mcpfleet_proxy_sessions_active')).toBe(kept.length);
    });
    const attachesOfGone = api.sessions.filter((s) => s.pod === gone).length;
    const goneStdin = stdinOf(api, gone).length;
    for (const [i, c] of kept.entries()) expect(await echo(c, `kept-${i}`)).toBe(`Echo: kept-${i}`);
    for (const c of lost) {
      const failed = await echo(c, 'lost').then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failed).toBeInstanceOf(StreamableHTTPError);
      expect((failed as StreamableHTTPError).code).toBe(404);
      await c.client.close();
    }
    // The clients re-initialize, as the specification says, onto the pods that are left.
    for (let i = 0; i < lost.length; i++) {
      const again = await connect(proxy.mcpUrl);
      clients.push(again);
      expect(await echo(again, `again-${i}`)).toBe(`Echo: again-${i}`);
      expect(homeOf(api, `"again-${i}"`)).not.toBe(gone);
    }
    for (const [i] of kept.entries()) expect(homeOf(api, `"kept-${i}"`)).not.toBe(gone);
    expect(api.sessions.filter((s) => s.pod === gone)).toHaveLength(attachesOfGone); // never reattached
    expect(stdinOf(api, gone).length).toBe(goneStdin); // nothing more reached it
    const after = await scrape(proxy.metricsUrl);
    expect(after.value('mcpfleet_proxy_sessions_active')).toBe(6);
    for (const c of clients) await c.client.close().catch(() => {});
  });

  it('spreads stateless requests over the pods, one proxy-held channel per pod', async () => {
    const { api, proxy } = await setUp();
    for (let i = 0; i < 6; i++) {
      const res = await fetch(proxy.mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' },
        body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: `stateless-${i}` } } }),
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain(`Echo: stateless-${i}`);
    }
    const homes = Array.from({ length: 6 }, (_, i) => homeOf(api, `"stateless-${i}"`));
    for (const pod of PODS) expect(homes.filter((h) => h === pod)).toHaveLength(2);
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_stateless_channels_opened_total')).toBe(3);
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_active')).toBe(0);
  });

  it('a terminating pod (its container still running) is detached at once: exactly its sessions end', async () => {
    const { api, proxy } = await setUp();
    const clients = [await connect(proxy.mcpUrl), await connect(proxy.mcpUrl), await connect(proxy.mcpUrl)];
    for (const [i, c] of clients.entries()) expect(await echo(c, `t${i}`)).toBe(`Echo: t${i}`);
    const homes = clients.map((_, i) => homeOf(api, `"t${i}"`));
    expect(new Set(homes).size).toBe(3);
    api.terminatePod('mcp-1');
    await eventually(async () => {
      const m = await scrape(proxy.metricsUrl);
      expect(m.value('mcpfleet_proxy_backends_ready')).toBe(2);
      expect(m.value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' })).toBe(1);
      expect(m.value('mcpfleet_proxy_sessions_active')).toBe(2);
    }, 20_000);
    for (const [i, c] of clients.entries()) {
      if (homes[i] === 'mcp-1') await expect(echo(c, 'after')).rejects.toMatchObject({ code: 404 });
      else expect(await echo(c, `after-${i}`)).toBe(`Echo: after-${i}`);
    }
    for (const c of clients) await c.client.close();
  });

  it('a pod added later is attached and takes the next sessions', async () => {
    const { api, proxy } = await setUp();
    const first = [await connect(proxy.mcpUrl), await connect(proxy.mcpUrl), await connect(proxy.mcpUrl)];
    api.removePod('mcp-2');
    await eventually(async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_backends_ready')).toBe(2), 20_000);
    api.addPod({ name: 'mcp-2', labels: { app: 'demo' }, uid: 'uid-mcp-2-again' });
    await eventually(async () => expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_backends_ready')).toBe(3), 20_000);
    const next = await connect(proxy.mcpUrl);
    expect(await echo(next, 'to the new pod')).toBe('Echo: to the new pod');
    expect(homeOf(api, '"to the new pod"')).toBe('mcp-2');
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_backend_sessions', { backend: 'mcp-2@uid-mcp-2-again' })).toBe(1);
    for (const c of [...first, next]) await c.client.close();
  });
});
