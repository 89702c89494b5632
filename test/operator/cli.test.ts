// The operator's command line where it needs no cluster: a metrics port already in use is one
// line naming the flag and its variable (exit 1, no stack trace), before any API call.
import { describe, expect, it, jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { OPERATOR_MAIN } from '../support/operatorProcess.ts';

jest.setTimeout(60_000);
const run = promisify(execFile);

describe('operator command line', () => {
  it('a --metrics-port already in use: exits 1 with one line naming the flag and MCPFLEET_METRICS_PORT', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mcpfleet-operator-cli-'));
    const kubeconfig = path.join(dir, 'config');
    // Never contacted: the listener fails first.
    await writeFile(
      kubeconfig,
      stringify({
        clusters: [{ name: 'c', cluster: { server: 'http://127.0.0.1:9' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const err = (await run(process.execPath, [
        OPERATOR_MAIN,
        '--kubeconfig',
        kubeconfig,
        '--leader-elect=false',
        '--metrics-host',
        '127.0.0.1',
        '--metrics-port',
        String(port),
      ]).catch((e: unknown) => e)) as { code: number; stderr: string };
      expect(err.code).toBe(1);
      const lines = err.stderr.trimEnd().split('\n');
      expect(lines.at(-1)).toBe(
        `mcpfleet-operator: metrics listener: 127.0.0.1:${port} is already in use by another process; choose another port with --metrics-port (or MCPFLEET_METRICS_PORT)`,
      );
      // Everything before it is JSON logs; no stack trace anywhere.
      for (const line of lines.slice(0, -1)) expect((): unknown => JSON.parse(line)).not.toThrow();
      expect(err.stderr).not.toMatch(/^\s+at /m);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
