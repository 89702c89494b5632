// Cluster access from a kubeconfig (files, inline data, exec credential plugins) and the
// rotating service-account token reader.
import { describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { fromKubeconfig, loadClusterAccess, tokenFileReader } from './kubeconfig.ts';

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
          {
            name: 'b',
            cluster: { server: 'https://b.example', 'certificate-authority-data': Buffer.from('B CA').toString('base64'), 'insecure-skip-tls-verify': true },
          },
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
        users: [
          { name: 'u', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './plugin.sh', env: [{ name: 'GREETING', value: 'hi' }] } } },
        ],
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
