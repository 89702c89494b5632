// The shared Kubernetes client on its own: kubeconfig loading, watch stream decoding and the
// token file reader.
import { describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { fromKubeconfig, loadClusterAccess, tokenFileReader } from './kubeconfig.ts';
import { POD, type KubeObject } from './kinds.ts';
import { KubeClient } from './client.ts';

describe('kubeconfig', () => {
  it('reads server, CA, token and namespace of the current context', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kc-'));
    const file = path.join(dir, 'config');
    await writeFile(path.join(dir, 'ca.crt'), 'CA PEM');
    await writeFile(
      file,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'a', cluster: { server: 'https://a.example:6443/', 'certificate-authority': 'ca.crt' } },
          { name: 'b', cluster: { server: 'https://b.example', 'certificate-authority-data': Buffer.from('B CA').toString('base64'), 'insecure-skip-tls-verify': true } },
        ],
        users: [
          { name: 'ua', user: { token: 'tok-a' } },
          { name: 'ub', user: { 'client-certificate-data': Buffer.from('CERT').toString('base64'), 'client-key-data': Buffer.from('KEY').toString('base64') } },
        ],
        contexts: [
          { name: 'ca', context: { cluster: 'a', user: 'ua', namespace: 'team' } },
          { name: 'cb', context: { cluster: 'b', user: 'ub' } },
        ],
        'current-context': 'ca',
      }),
    );
    const a = fromKubeconfig(file);
    expect(a).toMatchObject({ server: 'https://a.example:6443', ca: 'CA PEM', insecureSkipTLSVerify: false, namespace: 'team' });
    expect(await a.credentials()).toMatchObject({ token: 'tok-a' });
    const b = fromKubeconfig(file, 'cb');
    expect(b).toMatchObject({ server: 'https://b.example', ca: 'B CA', insecureSkipTLSVerify: true, namespace: undefined });
    expect(await b.credentials()).toEqual({ cert: 'CERT', key: 'KEY' });
    expect(loadClusterAccess(undefined, { KUBECONFIG: `${file}${path.delimiter}/nonexistent` }).server).toBe('https://a.example:6443');
    expect(() => fromKubeconfig(file, 'nope')).toThrow(/context "nope" not found/);
  });

  it('runs exec credential plugins and caches their token until it expires', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kc-'));
    const counter = path.join(dir, 'count');
    const plugin = path.join(dir, 'plugin.sh');
    const expires = new Date(Date.now() + 3_600_000).toISOString();
    await writeFile(
      plugin,
      `#!/bin/sh\necho x >> ${counter}\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin-'"$GREETING"'","expirationTimestamp":"${expires}"}}'\n`,
      { mode: 0o755 },
    );
    const file = path.join(dir, 'config');
    await writeFile(
      file,
      stringify({
        clusters: [{ name: 'c', cluster: { server: 'https://c.example' } }],
        users: [{ name: 'u', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './plugin.sh', env: [{ name: 'GREETING', value: 'hi' }] } } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const access = fromKubeconfig(file);
    expect(await access.credentials()).toEqual({ token: 'from-plugin-hi' });
    expect(await access.credentials()).toEqual({ token: 'from-plugin-hi' });
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(counter, 'utf8')).trim().split('\n')).toHaveLength(1);
  });
});

describe('watch stream decoding', () => {
  it('reads events split across chunks, several per chunk, and blank lines', async () => {
    const events = Array.from({ length: 5 }, (_, i) => JSON.stringify({ type: 'ADDED', object: { metadata: { name: `p${i}`, resourceVersion: String(i + 1), annotations: { big: 'x'.repeat(i * 3000) } } } }));
    const stream = `${events[0]}\n${events[1]}\n\n${events[2]}\n${events[3]}\n  \n${events[4]}\n`;
    // Cut points inside events, right after newlines and inside the blank lines.
    const cuts = [5, events[0]!.length + 1, events[0]!.length + 40, stream.length - 7, stream.length - 1];
    const server = http.createServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      let at = 0;
      for (const cut of cuts) {
        res.write(stream.slice(at, cut));
        at = cut;
        await new Promise((r) => setTimeout(r, 5));
      }
      res.end(stream.slice(at));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = new KubeClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, insecureSkipTLSVerify: false, namespace: undefined, credentials: async () => ({}), source: 'test' });
    const seen: string[] = [];
    try {
      await client.watch<KubeObject>(POD, 'n', { resourceVersion: '0', timeoutSeconds: 10 }, (e) => seen.push(`${e.object.metadata.name}:${(e.object.metadata.annotations?.['big'] ?? '').length}`), new AbortController().signal);
    } finally {
      client.close();
      server.close();
    }
    expect(seen).toEqual(['p0:0', 'p1:3000', 'p2:6000', 'p3:9000', 'p4:12000']);
  });
});

describe('tokenFileReader', () => {
  it('reads a rotating token at most once per period, and picks up the new one after it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'token-'));
    const file = path.join(dir, 'token');
    await writeFile(file, 'first\n');
    let now = 1_000;
    const token = tokenFileReader(file, 60_000, () => now);
    expect(token()).toBe('first');
    await writeFile(file, 'second\n');
    now += 59_999;
    expect(token()).toBe('first'); // cached within the period
    now += 1;
    expect(token()).toBe('second');
  });
});
