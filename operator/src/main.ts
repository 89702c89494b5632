#!/usr/bin/env node
// mcpfleet-operator: parse flags, reconcile MCPServers until SIGTERM/SIGINT.
import { createLogger } from '../../proxyrunner/src/log.ts';
import { cgroupMemoryLimit } from '../../proxyrunner/src/memory.ts';
import { operatorHeapFlags } from './memory.ts';
import { describeConfig, helpText, parseConfig, UsageError, type OperatorConfig } from './config.ts';
import { startOperator } from './operator.ts';
import { VERSION } from './version.ts';

const HEAP_SIZED = 'MCPFLEET_HEAP_SIZED';

async function main(): Promise<void> {
  let config: OperatorConfig | 'help';
  try {
    config = parseConfig(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`mcpfleet-operator: ${err.message}\nRun with --help for usage.\n`);
    process.exit(2);
  }
  if (config === 'help') {
    process.stdout.write(helpText());
    return;
  }
  config.memoryLimitBytes ??= cgroupMemoryLimit();
  // V8's heap limits are fixed at start-up, so sizing them means starting again with flags:
  // execve replaces this process (same PID, nothing left behind). See memory.ts.
  if (!process.env[HEAP_SIZED] && typeof process.execve === 'function') {
    const flags = operatorHeapFlags(config.memoryLimitBytes);
    process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], {
      ...process.env,
      [HEAP_SIZED]: flags.join(' '),
      // Fewer glibc malloc arenas: native memory stays compact.
      MALLOC_ARENA_MAX: process.env['MALLOC_ARENA_MAX'] ?? '2',
    });
  }
  const log = createLogger(config.logLevel, { component: 'operator' });
  const operator = await startOperator(config, log);
  log.info('mcpfleet operator started', {
    version: VERSION,
    metrics: operator.metricsUrl,
    pid: process.pid,
    heap: process.env[HEAP_SIZED] ?? 'v8 defaults',
    ...describeConfig(config),
  });

  let signals = 0;
  const stop = (signal: string): void => {
    if (++signals > 1) process.exit(1);
    log.info('shutting down', { signal });
    operator.stop().then(
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

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'fatal', err: String((err as Error)?.stack ?? err) })}\n`);
  process.exit(1);
});
