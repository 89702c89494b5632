// A config loaded from inline text or a file, hot-reloaded when the file changes: shared by
// the Cedar policies (--authz-config) and the tool config (--tool-config), so both follow
// one rule. A Kubernetes ConfigMap volume updates by swapping a `..data` symlink inside
// the mounted directory, so the directory is watched (not the file), and a slow poll
// backs the watch up on filesystems whose events are unreliable. Each change is re-read
// and parsed; only a value that parsed cleanly replaces the active one. A bad edit keeps
// the last good value, logged and counted (onReload('failure')); the start-up load has
// no last good value, so there a bad config throws, naming the flag and the file.
import type { FSWatcher } from 'node:fs';
import { fs } from '../../common/builtins.ts';
import path from 'node:path';
import type { Logger } from '../../common/log.ts';
import { UsageError } from '../../common/cli/flags.ts';

export type ReloadResult = 'success' | 'failure';

export interface WatchedConfig<T> {
  current(): T;
  /** Re-reads the file now (the watcher calls this); returns what happened. */
  check(): ReloadResult | 'unchanged';
  close(): void;
}

export interface WatchedConfigOptions<T> {
  /** A file to load and watch. */
  file?: string | undefined;
  /** Inline config text (never reloaded). */
  inline?: string | undefined;
  /** The flags, for messages: `--authz-config` (file) and `--authz-config-inline`. */
  flag: string;
  /** What it is, for log lines: "authorization config". */
  what: string;
  /** Text → value; throws (with a message naming the field) on anything invalid. */
  parse(text: string): T;
  /** Extra fields for the "loaded"/"reloaded" log lines. */
  describe?(value: T): Record<string, unknown>;
  log: Logger;
  onReload(result: ReloadResult): void;
  /** Changes settle this long before a reload (a ConfigMap swap is several events). */
  debounceMs?: number;
  pollMs?: number;
}

/** The start-up load failed: the message names the flag and the file (the process exits 2, as on a bad flag). */
export class ConfigLoadError extends UsageError {}

export function createWatchedConfig<T>(options: WatchedConfigOptions<T>): WatchedConfig<T> {
  const { file, log, what } = options;
  const source = file ? `${options.flag} ${file}` : `${options.flag}-inline`;
  const describe = (value: T): Record<string, unknown> => options.describe?.(value) ?? {};
  let text: string;
  let active: T;
  try {
    text = file ? fs.readFileSync(file, 'utf8') : (options.inline ?? '');
    active = options.parse(text);
  } catch (err) {
    throw new ConfigLoadError(`${source}: ${(err as Error).message}`);
  }
  log.info(`${what} loaded`, { source: file ?? 'inline', ...describe(active) });
  let watcher: FSWatcher | undefined;
  let poll: NodeJS.Timeout | undefined;
  let pending: NodeJS.Timeout | undefined;

  const check = (): ReloadResult | 'unchanged' => {
    if (!file) return 'unchanged';
    let next: string;
    try {
      next = fs.readFileSync(file, 'utf8');
    } catch (err) {
      // Mid-swap the path can briefly dangle; a missing file is judged at the next event.
      log.warn(`${what} unreadable; keeping the last good one`, { file, err: err as Error });
      options.onReload('failure');
      return 'failure';
    }
    if (next === text) return 'unchanged';
    text = next;
    try {
      active = options.parse(next);
    } catch (err) {
      log.error(`${what} rejected; keeping the last good one`, { file, err: err as Error });
      options.onReload('failure');
      return 'failure';
    }
    log.info(`${what} reloaded`, { file, ...describe(active) });
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
      watcher = fs.watch(path.dirname(path.resolve(file)), { persistent: false }, schedule);
      watcher.on('error', (err) => log.warn(`${what} watch failed; polling only`, { err }));
    } catch (err) {
      log.warn(`cannot watch the ${what} directory; polling only`, { err: err as Error });
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
