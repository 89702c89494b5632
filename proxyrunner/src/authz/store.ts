// The active Cedar policy set, loaded from inline text or a file and hot-reloaded when the
// file changes (watchedConfig.ts: a ConfigMap-style `..data` swap is seen, a bad edit keeps
// the last good set and is counted in mcpfleet_proxy_authz_reloads_total{result="failure"},
// a bad start-up config is an error naming the flag and the file). Each text is parsed and
// compiled; only a set that compiled cleanly replaces the active one.
import type { Logger } from '../../../common/log.ts';
import { createWatchedConfig, type ReloadResult, type WatchedConfig } from '../watchedConfig.ts';
import { parseAuthzConfig } from './config.ts';
import { compilePolicies, type CompiledPolicies } from './engine.ts';

export type { ReloadResult };
export type PolicyStore = WatchedConfig<CompiledPolicies>;

export interface PolicyStoreOptions {
  /** --authz-config: a file to load and watch. */
  file?: string;
  /** Inline config text (no reloads). */
  inline?: string;
  log: Logger;
  onReload(result: ReloadResult): void;
  debounceMs?: number;
  pollMs?: number;
}

let stores = 0;

export function createPolicyStore(options: PolicyStoreOptions): PolicyStore {
  const prefix = `authz-${stores++}`;
  // The engine holds two named policy sets per store: the active one and the next.
  let generation = 0;
  return createWatchedConfig({
    ...options,
    flag: '--authz-config',
    what: 'authorization config',
    parse: (text) => {
      const compiled = compilePolicies(parseAuthzConfig(text), `${prefix}-${generation % 2}`);
      generation++;
      return compiled;
    },
    describe: (compiled) => ({ policies: compiled.policyCount }),
  });
}
