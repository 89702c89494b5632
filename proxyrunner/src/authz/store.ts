// The active policy set, loaded from inline text or a file and hot-reloaded when the file
// changes. A Kubernetes ConfigMap volume updates by swapping a `..data` symlink inside
// the mounted directory, so the directory is watched (not the file), and a slow poll
// backs the watch up on filesystems whose events are unreliable. Each change is
// re-read, parsed and compiled; only a set that compiled cleanly replaces the active
// one. A bad edit keeps the last good set, logged and counted
// (mcpfleet_proxy_authz_reloads_total{result="failure"}); the start-up load has no last
// good set, so there a bad config is a start-up error.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../../common/log.ts';
import { AuthzConfigError, parseAuthzConfig } from './config.ts';
import { compilePolicies, type CompiledPolicies } from './engine.ts';

export type ReloadResult = 'success' | 'failure';

export interface PolicyStore {
  current(): CompiledPolicies;
  /** Re-reads the file now (the watcher calls this); resolves to what happened. */
  check(): ReloadResult | 'unchanged';
  close(): void;
}

export interface PolicyStoreOptions {
  /** --authz-config: a file to load and watch. */
  file?: string;
  /** Inline config text (no reloads). */
  inline?: string;
  log: Logger;
  onReload(result: ReloadResult): void;
  /** Changes settle this long before a reload (a ConfigMap swap is several events). */
  debounceMs?: number;
  pollMs?: number;
}

let stores = 0;

export function createPolicyStore(options: PolicyStoreOptions): PolicyStore {
  const { file, log } = options;
  const prefix = `authz-${stores++}`;
  let generation = 0;
  const compile = (text: string): CompiledPolicies => compilePolicies(parseAuthzConfig(text), `${prefix}-${generation % 2}`);

  const source = file ? `--authz-config ${file}` : '--authz-config-inline';
  let text: string;
  let active: CompiledPolicies;
  try {
    text = file ? readFileSync(file, 'utf8') : (options.inline ?? '');
    active = compile(text);
  } catch (err) {
    throw new AuthzConfigError(`${source}: ${(err as Error).message}`);
  }
  generation++;
  log.info('authorization policies loaded', { source: file ?? 'inline', policies: active.policyCount });

  let watcher: FSWatcher | undefined;
  let poll: NodeJS.Timeout | undefined;
  let pending: NodeJS.Timeout | undefined;

  const check = (): ReloadResult | 'unchanged' => {
    if (!file) return 'unchanged';
    let next: string;
    try {
      next = readFileSync(file, 'utf8');
    } catch (err) {
      // Mid-swap the path can briefly dangle; a missing file is judged at the next event.
      log.warn('authorization config unreadable; keeping the last good policies', { file, err: err as Error });
      options.onReload('failure');
      return 'failure';
    }
    if (next === text) return 'unchanged';
    text = next;
    try {
      active = compile(next);
      generation++;
    } catch (err) {
      log.error('authorization config rejected; keeping the last good policies', { file, err: err as Error });
      options.onReload('failure');
      return 'failure';
    }
    log.info('authorization policies reloaded', { file, policies: active.policyCount });
    options.onReload('success');
    return 'success';
  };

  if (file) {
    const schedule = (): void => {
      clearTimeout(pending);
      pending = setTimeout(check, options.debounceMs ?? 100);
      pending.unref();
    };
    try {
      watcher = watch(path.dirname(path.resolve(file)), { persistent: false }, schedule);
      watcher.on('error', (err) => log.warn('authorization config watch failed; polling only', { err }));
    } catch (err) {
      log.warn('cannot watch the authorization config directory; polling only', { err: err as Error });
    }
    poll = setInterval(check, options.pollMs ?? 10_000);
    poll.unref();
  }

  return {
    current: () => active,
    check,
    close() {
      watcher?.close();
      clearInterval(poll);
      clearTimeout(pending);
    },
  };
}
