#!/usr/bin/env node
// mcpfleet-proxyrunner: parse flags, size the heap, serve until SIGTERM/SIGINT.
import { startProxyRunner } from './app.ts';
import { bannerText, shouldPrintBanner } from './banner.ts';
import { runMain } from '../../common/cli/entry.ts';
import { describeConfig, helpText, parseConfig } from './config.ts';
import { heapFlags, heapSizing } from '../../common/memory.ts';
import { VERSION } from './version.ts';

runMain({
  name: 'mcpfleet-proxyrunner',
  parse: (argv) => parseConfig(argv),
  help: helpText,
  // Without a budget, V8's defaults: nothing to size against.
  // --expose-gc: the overload watch (overload.ts) collects when RSS nears the limit.
  heapFlags: (limit) => (limit ? [...heapFlags(heapSizing(limit)), '--expose-gc'] : []),
  startedMessage: 'mcpfleet proxyrunner serving',
  async start(config, log) {
    const proxy = await startProxyRunner(config, log);
    // Last resort only: every input class is handled where it arrives. A bug that still
    // escapes is logged and counted (mcpfleet_proxy_internal_errors_total) rather than
    // ending every session of this process.
    process.on('unhandledRejection', (err) => {
      proxy.metrics.internalError();
      log.error('unhandled rejection (a bug; please report)', { err: err as Error });
    });
    process.on('uncaughtException', (err) => {
      proxy.metrics.internalError();
      log.error('uncaught exception (a bug; please report)', { err });
    });
    if (shouldPrintBanner(config.banner, process.stderr.isTTY === true)) process.stderr.write(bannerText(config, proxy));
    return { stop: () => proxy.stop(), startedFields: { version: VERSION, mcp: proxy.mcpUrl, metrics: proxy.metricsUrl, ...describeConfig(config) } };
  },
});
