// bench:http-proxy — the evidence behind choosing http-proxy-3 over http-proxy 1.18.1.
// Both libraries proxy the same upstream, side by side, configured the same minimal way:
//   1. client-disconnect churn: clients open an SSE stream, read one event and vanish;
//      we count the upstream connections each proxy leaves open afterwards;
//   2. abandoned slow POSTs: clients send a request whose answer takes 1.5 s, and leave;
//      we count the upstream requests still open when the clients are long gone;
//   3. a long, quiet SSE stream (one event every 2 s for 10 s) through each proxy, and
//      through each with proxyTimeout set (the http-proxy #921 trap);
//   4. plain JSON POST throughput, to see what the rewrite costs.
//
//   npm run bench:http-proxy -- [--clients 1000]
import http from 'node:http';
import type net from 'node:net';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { createProxyServer as createProxy3 } from 'http-proxy-3';

const require = createRequire(import.meta.url);
// http-proxy 1.18.1 is CommonJS with no ESM entry; it is a devDependency for this comparison only.
const httpProxy1 = require('http-proxy') as { createProxyServer(options: object): LegacyProxy };
interface LegacyProxy {
  web(req: http.IncomingMessage, res: http.ServerResponse, options: object, cb: (err: Error) => void): void;
}

const { values } = parseArgs({ options: { clients: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '5' } } });
const CLIENTS = Number(values.clients);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// --- the upstream: SSE on GET, a slow answer on POST /slow, a quick one on POST ---
let upstreamOpen = 0;
let slowOpen = 0;
const upstream = http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: message\ndata: {"n":0}\n\n');
    const every = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('every') ?? 0);
    if (every > 0) {
      let n = 0;
      const timer = setInterval(() => {
        res.write(`event: message\ndata: {"n":${++n}}\n\n`);
        if (n === 5) {
          clearInterval(timer);
          res.end();
        }
      }, every);
      res.on('close', () => clearInterval(timer));
    }
    return;
  }
  req.resume();
  req.on('end', () => {
    if (req.url?.startsWith('/slow')) {
      slowOpen++;
      res.on('close', () => slowOpen--);
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{}}'), 1500);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{"ok":true}}');
  });
});
upstream.on('connection', (socket: net.Socket) => {
  upstreamOpen++;
  socket.once('close', () => upstreamOpen--);
});

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

type Lib = 'http-proxy@1.18.1' | 'http-proxy-3@2';
function proxyServer(lib: Lib, target: string, extra: object = {}): http.Server {
  const agent = new http.Agent({ keepAlive: true });
  const options = { target, agent, ...extra };
  const fail = (res: http.ServerResponse) => () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  };
  if (lib === 'http-proxy@1.18.1') {
    const proxy = httpProxy1.createProxyServer(options);
    return http.createServer((req, res) => proxy.web(req, res, {}, fail(res)));
  }
  const proxy = createProxy3(options);
  return http.createServer((req, res) => proxy.web(req, res, {}, fail(res)));
}

async function disconnectChurn(port: number): Promise<number> {
  for (let done = 0; done < CLIENTS; done += 100) {
    await Promise.all(
      Array.from(
        { length: Math.min(100, CLIENTS - done) },
        () =>
          new Promise<void>((resolve) => {
            const req = http.get({ host: '127.0.0.1', port, path: '/mcp', agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
              res.once('data', () => {
                req.destroy();
                resolve();
              });
            });
            req.on('error', () => resolve());
          }),
      ),
    );
  }
  await sleep(1000);
  return upstreamOpen;
}

async function abandonedPosts(port: number): Promise<number> {
  await Promise.all(
    Array.from(
      { length: 200 },
      () =>
        new Promise<void>((resolve) => {
          const req = http.request({ host: '127.0.0.1', port, path: '/slow', method: 'POST', agent: false, headers: { 'content-type': 'application/json' } });
          req.on('error', () => {});
          req.end('{"jsonrpc":"2.0","id":1,"method":"tools/call"}', () => setTimeout(() => (req.destroy(), resolve()), 200));
        }),
    ),
  );
  await sleep(500); // clients gone for 0.5 s; the upstream answers only at 1.5 s
  return slowOpen;
}

/** Events received on a 10 s stream (6 sent); "n, client hung" if the proxy never ended it. */
async function quietStream(port: number): Promise<string> {
  return new Promise((resolve) => {
    let events = 0;
    const req = http.get({ host: '127.0.0.1', port, path: '/mcp?every=2000', agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (events += chunk.split('event: message').length - 1));
      res.on('close', () => (clearTimeout(giveUp), resolve(`${events}/6`)));
    });
    const giveUp = setTimeout(() => {
      req.destroy();
      resolve(`${events}/6, client left hanging`);
    }, 16_000);
    req.on('error', () => (clearTimeout(giveUp), resolve(`${events}/6`)));
  });
}

let hung = 0;
const errors = new Set<string>();
async function throughput(port: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
  let n = 0;
  const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/mcp', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
        (res) => {
          res.resume();
          res.on('end', () => (n++, clearTimeout(timer), resolve()));
        },
      );
      const timer = setTimeout(() => (hung++, req.destroy(), resolve()), 3000);
      req.on('error', (err) => (clearTimeout(timer), errors.add(err.message), resolve()));
      req.end(body);
    });
  const deadline = performance.now() + Number(values.seconds) * 1000;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (performance.now() < deadline) await one();
    }),
  );
  agent.destroy();
  return n / Number(values.seconds);
}

async function main(): Promise<void> {
  const upstreamPort = await listen(upstream);
  const target = `http://127.0.0.1:${upstreamPort}`;
  const rows: Record<string, Record<string, number | string>> = {};

  for (const lib of ['http-proxy@1.18.1', 'http-proxy-3@2'] as Lib[]) {
    const row: Record<string, number | string> = {};
    const plain = proxyServer(lib, target);
    const port = await listen(plain);
    const step = (name: string): void => void process.stderr.write(`  ${lib}: ${name}\n`);
    step('client-disconnect churn');
    row.upstream_conns_left_after_churn = await disconnectChurn(port);
    step('abandoned slow POSTs');
    row.slow_requests_left_open = await abandonedPosts(port);
    await sleep(1500);
    step('quiet stream');
    row.quiet_stream_events = await quietStream(port);
    step('throughput');
    hung = 0;
    row.post_req_per_s = Math.round(await throughput(port));
    row.post_requests_hung_over_3s = hung;
    if (errors.size) step(`errors: ${[...errors].join('; ')}`);
    errors.clear();
    plain.close();
    plain.closeAllConnections();
    step('quiet stream with proxyTimeout 1000');
    const strict = proxyServer(lib, target, { proxyTimeout: 1000 });
    const strictPort = await listen(strict);
    row.quiet_stream_events_with_proxyTimeout = await quietStream(strictPort);
    strict.close();
    strict.closeAllConnections();
    rows[lib] = row;
    // Reset the upstream between libraries so leftovers don't count twice.
    upstream.closeAllConnections();
    await sleep(500);
  }
  const keys = Object.keys(rows['http-proxy-3@2'] ?? {});
  console.log(`bench:http-proxy  ${CLIENTS} disconnecting SSE clients, 200 abandoned slow POSTs, a 10 s quiet stream (6 events)\n`);
  console.log(
    'measure'.padEnd(42) +
      Object.keys(rows)
        .map((k) => k.padStart(28))
        .join(''),
  );
  for (const key of keys)
    console.log(
      key.padEnd(42) +
        Object.values(rows)
          .map((r) => String(r[key]).padStart(28))
          .join(''),
    );
  console.log('\n' + JSON.stringify(rows));
  upstream.close();
  upstream.closeAllConnections();
  process.exit(0);
}

await main();
