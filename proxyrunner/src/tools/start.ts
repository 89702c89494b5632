// Starts what --tool-config/--tool-config-inline ask for: the tool config (a file is
// hot-reloaded, watchedConfig.ts), its metrics, and the pipeline stage that applies it.
// Loaded by app.ts only when configured, so a proxy without tool control runs none of it.
import { Counter, type Registry } from '../../../common/promClient.ts';
import type { Logger } from '../../../common/log.ts';
import { createWatchedConfig, type WatchedConfig } from '../watchedConfig.ts';
import { describeToolConfig, parseToolConfig, type ToolConfig } from '../../../common/contract/toolConfig.ts';
import type { RefusalReason } from './rewrite.ts';
import { createToolStage, type ToolStage } from './stage.ts';

export interface ToolControl {
  stage: ToolStage;
  config: WatchedConfig<ToolConfig>;
  close(): void;
}

export function startToolControl(source: { file?: string | undefined; inline?: string | undefined }, registry: Registry, log: Logger): ToolControl {
  const refused = new Counter({
    name: 'mcpfleet_proxy_tool_calls_refused_total',
    help: 'tools/call requests refused by the tool config before reaching the upstream: filtered (not in toolsFilter), renamed (called by the upstream name of a renamed tool).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const reasons: readonly RefusalReason[] = ['filtered', 'renamed'];
  for (const reason of reasons) refused.inc({ reason }, 0);
  const reloads = new Counter({
    name: 'mcpfleet_proxy_tool_config_reloads_total',
    help: 'Reloads of the --tool-config file, by result (a failure keeps the last good config).',
    labelNames: ['result'],
    registers: [registry],
  });
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'failure' }, 0);
  const config = createWatchedConfig({
    file: source.file,
    inline: source.inline,
    flag: '--tool-config',
    what: 'tool config',
    parse: parseToolConfig,
    describe: describeToolConfig,
    log,
    onReload: (result) => reloads.inc({ result }),
  });
  const stage = createToolStage({ current: () => config.current(), refused: (reason) => refused.inc({ reason }) });
  return { stage, config, close: () => config.close() };
}
