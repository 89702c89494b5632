// The proxyrunner's flags (table and parsing in common/cli/flags.ts) and the checks that span flags.
import { readFileSync } from 'node:fs';
import type { BudgetOverrides } from './budget.ts';
import { envName, helpText as renderHelp, parseFlags, UsageError, type FlagSpec, type Flags } from '../../common/cli/flags.ts';
import type { LogLevel } from '../../common/log.ts';
import { formatBytes, formatDuration } from '../../common/quantity.ts';
import { AUTHN_FLAGS, describeAuthn, parseAuthnConfig, type AuthnConfig } from './auth/authnConfig.ts';

export type UpstreamTransport = 'stdio' | 'sse' | 'streamable-http';
export type ProxyMode = 'streamable-http' | 'sse';
export type StdioIsolation = 'shared' | 'session';

export interface ProxyConfig {
  transport: UpstreamTransport;
  targetUrl: URL | undefined;
  command: string[];
  /** stdio in Kubernetes: attach to a pod's container instead of spawning `command`. */
  attach: { namespace: string; selector: string; container: string } | undefined;
  /** stdio: one process for all sessions (shared) or one per session. */
  stdioIsolation: StdioIsolation;
  proxyMode: ProxyMode;
  host: string;
  port: number;
  metricsHost: string;
  metricsPort: number;
  sessionIdleTimeoutMs: number;
  maxSessions: number;
  /** Budget flags as given; unset ones are derived from the memory limit (budget.ts). */
  limits: BudgetOverrides;
  clientHeaderTimeoutMs: number;
  clientBodyTimeoutMs: number;
  upstreamConnectTimeoutMs: number;
  upstreamResponseTimeoutMs: number;
  memoryLimitBytes: number | undefined;
  logLevel: LogLevel;
  enableDebug: boolean;
  shutdownTimeoutMs: number;
  /** undefined: authentication off (no --oidc-issuer, no kubernetesServiceAccount type). */
  authn: AuthnConfig | undefined;
}

const FLAGS: readonly FlagSpec[] = [
  { name: 'transport', kind: 'string', default: 'stdio', choices: ['stdio', 'sse', 'streamable-http'], help: 'how the upstream MCP server talks' },
  { name: 'target-url', kind: 'string', help: 'upstream URL for sse (its /sse endpoint) and streamable-http (its /mcp endpoint)' },
  { name: 'attach-selector', kind: 'string', help: 'stdio in Kubernetes: label selector of the MCP server pod to attach to (instead of a command)' },
  { name: 'attach-namespace', kind: 'string', env: ['POD_NAMESPACE'], help: 'namespace of that pod (default: this pod\'s namespace)' },
  { name: 'attach-container', kind: 'string', default: 'mcp', help: 'container to attach to in that pod' },
  { name: 'stdio-isolation', kind: 'string', default: 'shared', choices: ['shared', 'session'], help: 'stdio: one server process multiplexed across sessions (shared), or one process per session, capped by --max-sessions (session); attach mode is always shared' },
  { name: 'proxy-mode', kind: 'string', default: 'streamable-http', choices: ['streamable-http', 'sse'], help: 'what clients see: streamable HTTP at /mcp, or legacy SSE at /sse + /messages' },
  { name: 'host', kind: 'string', default: '0.0.0.0', help: 'address the MCP listener binds' },
  { name: 'port', kind: 'int', default: '8080', help: 'port of the MCP listener' },
  { name: 'metrics-host', kind: 'string', default: '0.0.0.0', help: 'address of the metrics/health listener' },
  { name: 'metrics-port', kind: 'int', default: '9464', help: 'port of /metrics, /healthz, /readyz and /debug/*' },
  { name: 'session-idle-timeout', kind: 'duration', default: '30m', help: 'end a session after this long without a request or open stream' },
  { name: 'max-sessions', kind: 'int', default: '10000', help: 'hard cap on sessions; the least recently used is evicted beyond it' },
  { name: 'max-body-bytes', kind: 'bytes', help: 'largest request body accepted, 413 beyond (default and ceiling: --max-message-bytes)' },
  { name: 'max-message-bytes', kind: 'bytes', help: 'largest message the proxy holds whole: request body, stdio line, SSE event (default: from the memory limit, 4Mi at 128Mi)' },
  { name: 'max-connections', kind: 'int', help: 'client connections served at once; beyond it 503 + Retry-After, beyond twice it closed at accept (default: from the memory limit, 512 at 128Mi)' },
  { name: 'max-streams', kind: 'int', help: 'open GET/SSE streams at once; beyond it 503 + Retry-After (default: from the memory limit, 341 at 128Mi)' },
  { name: 'max-buffered-bytes', kind: 'bytes', help: 'bytes held at once in bodies, lines, events and queued writes; beyond it 503 or a JSON-RPC error (default: half the limit above 64Mi)' },
  { name: 'client-header-timeout', kind: 'duration', default: '10s', help: 'a client must send its request headers within this (slowloris guard)' },
  { name: 'client-body-timeout', kind: 'duration', default: '30s', help: 'a client must send its whole request within this; responses and streams are not limited' },
  { name: 'upstream-connect-timeout', kind: 'duration', default: '5s', help: 'time allowed to connect to the upstream' },
  { name: 'upstream-response-timeout', kind: 'duration', default: '5m', help: 'time allowed until the upstream starts answering (0 = none); streams are never cut' },
  { name: 'memory-limit', kind: 'bytes', help: 'memory budget: sizes the V8 heap and the --max-* limits (default: the cgroup limit, else 1Gi for the limits)' },
  { name: 'log-level', kind: 'string', default: 'info', choices: ['debug', 'info', 'warn', 'error'], help: 'least severe level logged' },
  { name: 'enable-debug', kind: 'bool', default: 'false', help: 'serve /debug/heap and /debug/heap/snapshot on the metrics port' },
  { name: 'shutdown-timeout', kind: 'duration', default: '15s', help: 'grace period for open requests on SIGTERM' },
  ...AUTHN_FLAGS,
];

export { envName, UsageError };

export function helpText(): string {
  return renderHelp(FLAGS, {
    usage: 'mcpfleet-proxyrunner [flags] [-- CMD ARGS...]',
    about: [
      'An MCP proxy that tracks sessions and exports Prometheus metrics. With --transport',
      'stdio it spawns CMD ARGS and multiplexes it across HTTP sessions.',
    ],
    examples: [
      'mcpfleet-proxyrunner --transport stdio -- npx -y @modelcontextprotocol/server-everything stdio',
      'mcpfleet-proxyrunner --transport streamable-http --target-url http://127.0.0.1:3001/mcp --memory-limit 128Mi',
    ],
  });
}

/** Parses argv (without node and script) with env fallbacks; throws UsageError on bad input. */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ProxyConfig | 'help' {
  const flags = parseFlags(FLAGS, argv, env, { allowPositionals: true });
  if (flags === 'help') return 'help';

  const transport = flags.string('transport') as UpstreamTransport;
  const target = flags.string('target-url');
  let targetUrl: URL | undefined;
  if (transport !== 'stdio') {
    if (!target) throw new UsageError(`--target-url is required with --transport ${transport}`);
    try {
      targetUrl = new URL(target);
    } catch {
      throw new UsageError(`--target-url "${target}" is not a URL`);
    }
    if (targetUrl.protocol !== 'http:' && targetUrl.protocol !== 'https:') {
      throw new UsageError(`--target-url must be http or https (got ${targetUrl.protocol})`);
    }
  }
  const command = flags.positionals.length > 0 ? [...flags.positionals] : splitCommand(env['MCPFLEET_COMMAND']);
  const selector = flags.string('attach-selector');
  if (transport === 'stdio' && selector && command.length > 0) {
    throw new UsageError('--attach-selector and a server command exclude each other: attach to a pod, or spawn a process');
  }
  if (transport === 'stdio' && !selector && command.length === 0) {
    throw new UsageError('--transport stdio needs the server command after "--" (or MCPFLEET_COMMAND), or --attach-selector');
  }
  const stdioIsolation = flags.string('stdio-isolation') as StdioIsolation;
  if (stdioIsolation === 'session' && transport !== 'stdio') {
    throw new UsageError(`--stdio-isolation session applies to --transport stdio only (got ${transport})`);
  }
  if (stdioIsolation === 'session' && selector) {
    throw new UsageError('--stdio-isolation session cannot attach to a pod: an attached pod is one process, so it is shared (one backend pod per session is not offered)');
  }
  const attach =
    transport === 'stdio' && selector
      ? { selector, container: flags.string('attach-container') as string, namespace: flags.string('attach-namespace') || serviceAccountNamespace() }
      : undefined;

  return {
    transport,
    targetUrl,
    command: transport === 'stdio' && !attach ? command : [],
    attach,
    stdioIsolation,
    proxyMode: flags.string('proxy-mode') as ProxyMode,
    host: flags.string('host') as string,
    port: flags.int('port', 0, 65535),
    metricsHost: flags.string('metrics-host') as string,
    metricsPort: flags.int('metrics-port', 0, 65535),
    sessionIdleTimeoutMs: flags.duration('session-idle-timeout'),
    maxSessions: flags.int('max-sessions', 1, 10_000_000),
    limits: budgetFlags(flags),
    clientHeaderTimeoutMs: flags.duration('client-header-timeout'),
    clientBodyTimeoutMs: flags.duration('client-body-timeout'),
    upstreamConnectTimeoutMs: flags.duration('upstream-connect-timeout'),
    upstreamResponseTimeoutMs: flags.duration('upstream-response-timeout'),
    memoryLimitBytes: flags.optionalBytes('memory-limit'),
    logLevel: flags.string('log-level') as LogLevel,
    enableDebug: flags.bool('enable-debug'),
    shutdownTimeoutMs: flags.duration('shutdown-timeout'),
    authn: parseAuthnConfig(flags, env),
  };
}

function budgetFlags(flags: Flags): BudgetOverrides {
  const limits: BudgetOverrides = {
    maxConnections: flags.optionalInt('max-connections', 1, 10_000_000),
    maxStreams: flags.optionalInt('max-streams', 1, 10_000_000),
    maxMessageBytes: flags.optionalBytes('max-message-bytes'),
    maxBodyBytes: flags.optionalBytes('max-body-bytes'),
    bufferBytes: flags.optionalBytes('max-buffered-bytes'),
  };
  for (const [name, value] of [['max-message-bytes', limits.maxMessageBytes], ['max-body-bytes', limits.maxBodyBytes], ['max-buffered-bytes', limits.bufferBytes]] as const) {
    if (value !== undefined && value < 1024) throw new UsageError(`--${name} must be at least 1Ki`);
  }
  if (limits.maxBodyBytes !== undefined && limits.maxMessageBytes !== undefined && limits.maxBodyBytes > limits.maxMessageBytes) {
    throw new UsageError('--max-body-bytes cannot exceed --max-message-bytes: a request body is a message the proxy parses');
  }
  if (limits.maxMessageBytes !== undefined && limits.bufferBytes !== undefined && limits.maxMessageBytes > limits.bufferBytes) {
    throw new UsageError('--max-message-bytes cannot exceed --max-buffered-bytes');
  }
  return limits;
}

function serviceAccountNamespace(): string {
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim();
  } catch {
    return 'default';
  }
}

/** MCPFLEET_COMMAND is a JSON array (exact) or a space-separated string (simple). */
function splitCommand(text: string | undefined): string[] {
  if (!text) return [];
  if (text.trim().startsWith('[')) {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return parsed;
    throw new UsageError('MCPFLEET_COMMAND must be a JSON array of strings');
  }
  return text.trim().split(/\s+/);
}

/** A flat, loggable view of the effective configuration. */
export function describeConfig(config: ProxyConfig): Record<string, unknown> {
  return {
    transport: config.transport,
    target: config.targetUrl?.href,
    command: config.command.join(' ') || undefined,
    attach: config.attach ? `${config.attach.namespace}/${config.attach.selector} (${config.attach.container})` : undefined,
    stdioIsolation: config.transport === 'stdio' ? config.stdioIsolation : undefined,
    proxyMode: config.proxyMode,
    sessionIdleTimeout: formatDuration(config.sessionIdleTimeoutMs),
    maxSessions: config.maxSessions,
    maxBodyBytes: config.limits.maxBodyBytes === undefined ? 'derived' : formatBytes(config.limits.maxBodyBytes),
    memoryLimit: config.memoryLimitBytes ? formatBytes(config.memoryLimitBytes) : 'none',
    ...describeAuthn(config.authn),
  };
}
