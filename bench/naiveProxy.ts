// The baseline of bench:proxy: the naive pass-through the issue measures against. node:http
// in, node:http out, headers copied, bodies piped, a keep-alive agent; no sessions, no
// metrics, no limits. Not part of the product.
//
//   node bench/naiveProxy.ts --port 8081 --target http://127.0.0.1:3001
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string' }, target: { type: 'string' } } });
const target = new URL(values.target ?? 'http://127.0.0.1:3001');
const agent = new http.Agent({ keepAlive: true });

http
  .createServer((req, res) => {
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
  })
  .listen(Number(values.port), '127.0.0.1');
