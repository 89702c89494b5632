// The REST client's watch stream decoding, against a loopback server that cuts the stream
// at awkward places.
import { describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { POD, type KubeObject } from './kinds.ts';
import { KubeClient } from './client.ts';

describe('watch stream decoding', () => {
  it('reads events split across chunks, several per chunk, and blank lines', async () => {
    const events = Array.from({ length: 5 }, (_, i) =>
      JSON.stringify({ type: 'ADDED', object: { metadata: { name: `p${i}`, resourceVersion: String(i + 1), annotations: { big: 'x'.repeat(i * 3000) } } } }),
    );
    const stream = `${events[0]}\n${events[1]}\n\n${events[2]}\n${events[3]}\n  \n${events[4]}\n`;
    // Cut points inside events, right after newlines and inside the blank lines.
    const cuts = [5, events[0]!.length + 1, events[0]!.length + 40, stream.length - 7, stream.length - 1];
    const inPieces = async (res: http.ServerResponse): Promise<void> => {
      res.writeHead(200, { 'content-type': 'application/json' });
      let at = 0;
      for (const cut of cuts) {
        res.write(stream.slice(at, cut));
        at = cut;
        await new Promise((r) => setTimeout(r, 5));
      }
      res.end(stream.slice(at));
    };
    // inPieces cannot reject: it only writes (errors surface as 'error' events) and waits.
    const server = http.createServer((_req, res) => void inPieces(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = new KubeClient({
      server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      insecureSkipTLSVerify: false,
      namespace: undefined,
      credentials: async () => ({}),
      source: 'test',
    });
    const seen: string[] = [];
    try {
      await client.watch<KubeObject>(
        POD,
        'n',
        { resourceVersion: '0', timeoutSeconds: 10 },
        (e) => seen.push(`${e.object.metadata.name}:${(e.object.metadata.annotations?.['big'] ?? '').length}`),
        new AbortController().signal,
      );
    } finally {
      client.close();
      server.close();
    }
    expect(seen).toEqual(['p0:0', 'p1:3000', 'p2:6000', 'p3:9000', 'p4:12000']);
  });
});
