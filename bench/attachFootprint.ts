// bench:attach — the resident memory of a proxyrunner in stdio attach mode (the operator's
// stdio MCPServers), next to the same proxyrunner spawning the server as a child. The attach
// goes to test/support/fakeApiserver.ts on loopback, which runs server-everything as the
// "container" behind the real WebSocket channel protocol. RSS is read from /proc idle (after
// the attach) and after `--sessions` sessions of initialize → tools/call → DELETE.
//
//   node bench/attachFootprint.ts [--sessions 2000] [--memory-limit 128Mi|none] [--proxyrunner dist/proxyrunner/src/main.js]
//
// --proxyrunner points at another build (e.g. an older commit's dist/) to compare.
import http from 'node:http';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { McpHttpClient, toolCall } from '../test/support/mcpHttp.ts';
import { fakeKubeconfig, startFakeApiserver } from '../test/support/fakeApiserver.ts';
import { everythingStdioCommand, freePort, PROXYRUNNER, track, waitForPort } from '../test/support/processes.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '2000' },
    'memory-limit': { type: 'string', default: '128Mi' },
    proxyrunner: { type: 'string', default: PROXYRUNNER },
    concurrency: { type: 'string', default: '10' },
  },
});

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function measure(label: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const port = await freePort();
  const metricsPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      values.proxyrunner,
      '--host',
      '127.0.0.1',
      '--metrics-host',
      '127.0.0.1',
      '--port',
      String(port),
      '--metrics-port',
      String(metricsPort),
      ...(values['memory-limit'] === 'none' ? [] : ['--memory-limit', values['memory-limit']]),
      '--log-level',
      'warn',
      ...args,
    ],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const proxy = track(child, port);
  try {
    await waitForPort(port, 60_000, child).catch((err: Error) => {
      throw new Error(`${label}: ${err.message}: ${proxy.stderr().slice(-2000)}`);
    });
    // Up means attached (or spawned): wait for it on /readyz.
    for (let i = 0; ; i++) {
      const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`)
        .then((r) => r.status)
        .catch(() => 0);
      if (ready === 200) break;
      if (i > 300 || child.exitCode !== null) throw new Error(`${label}: not ready: ${proxy.stderr().slice(-2000)}`);
      await sleep(100);
    }
    await sleep(3_000);
    const idle = rssMiB(child.pid as number);
    const agent = new http.Agent({ keepAlive: true, maxSockets: Number(values.concurrency) });
    const client = new McpHttpClient(`http://127.0.0.1:${port}/mcp`, agent);
    let next = 0;
    const total = Number(values.sessions);
    const worker = async (): Promise<void> => {
      while (next < total) {
        next++;
        const sid = await client.initialize();
        const res = await client.request('POST', toolCall(2, 'echo', { message: 'hi' }), sid);
        if (res.status !== 200) throw new Error(`tools/call: HTTP ${res.status} ${res.body.slice(0, 200)}`);
        await client.request('DELETE', undefined, sid);
      }
    };
    await Promise.all(Array.from({ length: Number(values.concurrency) }, worker));
    agent.destroy();
    const busy = rssMiB(child.pid as number);
    await sleep(5_000);
    const after = rssMiB(child.pid as number);
    console.log(
      JSON.stringify({
        mode: label,
        idle_rss_mib: Number(idle.toFixed(1)),
        after_traffic_rss_mib: Number(busy.toFixed(1)),
        settled_rss_mib: Number(after.toFixed(1)),
        sessions: total,
      }),
    );
  } finally {
    await proxy.stop();
  }
}

const api = await startFakeApiserver({ container: everythingStdioCommand() });
api.pods.push({ name: 'mcp-0', labels: { app: 'demo' } });
const dir = mkdtempSync(path.join(os.tmpdir(), 'attach-bench-'));
writeFileSync(path.join(dir, 'config'), fakeKubeconfig(api.url));
try {
  await measure('attach', ['--transport', 'stdio', '--attach-selector', 'app=demo', '--attach-namespace', 'ns'], { KUBECONFIG: path.join(dir, 'config') });
  await measure('child', ['--transport', 'stdio', '--', ...everythingStdioCommand()], {});
} finally {
  await api.close();
}
