// The proxyrunner's configuration: its flags (the table is in common/contract/proxyrunner.ts, which
// the operator starts proxyrunners with; parsing in common/cli/flags.ts) and the checks that span flags.
import { fs } from '../../common/builtins.ts';
import type { BudgetOverrides } from './budget.ts';
import { envName, helpText as renderHelp, parseFlags, UsageError, type FlagSpec, type Flags } from '../../common/cli/flags.ts';
import { PROXYRUNNER_FLAGS, REDIS_PASSWORD_ENV, type ProxyMode, type UpstreamTransport } from '../../common/contract/proxyrunner.ts';
import type { LogLevel } from '../../common/log.ts';
import { formatBytes, formatDuration } from '../../common/quantity.ts';
import { parsePortSelector, type PortSelector } from './backends/endpoints.ts';
import { AUTHN_FLAGS, describeAuthn, parseAuthnConfig, type AuthnConfig } from './auth/authnConfig.ts';
import { describeTelemetry, parseMetricsExportConfig, parseTelemetryConfig, type MetricsExportConfig, type TelemetryConfig } from './telemetry/config.ts';

export type { ProxyMode, UpstreamTransport };
export type StdioIsolation = 'shared' | 'session';

export interface ProxyConfig {
  transport: UpstreamTransport;
  targetUrl: URL | undefined;
  command: string[];
  /** stdio in Kubernetes: attach to a pod's container instead of spawning `command`. */
  attach: { namespace: string; selector: string; container: string; maxPods: number } | undefined;
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
  /** The how-to-connect note on stderr (banner.ts). */
  banner: 'auto' | 'always' | 'never';
  /** Cedar authorization (ToolHive's authz config format), from a watched file or inline. */
  authz: { file: string; inline?: undefined } | { inline: string; file?: undefined } | undefined;
  /** Tool filter and overrides (ToolHive's MCPToolConfig spec), from a watched file or inline. */
  tools: { file: string; inline?: undefined } | { inline: string; file?: undefined } | undefined;
  /** One audit event per MCP operation, as JSON lines to stderr or `file`. */
  audit: { file: string | undefined; component: string; includeRequestData: boolean; maxDataSize: number } | undefined;
  /** `--session-storage redis`: the fleet's shared session table (transparent streamable-HTTP path only). */
  sessionStorage: SessionStorageConfig;
  /** OpenTelemetry tracing (--otel-*); undefined = off, and the SDK is never loaded. */
  telemetry: TelemetryConfig | undefined;
  /** OTLP metrics export (--otel-metrics-enabled with --otel-endpoint); undefined when off. */
  otlpMetrics: MetricsExportConfig | undefined;
  /** `--backend-service`: several backend pods, discovered through their EndpointSlices (transparent streamable-HTTP path only). */
  backends: BackendsConfig | undefined;
}

export interface BackendsConfig {
  service: string;
  namespace: string;
  port: PortSelector;
  /** `--session-recovery`: end a session whose pod is gone, or re-initialize it elsewhere. */
  recovery: 'none' | 'replay';
}

export type SessionStorageConfig =
  | { provider: 'memory' }
  | {
      provider: 'redis';
      address: string;
      db: number;
      keyPrefix: string;
      passwordFile: string | undefined;
      /** From MCPFLEET_REDIS_PASSWORD only (never a flag); never logged. */
      password: string | undefined;
    };

// The table itself is the operator's contract too: common/contract/proxyrunner.ts.
// The authentication flags stay beside their parser (auth/authnConfig.ts): the operator sets none of them.
const FLAGS: readonly FlagSpec[] = [...PROXYRUNNER_FLAGS, ...AUTHN_FLAGS];

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
    throw new UsageError(
      '--stdio-isolation session cannot attach to a pod: an attached pod is one process, so it is shared (one backend pod per session is not offered)',
    );
  }
  const maxPods = flags.int('attach-max-pods', 1, 100);
  const attach =
    transport === 'stdio' && selector
      ? {
          selector,
          container: flags.string('attach-container') as string,
          namespace: flags.string('attach-namespace') || serviceAccountNamespace(),
          maxPods,
        }
      : undefined;

  const authzFile = flags.string('authz-config');
  const authzInline = flags.string('authz-config-inline');
  if (authzFile && authzInline) throw new UsageError('--authz-config and --authz-config-inline exclude each other');
  const toolFile = flags.string('tool-config');
  const toolInline = flags.string('tool-config-inline');
  if (toolFile && toolInline) throw new UsageError('--tool-config and --tool-config-inline exclude each other');
  const auditFile = flags.string('audit-file');
  const auditOn = flags.bool('audit') || Boolean(auditFile);

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
    banner: flags.string('banner') as ProxyConfig['banner'],
    authz: authzFile ? { file: authzFile } : authzInline ? { inline: authzInline } : undefined,
    tools: toolFile ? { file: toolFile } : toolInline ? { inline: toolInline } : undefined,
    audit: auditOn
      ? {
          file: auditFile || undefined,
          component: flags.string('audit-component') as string,
          includeRequestData: flags.bool('audit-include-request-data'),
          maxDataSize: flags.bytes('audit-max-data-size'),
        }
      : undefined,
    sessionStorage: sessionStorage(flags, transport, flags.string('proxy-mode') as ProxyMode, env),
    backends: backends(flags, transport, flags.string('proxy-mode') as ProxyMode, targetUrl),
    telemetry: parseTelemetryConfig(flags, env),
    otlpMetrics: parseMetricsExportConfig(flags, env),
  };
}

function backends(flags: Flags, transport: UpstreamTransport, proxyMode: ProxyMode, target: URL | undefined): BackendsConfig | undefined {
  const service = flags.string('backend-service');
  const recovery = flags.string('session-recovery') as BackendsConfig['recovery'];
  if (!service) {
    if (flags.string('backend-port')) throw new UsageError('--backend-port needs --backend-service');
    if (recovery !== 'none') throw new UsageError('--session-recovery needs --backend-service: with one backend there is nowhere to recover to');
    return undefined;
  }
  if (transport !== 'streamable-http' || proxyMode !== 'streamable-http' || target === undefined) {
    throw new UsageError('--backend-service is supported with --transport streamable-http and --proxy-mode streamable-http only');
  }
  if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(service))
    throw new UsageError(`--backend-service must be a Service name (DNS-1035 label), got ${JSON.stringify(service)}`);
  const portText = flags.string('backend-port') || target.port || (target.protocol === 'https:' ? '443' : '80');
  let port: PortSelector;
  try {
    port = parsePortSelector(portText);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { service, namespace: flags.string('backend-namespace') || serviceAccountNamespace(), port, recovery };
}

function budgetFlags(flags: Flags): BudgetOverrides {
  const limits: BudgetOverrides = {
    maxConnections: flags.optionalInt('max-connections', 1, 10_000_000),
    maxStreams: flags.optionalInt('max-streams', 1, 10_000_000),
    maxMessageBytes: flags.optionalBytes('max-message-bytes'),
    maxBodyBytes: flags.optionalBytes('max-body-bytes'),
    bufferBytes: flags.optionalBytes('max-buffered-bytes'),
  };
  for (const [name, value] of [
    ['max-message-bytes', limits.maxMessageBytes],
    ['max-body-bytes', limits.maxBodyBytes],
    ['max-buffered-bytes', limits.bufferBytes],
  ] as const) {
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

function sessionStorage(
  flags: Exclude<ReturnType<typeof parseFlags>, 'help'>,
  transport: UpstreamTransport,
  proxyMode: ProxyMode,
  env: NodeJS.ProcessEnv,
): SessionStorageConfig {
  if (flags.string('session-storage') !== 'redis') return { provider: 'memory' };
  if (transport !== 'streamable-http' || proxyMode !== 'streamable-http') {
    throw new UsageError('--session-storage redis is supported with --transport streamable-http and --proxy-mode streamable-http only');
  }
  const address = flags.string('redis-address');
  if (!address) throw new UsageError('--session-storage redis needs --redis-address host:port');
  const keyPrefix = flags.string('redis-key-prefix') as string;
  if (!/^[A-Za-z0-9_.:{}-]{1,128}$/.test(keyPrefix)) throw new UsageError('--redis-key-prefix: 1-128 of A-Z a-z 0-9 _ . : - { }');
  const passwordFile = flags.string('redis-password-file') || undefined;
  const password = env[REDIS_PASSWORD_ENV] || undefined;
  if (passwordFile && password) throw new UsageError(`--redis-password-file and ${REDIS_PASSWORD_ENV} exclude each other`);
  return { provider: 'redis', address, db: flags.int('redis-db', 0, 15), keyPrefix, passwordFile, password };
}

function serviceAccountNamespace(): string {
  try {
    return fs.readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim();
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
    attach: config.attach
      ? `${config.attach.namespace}/${config.attach.selector} (${config.attach.container}, up to ${config.attach.maxPods} pod${config.attach.maxPods === 1 ? '' : 's'})`
      : undefined,
    stdioIsolation: config.transport === 'stdio' ? config.stdioIsolation : undefined,
    proxyMode: config.proxyMode,
    sessionIdleTimeout: formatDuration(config.sessionIdleTimeoutMs),
    maxSessions: config.maxSessions,
    maxBodyBytes: config.limits.maxBodyBytes === undefined ? 'derived' : formatBytes(config.limits.maxBodyBytes),
    memoryLimit: config.memoryLimitBytes ? formatBytes(config.memoryLimitBytes) : 'none',
    ...describeAuthn(config.authn),
    authz: config.authz ? (config.authz.file ?? 'inline') : 'off',
    tools: config.tools ? (config.tools.file ?? 'inline') : 'off',
    audit: config.audit ? (config.audit.file ?? 'stderr') : 'off',
    sessionStorage:
      config.sessionStorage.provider === 'redis'
        ? `redis ${config.sessionStorage.address}/${config.sessionStorage.db} ${config.sessionStorage.keyPrefix}:*`
        : 'memory',
    backends: config.backends
      ? `${config.backends.namespace}/${config.backends.service} port ${'name' in config.backends.port ? config.backends.port.name : config.backends.port.number} recovery ${config.backends.recovery}`
      : undefined,
    ...describeTelemetry(config.telemetry, config.otlpMetrics),
  };
}
