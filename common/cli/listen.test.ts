import { afterEach, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { explainListenError, listen, StartupError } from './listen.ts';

const open: net.Server[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await new Promise((r) => s.close(r));
});

async function occupied(): Promise<number> {
  const s = net.createServer();
  open.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as net.AddressInfo).port;
}

describe('listen', () => {
  it('a port in use is a StartupError naming the flag and its environment variable', async () => {
    const port = await occupied();
    const second = net.createServer();
    open.push(second);
    const err = await listen(second, { host: '127.0.0.1', port, portFlag: 'metrics-port', hostFlag: 'metrics-host', what: 'metrics listener' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toBe(
      `metrics listener: 127.0.0.1:${port} is already in use by another process; choose another port with --metrics-port (or MCPFLEET_METRICS_PORT)`,
    );
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
  });

  it('binds and resolves when the port is free', async () => {
    const s = net.createServer();
    open.push(s);
    await listen(s, { host: '127.0.0.1', port: 0, portFlag: 'port', hostFlag: 'host', what: 'MCP listener' });
    expect((s.address() as net.AddressInfo).port).toBeGreaterThan(0);
  });

  it('explains privileged ports and foreign addresses; anything else stays an ordinary error', () => {
    const t = { host: '10.9.9.9', port: 80, portFlag: 'port', hostFlag: 'host', what: 'MCP listener' };
    const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });
    expect(explainListenError(errno('EACCES'), t)).toMatch(/below 1024.*--port \(or MCPFLEET_PORT\)/);
    expect(explainListenError(errno('EADDRNOTAVAIL'), t)).toMatch(/cannot listen on 10\.9\.9\.9.*--host \(or MCPFLEET_HOST\)/);
    expect(explainListenError(errno('EMFILE'), t)).toBeUndefined();
  });
});
