// The life of a process, shared by mcpfleet-proxyrunner and mcpfleet-operator: parse flags
// (exit 2 with a hint on a usage error, or when a config file a flag names is invalid), print --help, size the V8 heap (by re-exec), start,
// and stop gracefully on SIGTERM/SIGINT (a second signal exits at once).
import { createLogger, type Logger, type LogLevel } from '../log.ts';
import { cgroupMemoryLimit } from '../memory.ts';
import { UsageError } from './flags.ts';
import { StartupError } from './listen.ts';

/** Set in the re-exec'd process: the heap flags it was started with. */
const HEAP_SIZED = 'MCPFLEET_HEAP_SIZED';

export interface ProgramConfig {
  logLevel: LogLevel;
  /** Filled in from the cgroup when unset. */
  memoryLimitBytes: number | undefined;
}

export interface Program<C extends ProgramConfig> {
  name: string;
  parse(argv: readonly string[]): C | 'help';
  help(): string;
  /** V8 flags for this memory budget; an empty list keeps V8's defaults (no re-exec). */
  heapFlags(memoryLimitBytes: number | undefined): string[];
  start(config: C, log: Logger): Promise<{ stop(): Promise<void>; startedFields: Record<string, unknown> }>;
  startedMessage: string;
}

export function runMain<C extends ProgramConfig>(program: Program<C>): void {
  main(program).catch((err: unknown) => {
    if (err instanceof UsageError) {
      // A configuration file named by a flag is invalid (read at start, not at parse): exit 2 like a bad flag.
      process.stderr.write(`${program.name}: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof StartupError) {
      // Configuration, not a bug: one line that says what to change, no stack trace.
      process.stderr.write(`${program.name}: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'fatal', err: String((err as Error)?.stack ?? err) })}\n`);
    process.exit(1);
  });
}

async function main<C extends ProgramConfig>(program: Program<C>): Promise<void> {
  let config: C | 'help';
  try {
    config = program.parse(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${program.name}: ${err.message}\nRun with --help for usage.\n`);
    process.exit(2);
  }
  if (config === 'help') {
    process.stdout.write(program.help());
    return;
  }
  config.memoryLimitBytes ??= cgroupMemoryLimit();
  // V8's heap limits are fixed at start-up, so sizing them means starting again with flags:
  // execve replaces this process (same PID, nothing left behind).
  const flags = program.heapFlags(config.memoryLimitBytes);
  if (flags.length > 0 && !process.env[HEAP_SIZED] && typeof process.execve === 'function') {
    process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], {
      ...process.env,
      [HEAP_SIZED]: flags.join(' '),
      // Fewer glibc malloc arenas: native memory stays compact under many threads.
      MALLOC_ARENA_MAX: process.env['MALLOC_ARENA_MAX'] ?? '2',
    });
  }

  const log = createLogger(config.logLevel, { component: program.name.replace(/^mcpfleet-/, '') });
  const running = await program.start(config, log);
  log.info(program.startedMessage, { pid: process.pid, heap: process.env[HEAP_SIZED] ?? 'v8 defaults', ...running.startedFields });

  let signals = 0;
  const stop = (signal: string): void => {
    if (++signals > 1) process.exit(1);
    log.info('shutting down', { signal });
    running.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error('shutdown failed', { err: err as Error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
