// bench:peers' wire check: what each proxy actually sends its upstream for the same
// tools/call load, and what the upstream costs. A TCP relay on loopback (Nagle off, so it
// adds no delayed-ACK stalls) sits between the target and a fresh server-everything
// (streamable HTTP) and counts upstream connections, requests and bytes; CPU per request
// is read from /proc for the upstream and the proxy and from process.cpuUsage() for the
// load generator. `--dump` prints one tools/call request and its response byte for byte.
// Written to explain why server-everything costs less per request behind ToolHive's proxy
// (see the README's bench:peers section for the finding).
//
//   node bench/peers/wire.ts [--order proxyrunner,toolhive,direct] [--concurrency 50]
//                            [--seconds 5] [--dump]
import net from 'node:net';
import { parseArgs } from 'node:util';
import { freePort, startEverything, startProxy } from '../../test/support/processes.ts';
import { cpuTicks, toolCallLoad } from '../load/toolCalls.ts';
import { ensureToolhiveProxy, startToolhiveProxy } from './toolhive.ts';

const { values } = parseArgs({
  options: {
    order: { type: 'string', default: 'proxyrunner,toolhive,direct' },
    concurrency: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '5' },
    dump: { type: 'boolean', default: false },
  },
});

interface Wire {
  connections: number;
  maxOpen: number;
  requests: number;
  /** Per request: ms from its first byte upstream to the end of its answer (no pipelining, so one at a time per connection). */
  latencies: number[];
  /** The first bytes each way of the connection that carried the first tools/call. */
  sample: { up: string; down: string } | undefined;
}

/** A byte-for-byte relay to `targetPort` that records what crosses it (first 64 KiB of one connection). */
async function relay(targetPort: number): Promise<{ port: number; wire: Wire; close(): void }> {
  const wire: Wire = { connections: 0, maxOpen: 0, requests: 0, latencies: [], sample: undefined };
  let open = 0;
  const server = net.createServer((client) => {
    wire.connections++;
    wire.maxOpen = Math.max(wire.maxOpen, ++open);
    client.once('close', () => open--);
    const upstream = net.connect(targetPort, '127.0.0.1');
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const record = { up: '', down: '' };
    let sentAt: number | undefined;
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      wire.requests += (text.match(/^(?:POST|GET|DELETE) \/|(?<=\S)(?:POST|GET|DELETE) \/mcp HTTP\/1\.1\r\n/gm) ?? []).length;
      sentAt ??= performance.now();
      if (!wire.sample && text.includes('"tools/call"')) wire.sample = record;
      if (record.up.length < 65_536) record.up += text;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (sentAt !== undefined && (text.endsWith('0\r\n\r\n') || !text.includes('chunked'))) {
        wire.latencies.push(performance.now() - sentAt);
        sentAt = undefined;
      }
      if (record.down.length < 65_536) record.down += text;
      client.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, wire, close: () => server.close() };
}

const toolhive = ensureToolhiveProxy();
for (const target of values.order.split(',')) {
  const upstream = await startEverything('streamableHttp');
  const wired = await relay(upstream.port);
  const upstreamUrl = `http://127.0.0.1:${wired.port}/mcp`;
  let proxy: { url: string; pid: number; stop(): Promise<void> } | undefined;
  if (target === 'proxyrunner') {
    const p = await startProxy(['--transport', 'streamable-http', '--target-url', upstreamUrl, '--log-level', 'warn']);
    proxy = { url: p.mcpUrl, pid: p.child.pid as number, stop: () => p.stop() };
  } else if (target === 'toolhive') {
    const p = await startToolhiveProxy(toolhive, upstreamUrl);
    proxy = { url: p.mcpUrl, pid: p.child.pid as number, stop: () => p.stop() };
  }
  const upstreamPid = upstream.child.pid as number;
  const ticks = cpuTicks(upstreamPid);
  const ownCpu = process.cpuUsage();
  const [result] = await toolCallLoad([{ url: proxy?.url ?? upstreamUrl, label: target, ...(proxy ? { pid: proxy.pid } : {}) }], Number(values.concurrency), {
    warmupSeconds: 1,
    seconds: Number(values.seconds),
  });
  const upstreamMs = ((cpuTicks(upstreamPid) - ticks) * 10) / Math.max(1, wired.wire.requests);
  const own = process.cpuUsage(ownCpu);
  const r = result as NonNullable<typeof result>;
  console.log(
    JSON.stringify({
      target,
      rps: Math.round(r.rps),
      p50Ms: Math.round(r.p50),
      upstreamP50Ms: Math.round(wired.wire.latencies.sort((a, b) => a - b)[Math.floor(wired.wire.latencies.length / 2)] ?? NaN),
      upstreamRequests: wired.wire.requests,
      upstreamConnections: wired.wire.connections,
      maxOpenUpstreamConnections: wired.wire.maxOpen,
      upstreamCpuMsPerRequest: Number(upstreamMs.toFixed(2)),
      proxyCpuMsPerRequest: r.cpuUsPerRequest === undefined ? undefined : Number((r.cpuUsPerRequest / 1000).toFixed(2)),
      loadGeneratorCpuMsPerRequest: Number(((own.user + own.system) / 1000 / Math.max(1, wired.wire.requests)).toFixed(2)),
    }),
  );
  if (values.dump && wired.wire.sample) {
    const { up, down } = wired.wire.sample;
    const at = up.indexOf('"tools/call"');
    const start = up.lastIndexOf('POST /', at);
    console.log(`  upstream request:  ${JSON.stringify(up.slice(start, up.indexOf('}}}', at) + 3))}`);
    const answer = down.indexOf('"Echo: bench"');
    console.log(`  upstream response: ${JSON.stringify(down.slice(down.lastIndexOf('HTTP/1.1 ', answer), down.indexOf('\r\n\r\n', answer) + 4))}`);
  }
  await proxy?.stop();
  wired.close();
  await upstream.stop();
}
process.exit(0);
