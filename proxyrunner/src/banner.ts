// The few lines a person running the proxyrunner by hand needs (make run): where to point an
// MCP client, where the metrics are, how to stop. Written on stderr next to the JSON logs, so
// only when someone is watching: --banner auto prints it when stderr is a terminal, never when
// a log collector reads it (always/never override). A pure function; main.ts writes it.
import type { ProxyConfig } from './config.ts';

export function shouldPrintBanner(mode: ProxyConfig['banner'], stderrIsTTY: boolean): boolean {
  return mode === 'always' || (mode === 'auto' && stderrIsTTY);
}

export function bannerText(
  config: Pick<ProxyConfig, 'transport' | 'proxyMode' | 'command' | 'targetUrl' | 'attach'>,
  urls: { mcpUrl: string; metricsUrl: string },
): string {
  const upstream =
    config.transport === 'stdio'
      ? config.attach
        ? `attached to ${config.attach.namespace}/${config.attach.selector} (${config.attach.container})`
        : `stdio: ${abbreviate(config.command.join(' '))}`
      : `${config.transport}: ${config.targetUrl?.href ?? ''}`;
  const inspectorTransport = config.proxyMode === 'sse' ? 'SSE' : 'Streamable HTTP';
  const lines = [
    '',
    `  mcpfleet proxyrunner is up, in front of ${upstream}`,
    '',
    `  MCP endpoint  ${urls.mcpUrl}   (${config.proxyMode === 'sse' ? 'legacy SSE' : 'streamable HTTP'})`,
    `  Metrics       ${urls.metricsUrl}   (health: /healthz, /readyz)`,
    '',
    '  Connect an MCP client, for example the MCP Inspector:',
    '    npx @modelcontextprotocol/inspector',
    `    then choose transport "${inspectorTransport}" and URL ${urls.mcpUrl}`,
    '',
    '  JSON logs follow on stderr. Ctrl-C stops. (--banner never hides this note.)',
    '',
  ];
  return lines.join('\n') + '\n';
}

function abbreviate(text: string, max = 80): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
