// The policy store on real files: the start-up load fails loudly, reloads keep the last
// good set on a bad edit, and an unchanged file is not recompiled. check() is called
// directly (the watcher only schedules it), so nothing here waits on timing.
import { afterEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../../common/log.ts';
import { createPolicyStore, type PolicyStore, type ReloadResult } from './store.ts';

const config = (policy: string): string => JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies: [policy] } });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authz-store-'));
let stores: PolicyStore[] = [];
afterEach(() => {
  for (const s of stores) s.close();
  stores = [];
});

describe('policy store', () => {
  it('refuses to start on a missing or invalid config, naming it', () => {
    expect(() => createPolicyStore({ file: path.join(dir, 'missing.json'), log: silentLogger, onReload: () => {} })).toThrow(
      /--authz-config .*missing\.json: ENOENT/,
    );
    expect(() => createPolicyStore({ inline: config('permit(principal'), log: silentLogger, onReload: () => {} })).toThrow(
      /--authz-config-inline: cedar\.policies/,
    );
  });

  it('reloads good edits, keeps the last good set on bad ones, and skips unchanged files', () => {
    const file = path.join(dir, 'authz.json');
    fs.writeFileSync(file, config('permit(principal, action, resource);'));
    const results: ReloadResult[] = [];
    const store = createPolicyStore({ file, log: silentLogger, onReload: (r) => results.push(r), pollMs: 3_600_000 });
    stores.push(store);
    const first = store.current();
    expect(store.check()).toBe('unchanged');
    fs.writeFileSync(file, config('forbid(principal, action, resource);'));
    expect(store.check()).toBe('success');
    const second = store.current();
    expect(second).not.toBe(first);
    fs.writeFileSync(file, '{ not json');
    expect(store.check()).toBe('failure');
    expect(store.current()).toBe(second);
    expect(store.check()).toBe('unchanged');
    fs.writeFileSync(file, config('permit(principal, action, resource);'));
    expect(store.check()).toBe('success');
    expect(results).toEqual(['success', 'failure', 'success']);
  });
});
