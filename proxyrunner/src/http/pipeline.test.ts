// The pipeline's last resort, on a real socket: a route handler that throws or rejects
// costs one request (500 with a JSON-RPC error, counted), never the process.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../../common/log.ts';
import { createMetrics } from '../metrics.ts';
import { createPipeline } from './pipeline.ts';

describe('createPipeline', () => {
  const metrics = createMetrics({
    activeSessions: () => 0,
    memoryLimitBytes: undefined,
    info: { version: 't', transport: 't', proxyMode: 't' },
    defaultMetrics: false,
  });
  const server = http.createServer(
    createPipeline({
      routes: {
        '/throws': {
          methods: ['POST'],
          handle: () => {
            throw new Error('a bug');
          },
        },
        '/rejects': {
          methods: ['GET'],
          handle: async () => {
            await Promise.resolve();
            throw new Error('an async bug');
          },
        },
        '/ok': { methods: ['GET'], handle: ({ res }) => void res.writeHead(204).end() },
      },
      maxBodyBytes: 1024,
      metrics,
      log: silentLogger,
    }),
  );
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers a throwing or rejecting handler with a JSON-RPC 500 and counts it', async () => {
    const thrown = await fetch(`${base}/throws`, { method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
    const rejected = await fetch(`${base}/rejects`);
    for (const res of [thrown, rejected]) {
      expect(res.status).toBe(500);
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32603, message: expect.stringMatching(/Internal error/) } });
    }
    expect((await fetch(`${base}/ok`)).status).toBe(204);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^mcpfleet_proxy_internal_errors_total 2$/m);
  });
});
