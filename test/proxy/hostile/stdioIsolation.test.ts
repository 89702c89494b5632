// --stdio-isolation session over real sockets: each MCP session gets its own stdio server
// process (the fixture reports its pid), DELETE kills only that session's process, a
// process that exits ends only its own session, and sessions beyond --max-sessions are
// refused with 503 + Retry-After rather than evicting a live one.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import path from 'node:path';
import { eventually, scrape } from '../../support/metrics.ts';
import { ROOT, startProxy, type ProxyProcess } from '../../support/processes.ts';
import { INIT_BODY } from '../../support/mcpHttp.ts';
import { callTool, rpcDelete, rpcPost, rpcSession, toolJson } from '../../support/rpcClient.ts';

jest.setTimeout(30_000);

const FIXTURE = [process.execPath, path.join(ROOT, 'test/fixtures/serverRequestsStdio.ts')];

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('--stdio-isolation session', () => {
  let proxy: ProxyProcess;

  beforeAll(async () => {
    proxy = await startProxy(['--transport', 'stdio', '--stdio-isolation', 'session', '--max-sessions', '2', '--log-level', 'warn'], { command: FIXTURE });
  });

  afterAll(async () => {
    await proxy?.stop();
  });

  const pidOf = async (session: string, id: number): Promise<number> =>
    (toolJson(await rpcPost(proxy.mcpUrl, callTool(id, 'pid'), session)) as { pid: number }).pid;

  it('gives each session its own process; DELETE kills only that one; the cap refuses, not evicts', async () => {
    const a = await rpcSession(proxy.mcpUrl);
    const b = await rpcSession(proxy.mcpUrl);
    const pidA = await pidOf(a, 1);
    const pidB = await pidOf(b, 1);
    expect(pidA).not.toBe(pidB);
    expect([pidA, pidB]).not.toContain(proxy.child.pid);
    expect(alive(pidA) && alive(pidB)).toBe(true);

    // A third session would need a third process: refused, and both live sessions stay.
    const third = await rpcPost(proxy.mcpUrl, JSON.parse(INIT_BODY));
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toBe('1');
    expect(third.messages).toEqual([{ jsonrpc: '2.0', id: 1, error: { code: -32000, message: expect.stringMatching(/capacity/) } }]);
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_requests_rejected_total', { reason: 'overloaded' })).toBe(1);

    expect((await rpcDelete(proxy.mcpUrl, a)).status).toBe(200);
    await eventually(async () => expect(alive(pidA)).toBe(false));
    expect(alive(pidB)).toBe(true);
    expect(await pidOf(b, 2)).toBe(pidB);

    // The freed slot admits a new session, with a new process.
    const c = await rpcSession(proxy.mcpUrl);
    const pidC = await pidOf(c, 1);
    expect([pidA, pidB]).not.toContain(pidC);
    for (const s of [b, c]) expect((await rpcDelete(proxy.mcpUrl, s)).status).toBe(200);
    await eventually(async () => expect(alive(pidB) || alive(pidC)).toBe(false));
  });

  it('a process that exits ends only its own session (upstream_closed)', async () => {
    const a = await rpcSession(proxy.mcpUrl);
    const b = await rpcSession(proxy.mcpUrl);
    const pidB = await pidOf(b, 1);
    const before = (await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' }) ?? 0;

    const exited = await rpcPost(proxy.mcpUrl, callTool(2, 'exit'), a);
    expect(exited.messages).toEqual([{ jsonrpc: '2.0', id: 2, error: expect.objectContaining({ message: expect.stringMatching(/stopped|ended/) }) }]);
    await eventually(async () => expect((await rpcPost(proxy.mcpUrl, callTool(3, 'pid'), a)).status).toBe(404));
    expect((await scrape(proxy.metricsUrl)).value('mcpfleet_proxy_sessions_closed_total', { reason: 'upstream_closed' })).toBe(before + 1);
    expect(await pidOf(b, 2)).toBe(pidB);
    expect((await rpcDelete(proxy.mcpUrl, b)).status).toBe(200);
  });
});
