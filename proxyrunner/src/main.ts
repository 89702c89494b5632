#!/usr/bin/env node
// mcpfleet-proxyrunner: parse flags, size the heap, serve until SIGTERM/SIGINT.
import { describeConfig, helpText, parseConfig, UsageError, type ProxyConfig } from './config.ts';
import { createLogger } from './log.ts';
import { cgroupMemoryLimit, heapFlags, heapSizing } from './memory.ts';
import { startProxyRunner } from './app.ts';
import { VERSION } from './version.ts';

const HEAP_SIZED = 'MCPFLEET_HEAP_SIZED';

async function main(): Promise<void> {
  let config: ProxyConfig | 'help';
  try {
    config = parseConfig(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`mcpfleet-proxyrunner: ${err.message}\nRun with --help for usage.\n`);
    process.exit(2);
  }
  if (config === 'help') {
    process.stdout.write(helpText());
    return;
  }
  config.memoryLimitBytes ??= cgroupMemoryLimit();
  // V8's heap limits are fixed at start-up, so sizing them means starting again with
  // flags: execve replaces this process (same PID, nothing left behind).
  if (config.memoryLimitBytes && !process.env[HEAP_SIZED] && typeof process.execve === 'function') {
    const flags = heapFlags(heapSizing(config.memoryLimitBytes));
    process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], {
      ...process.env,
      [HEAP_SIZED]: flags.join(' '),
      // Fewer glibc malloc arenas: native memory stays compact under many threads.
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
    });
  }

  const log = createLogger(config.logLevel, { component: 'proxyrunner' });
  const proxy = await startProxyRunner(config, log);
  log.info('mcpfleet proxyrunner serving', {
    version: VERSION,
    mcp: proxy.mcpUrl,
    metrics: proxy.metricsUrl,
    heap: process.env[HEAP_SIZED] ?? 'v8 defaults',
    ...describeConfig(config),
  });

  let signals = 0;
  const stop = (signal: string): void => {
    if (++signals > 1) process.exit(1);
    log.info('shutting down', { signal });
    proxy.stop().then(
      () => process.exit(0),
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
