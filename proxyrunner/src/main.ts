#!/usr/bin/env node
// mcpfleet-proxyrunner: parse flags, size the heap, serve until SIGTERM/SIGINT.
import { startProxyRunner } from './app.ts';
import { runMain } from '../../common/cli/entry.ts';
import { describeConfig, helpText, parseConfig } from './config.ts';
import { heapFlags, heapSizing } from '../../common/memory.ts';
import { VERSION } from './version.ts';

runMain({
  name: 'mcpfleet-proxyrunner',
  parse: (argv) => parseConfig(argv),
  help: helpText,
  // Without a budget, V8's defaults: nothing to size against.
  heapFlags: (limit) => (limit ? heapFlags(heapSizing(limit)) : []),
  startedMessage: 'mcpfleet proxyrunner serving',
  async start(config, log) {
    const proxy = await startProxyRunner(config, log);
    return { stop: () => proxy.stop(), startedFields: { version: VERSION, mcp: proxy.mcpUrl, metrics: proxy.metricsUrl, ...describeConfig(config) } };
  },
});
