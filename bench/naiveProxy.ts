// The baseline of bench:proxy: the naive pass-through the issue measures against. node:http
// in, node:http out, headers copied, bodies piped, a keep-alive agent; no sessions, no
// metrics, no limits. Not part of the product.
//
// --client undici swaps the upstream client for undici's Pool (the lowest-level API of the
// fastest HTTP client for Node): it shows how much a different client library could save.
//
//   node bench/naiveProxy.ts --port 8081 --target http://127.0.0.1:3001 [--client http|undici]
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';

const { values } = parseArgs({ options: { port: { type: 'string' }, target: { type: 'string' }, client: { type: 'string', default: 'http' } } });
const target = new URL(values.target ?? 'http://127.0.0.1:3001');

function viaNodeHttp(): http.RequestListener {
  const agent = new http.Agent({ keepAlive: true });
  return (req, res) => {
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host }, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  };
}

// Hop-by-hop headers: undici manages its own connection and framing.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);

function viaUndici(): http.RequestListener {
  const pool = new Pool(target.origin, { connections: 256 });
  return (req, res) => {
    const headers: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i] as string;
      if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push(name, req.rawHeaders[i + 1] as string);
    }
    let controller: Dispatcher.DispatchController | undefined;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: (c) => void (controller = c),
      onResponseStart: (c, status) => {
        const raw = (c.rawHeaders ?? []) as Buffer[];
        const out: string[] = [];
        for (let i = 0; i < raw.length; i += 2) {
          const name = String(raw[i]);
          if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, String(raw[i + 1]));
        }
        res.writeHead(status, out);
      },
      onResponseData: (c, chunk) => {
        if (res.write(chunk)) return;
        c.pause();
        res.once('drain', () => c.resume());
      },
      onResponseEnd: () => void res.end(),
      onResponseError: () => void res.destroy(),
    };
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    pool.dispatch({ path: req.url ?? '/', method: req.method ?? 'GET', headers, body: hasBody ? req : null }, handler);
    res.on('close', () => {
      if (!res.writableFinished) controller?.abort(new Error('client went away'));
    });
  };
}

http.createServer(values.client === 'undici' ? viaUndici() : viaNodeHttp()).listen(Number(values.port), '127.0.0.1');
