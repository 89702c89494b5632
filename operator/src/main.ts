#!/usr/bin/env node
// mcpfleet-operator: parse flags, size the heap, reconcile MCPServers until SIGTERM/SIGINT.
import { runMain } from '../../common/cli/entry.ts';
import { describeConfig, helpText, parseConfig } from './config.ts';
import { operatorHeapFlags } from './memory.ts';
import { startOperator } from './operator.ts';
import { VERSION } from './version.ts';

runMain({
  name: 'mcpfleet-operator',
  parse: (argv) => parseConfig(argv),
  help: helpText,
  heapFlags: operatorHeapFlags,
  startedMessage: 'mcpfleet operator started',
  async start(config, log) {
    const operator = await startOperator(config, log);
    return { stop: () => operator.stop(), startedFields: { version: VERSION, metrics: operator.metricsUrl, ...describeConfig(config) } };
  },
});
