// PerSessionStdioConnector against in-memory processes: one process per link, closing a
// link kills only its process, a process's exit ends only its link, and the cap refuses.
// The real child processes are exercised in test/proxy/hostile/stdioIsolation.test.ts.
import { describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { silentLogger } from '../../../common/log.ts';
import { createMetrics } from '../metrics.ts';
import { UpstreamAtCapacity } from './link.ts';
import { PerSessionStdioConnector } from './perSessionStdio.ts';
import type { StdioProcess } from './stdio.ts';

interface Fake {
  killed: boolean;
  exit(): void;
}

function launcher(): { processes: Fake[]; launch: () => Promise<StdioProcess> } {
  const processes: Fake[] = [];
  const launch = async (): Promise<StdioProcess> => {
    let exit: (why: string) => void = () => {};
    const exited = new Promise<string>((resolve) => (exit = resolve));
    const fake: Fake = { killed: false, exit: () => exit('exited with code 3') };
    processes.push(fake);
    return {
      stdin: new PassThrough(),
      stdout: new PassThrough(),
      exited,
      kill: () => {
        fake.killed = true;
        exit('killed');
      },
    };
  };
  return { processes, launch };
}

const metrics = () =>
  createMetrics({
    activeSessions: () => 0,
    memoryLimitBytes: undefined,
    info: { version: 't', transport: 'stdio', proxyMode: 'streamable-http' },
    defaultMetrics: false,
  });
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

describe('PerSessionStdioConnector', () => {
  it('gives each link its own process, kills only the closed one, and refuses beyond the cap', async () => {
    const { processes, launch } = launcher();
    const connector = new PerSessionStdioConnector(launch, silentLogger, metrics(), 2);
    const a = await connector.open();
    const b = await connector.open();
    expect(processes).toHaveLength(2);
    await expect(connector.open()).rejects.toBeInstanceOf(UpstreamAtCapacity);
    expect(processes).toHaveLength(2);

    a.close();
    await tick();
    expect(processes.map((p) => p.killed)).toEqual([true, false]);
    expect(connector.processCount).toBe(1);
    const c = await connector.open();
    expect(processes).toHaveLength(3);
    b.close();
    c.close();
    await connector.close();
  });

  it('ends only the link whose process exits, and does not restart it', async () => {
    const { processes, launch } = launcher();
    const connector = new PerSessionStdioConnector(launch, silentLogger, metrics(), 10);
    const a = await connector.open();
    const b = await connector.open();
    const closed: string[] = [];
    a.onclose = () => closed.push('a');
    b.onclose = () => closed.push('b');
    processes[0]?.exit();
    await tick();
    await tick();
    expect(closed).toEqual(['a']);
    await new Promise((r) => setTimeout(r, 400)); // past the shared mode's first restart (250 ms)
    expect(processes).toHaveLength(2); // not restarted
    expect(connector.processCount).toBe(1);
    b.close();
    await connector.close();
  });
});
