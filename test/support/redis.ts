// A real redis-server (Debian's package, put there by test/support/install-redis.sh, which
// `make test` runs) for the session-storage tests: one process per test file, on a free
// loopback port, its files in a temp dir (never a system path), append-only with fsync on
// every write so a SIGKILL and restart on the same port keep the table, as a persistent
// Redis in a cluster would.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, track, waitForPort, type Running } from './processes.ts';

export interface RedisServer {
  port: number;
  address: string;
  /** SIGKILL: the abrupt failure a proxy must ride out. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data dir. */
  restart(): Promise<void>;
  /** redis-cli against it (for assertions). */
  cli(...args: string[]): string;
  stop(): Promise<void>;
}

function redisServerBinary(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('redis-server is not installed: run `bash test/support/install-redis.sh` (make test does)');
  }
}

export async function startRedis(): Promise<RedisServer> {
  const binary = redisServerBinary();
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'mcpfleet-redis-'));
  let running: Running | undefined;
  const launch = async (): Promise<void> => {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--protected-mode',
      'yes',
      '--logfile',
      '',
    ];
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running = track(child, port);
    await waitForPort(port, 15_000, child);
  };
  await launch();
  return {
    port,
    address: `127.0.0.1:${port}`,
    async kill() {
      const child = running?.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    restart: launch,
    cli: (...args) => execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' }).trim(),
    async stop() {
      await running?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
