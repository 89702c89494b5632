// The operator as it ships: a separate Node process (operator/src/main.ts, or the built
// dist/operator/src/main.js with MCPFLEET_TEST_DIST=1) pointed at a test kubeconfig.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort, ROOT } from './processes.ts';
import { scrape, type Scrape } from './metrics.ts';

export const OPERATOR_SOURCE = path.join(ROOT, 'operator/src/main.ts');
/** The compiled CLI (npm run build), exactly what the image runs. */
export const OPERATOR_DIST = path.join(ROOT, 'dist/operator/src/main.js');
export const OPERATOR_MAIN = process.env['MCPFLEET_TEST_DIST'] === '1' ? OPERATOR_DIST : OPERATOR_SOURCE;

export interface OperatorProcess {
  child: ChildProcess;
  pid: number;
  metricsUrl: string;
  baseUrl: string;
  /** Everything it logged (JSON lines on stderr). */
  logs(): string;
  scrape(): Promise<Scrape>;
  /** API writes other than leader-election Lease writes. */
  writes(): Promise<number>;
  isLeader(): Promise<boolean>;
  /** SIGTERM and wait for exit (SIGKILL after 20 s). Resolves to the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function startOperator(
  kubeconfig: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  main: string = OPERATOR_MAIN,
): Promise<OperatorProcess> {
  const port = await freePort();
  const argv = [main, '--kubeconfig', kubeconfig, '--metrics-host', '127.0.0.1', '--metrics-port', String(port), ...args];
  const child = spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let logs = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    logs = (logs + chunk).slice(-2_000_000);
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      live.delete(child);
      resolve(code);
    });
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const metricsUrl = `${baseUrl}/metrics`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`operator exited (${child.exitCode}) before it was ready:\n${logs}`);
    try {
      const res = await fetch(`${baseUrl}/readyz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`operator not ready after 30 s:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const op: OperatorProcess = {
    child,
    pid: child.pid as number,
    metricsUrl,
    baseUrl,
    logs: () => logs,
    scrape: () => scrape(metricsUrl),
    async writes() {
      const s = await scrape(metricsUrl);
      return s.samples.filter((x) => x.name === 'mcpfleet_operator_api_writes_total' && x.labels['resource'] !== 'leases').reduce((n, x) => n + x.value, 0);
    },
    async isLeader() {
      return (await scrape(metricsUrl)).value('mcpfleet_operator_leader') === 1;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    exited,
  };
  return op;
}
