// The contract between the operator and the proxyrunner, in the one place both may import:
// the proxyrunner's flag table (proxyrunner/src/config.ts parses it, --help prints it) and the
// function that turns typed options into the argv and environment that start a proxyrunner
// (the operator's builders put them in each proxy Deployment). A renamed flag, a changed
// default or a new transport is therefore a type error or a failing contract test
// (test/contract/proxyrunner.test.ts parses what the operator writes with the proxyrunner's
// own parser), never a proxy that exits 2 in somebody's cluster.
//
// Adding a flag: one line in PROXYRUNNER_FLAGS (in --help order), its parsing in
// proxyrunner/src/config.ts, its row in README's flag table; if the operator sets it, a field
// in ProxyrunnerOptions and a line in proxyrunnerCommandLine (and a case in the contract test).
import { envName, type FlagSpec } from '../cli/flags.ts';
import { AUTHN_FLAGS, OIDC_CLIENT_SECRET_ENV } from './authnFlags.ts';

/** Where /metrics, /healthz and /readyz listen unless told otherwise; an MCPServer's proxyPort may not take it. */
export const PROXYRUNNER_METRICS_PORT = 9464;

export const UPSTREAM_TRANSPORTS = ['stdio', 'sse', 'streamable-http'] as const;
/** How the upstream MCP server talks. */
export type UpstreamTransport = (typeof UPSTREAM_TRANSPORTS)[number];

export const PROXY_MODES = ['streamable-http', 'sse'] as const;
/** What clients of the proxy see. */
export type ProxyMode = (typeof PROXY_MODES)[number];

export const PROXYRUNNER_FLAGS = [
  { name: 'transport', kind: 'string', default: 'stdio', choices: UPSTREAM_TRANSPORTS, help: 'how the upstream MCP server talks' },
  { name: 'target-url', kind: 'string', help: 'upstream URL for sse (its /sse endpoint) and streamable-http (its /mcp endpoint)' },
  { name: 'attach-selector', kind: 'string', help: 'stdio in Kubernetes: label selector of the MCP server pod to attach to (instead of a command)' },
  { name: 'attach-namespace', kind: 'string', env: ['POD_NAMESPACE'], help: "namespace of that pod (default: this pod's namespace)" },
  { name: 'attach-container', kind: 'string', default: 'mcp', help: 'container to attach to in that pod' },
  {
    name: 'attach-max-pods',
    kind: 'int',
    default: '1',
    help: 'stdio in Kubernetes: attach to up to this many matching running pods (one process each) and spread sessions over them, least sessions first',
  },
  {
    name: 'stdio-isolation',
    kind: 'string',
    default: 'shared',
    choices: ['shared', 'session'],
    help: 'stdio: one server process multiplexed across sessions (shared), or one process per session, capped by --max-sessions (session); attach mode is always shared',
  },
  {
    name: 'proxy-mode',
    kind: 'string',
    default: 'streamable-http',
    choices: PROXY_MODES,
    help: 'what clients see: streamable HTTP at /mcp, or legacy SSE at /sse + /messages',
  },
  {
    name: 'backend-service',
    kind: 'string',
    help: 'streamable-http: headless Service of several backend pods; the proxy watches its EndpointSlices and pins each session to one pod',
  },
  {
    name: 'backend-port',
    kind: 'string',
    help: "with --backend-service: the backends' port, by name (as in the Service) or number (default: --target-url's port)",
  },
  {
    name: 'backend-namespace',
    kind: 'string',
    env: ['POD_NAMESPACE'],
    help: "with --backend-service: the Service's namespace (default: this pod's namespace)",
  },
  {
    name: 'session-recovery',
    kind: 'string',
    default: 'none',
    choices: ['none', 'replay'],
    help: "with --backend-service: a session whose pod went away ends (none: the client gets 404 and re-initializes) or is re-initialized on a live pod and its request replayed (replay: the session's server-side state is lost silently)",
  },
  { name: 'host', kind: 'string', default: '0.0.0.0', help: 'address the MCP listener binds' },
  { name: 'port', kind: 'int', default: '8080', help: 'port of the MCP listener' },
  { name: 'metrics-host', kind: 'string', default: '0.0.0.0', help: 'address of the metrics/health listener' },
  { name: 'metrics-port', kind: 'int', default: String(PROXYRUNNER_METRICS_PORT), help: 'port of /metrics, /healthz, /readyz and /debug/*' },
  { name: 'session-idle-timeout', kind: 'duration', default: '30m', help: 'end a session after this long without a request or open stream' },
  { name: 'max-sessions', kind: 'int', default: '10000', help: 'hard cap on sessions; the least recently used is evicted beyond it' },
  { name: 'max-body-bytes', kind: 'bytes', help: 'largest request body accepted, 413 beyond (default and ceiling: --max-message-bytes)' },
  {
    name: 'max-message-bytes',
    kind: 'bytes',
    help: 'largest message the proxy holds whole: request body, stdio line, SSE event (default: from the memory limit, 4Mi at 128Mi)',
  },
  {
    name: 'max-connections',
    kind: 'int',
    help: 'client connections served at once; beyond it 503 + Retry-After, beyond twice it closed at accept (default: from the memory limit, 512 at 128Mi)',
  },
  { name: 'max-streams', kind: 'int', help: 'open GET/SSE streams at once; beyond it 503 + Retry-After (default: from the memory limit, 341 at 128Mi)' },
  {
    name: 'max-buffered-bytes',
    kind: 'bytes',
    help: 'bytes held at once in bodies, lines, events and queued writes; beyond it 503 or a JSON-RPC error (default: half the limit above 64Mi)',
  },
  { name: 'client-header-timeout', kind: 'duration', default: '10s', help: 'a client must send its request headers within this (slowloris guard)' },
  {
    name: 'client-body-timeout',
    kind: 'duration',
    default: '30s',
    help: 'a client must send its whole request within this; responses and streams are not limited',
  },
  { name: 'upstream-connect-timeout', kind: 'duration', default: '5s', help: 'time allowed to connect to the upstream' },
  {
    name: 'upstream-response-timeout',
    kind: 'duration',
    default: '5m',
    help: 'time allowed until the upstream starts answering (0 = none); streams are never cut',
  },
  { name: 'memory-limit', kind: 'bytes', help: 'memory budget: sizes the V8 heap and the --max-* limits (default: the cgroup limit, else 1Gi for the limits)' },
  { name: 'log-level', kind: 'string', default: 'info', choices: ['debug', 'info', 'warn', 'error'], help: 'least severe level logged' },
  { name: 'enable-debug', kind: 'bool', default: 'false', help: 'serve /debug/heap and /debug/heap/snapshot on the metrics port' },
  { name: 'shutdown-timeout', kind: 'duration', default: '15s', help: 'grace period for open requests on SIGTERM' },
  {
    name: 'banner',
    kind: 'string',
    default: 'auto',
    choices: ['auto', 'always', 'never'],
    help: 'a short how-to-connect note on stderr at start; auto: only when stderr is a terminal, so JSON logs stay clean for machines',
  },
  { name: 'authz-config', kind: 'string', help: 'Cedar authorization config file (ToolHive format, JSON or YAML); reloaded when it changes' },
  { name: 'authz-config-inline', kind: 'string', help: 'the same config given as text (not reloaded); excludes --authz-config' },
  {
    name: 'tool-config',
    kind: 'string',
    help: "tool filter and overrides (ToolHive's MCPToolConfig spec: toolsFilter, toolsOverride; JSON or YAML); reloaded when it changes",
  },
  { name: 'tool-config-inline', kind: 'string', help: 'the same config given as text (not reloaded); excludes --tool-config' },
  { name: 'audit', kind: 'bool', default: 'false', help: 'write one audit event per MCP operation (JSON lines)' },
  { name: 'audit-file', kind: 'string', help: 'append audit events to this file instead of stderr' },
  { name: 'audit-component', kind: 'string', default: 'mcp-server', help: "the component name in audit events (the MCP server's name)" },
  { name: 'audit-include-request-data', kind: 'bool', default: 'false', help: 'include request params (tool arguments) in audit events' },
  { name: 'audit-max-data-size', kind: 'bytes', default: '1Ki', help: 'cap on the request data included per audit event' },
  // OpenTelemetry (ToolHive's `thv run --otel-*` names where the feature is the same).
  { name: 'otel-endpoint', kind: 'string', help: 'OTLP endpoint (host:port or URL); traces are exported only when it is set' },
  {
    name: 'otel-protocol',
    kind: 'string',
    default: 'http/protobuf',
    env: ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'],
    choices: ['http/protobuf', 'http/json', 'grpc'],
    help: 'OTLP protocol of the traces: HTTP with protobuf or JSON bodies (/v1/traces), or gRPC',
  },
  { name: 'otel-insecure', kind: 'bool', default: 'false', help: 'plain HTTP / gRPC without TLS when the endpoint has no scheme' },
  { name: 'otel-headers', kind: 'string', help: 'headers sent with every export, key=value,key=value (not secret: they are in the argv)' },
  {
    name: 'otel-headers-from-env',
    kind: 'string',
    help: 'sensitive export headers, NAME=ENV_VAR,...: each value is read from that environment variable (filled from a Secret)',
  },
  { name: 'otel-ca-file', kind: 'string', help: 'PEM bundle trusted for the OTLP endpoint (in addition to the system roots)' },
  { name: 'otel-tracing-enabled', kind: 'bool', default: 'true', help: 'export traces (needs --otel-endpoint)' },
  {
    name: 'otel-metrics-enabled',
    kind: 'bool',
    default: 'false',
    help: 'export the Prometheus metrics over OTLP/HTTP too, same names (needs --otel-endpoint)',
  },
  { name: 'otel-metrics-interval', kind: 'duration', default: '60s', help: 'how often the OTLP metrics are exported' },
  { name: 'otel-sampling-rate', kind: 'string', default: '0.1', help: 'share of new traces sampled, 0..1 (a client-sampled parent is followed)' },
  {
    name: 'otel-service-name',
    kind: 'string',
    env: ['OTEL_SERVICE_NAME'],
    help: "service.name of the spans (the MCPServer's name; default mcpfleet-proxyrunner)",
  },
  {
    name: 'otel-resource-attributes',
    kind: 'string',
    env: ['OTEL_RESOURCE_ATTRIBUTES'],
    help: 'extra resource attributes, key=value,key=value (k8s.pod.name and k8s.namespace.name come from POD_NAME and POD_NAMESPACE)',
  },
  {
    name: 'otel-session-id',
    kind: 'string',
    default: 'hashed',
    choices: ['hashed', 'omitted'],
    help: 'mcp.session.id on spans: a SHA-256 prefix of the session id, or left out',
  },
  {
    name: 'session-storage',
    kind: 'string',
    default: 'memory',
    choices: ['memory', 'redis'],
    help: 'where sessions live: this process, or a Redis shared by every replica (streamable-http transparent path)',
  },
  { name: 'redis-address', kind: 'string', help: 'Redis host:port for --session-storage redis' },
  { name: 'redis-db', kind: 'int', default: '0', help: 'Redis database number' },
  { name: 'redis-key-prefix', kind: 'string', default: 'mcpfleet', help: 'prefix of every Redis key (one per proxied MCP server)' },
  {
    name: 'redis-password-file',
    kind: 'string',
    help: 'file holding the Redis password (a mounted Secret); or set MCPFLEET_REDIS_PASSWORD (there is no password flag: arguments show in ps)',
  },
] as const satisfies readonly FlagSpec[];

/** The Redis password's environment variable. Not a flag on purpose: argv is visible to every process (ps, /proc). */
export const REDIS_PASSWORD_ENV = 'MCPFLEET_REDIS_PASSWORD';

/** The name of a proxyrunner flag the operator may set (without the dashes); a typo is a type error. */
export type ProxyrunnerFlag = (typeof PROXYRUNNER_FLAGS)[number]['name'] | (typeof AUTHN_FLAGS)[number]['name'];

/** The flag's default as the proxyrunner would apply it (the tables are the one source). */
export function proxyrunnerDefault(name: ProxyrunnerFlag): string | undefined {
  const flag: FlagSpec | undefined = [...PROXYRUNNER_FLAGS, ...AUTHN_FLAGS].find((f: FlagSpec) => f.name === name);
  return flag?.default;
}

/** The environment variable the proxyrunner reads for a flag (MCPFLEET_<FLAG>). */
export const proxyrunnerEnvName = (name: ProxyrunnerFlag): string => envName(name);

/** An environment variable set either to a value or from a source the caller defines (a Kubernetes valueFrom, say). */
export type EnvEntry<S> = { name: string; value: string } | { name: string; valueFrom: S };

/** What the operator (or anyone starting a proxyrunner) decides; everything else keeps the proxyrunner's default. */
export interface ProxyrunnerOptions<S = never> {
  transport: UpstreamTransport;
  /** sse and streamable-http: the upstream's endpoint. */
  targetUrl?: string;
  /** stdio in Kubernetes: the pod and container to attach to (passed as MCPFLEET_ATTACH_* variables). */
  attach?: { namespace: string; selector: string; container: string; maxPods?: number };
  proxyMode: ProxyMode;
  port: number;
  metricsPort: number;
  /** A duration as the flag takes it ("30m"). */
  sessionIdleTimeout: string;
  maxSessions: number;
  /** The memory budget, as a quantity or from a source (MCPFLEET_MEMORY_LIMIT). */
  memoryLimit?: string | { valueFrom: S };
  /** Cedar policies from a (mounted, hot-reloaded) file. */
  authzConfigFile?: string;
  /** Cedar policies as text (MCPFLEET_AUTHZ_CONFIG_INLINE: an edit rolls the pod). */
  authzConfigInline?: string;
  /** Tool filter and overrides from a (mounted, hot-reloaded) file. */
  toolConfigFile?: string;
  /** One audit event per MCP operation, naming this component. */
  audit?: { component: string };
  /** --session-storage redis; the password only ever from a source (MCPFLEET_REDIS_PASSWORD), never an argument. */
  redis?: { address: string; db: number; keyPrefix: string; password?: { valueFrom: S } };
  /** Bearer-token authentication (an MCPOIDCConfig through an MCPServer's oidcConfigRef). */
  authn?: AuthnOptions<S>;
  /**
   * Several backend pods: the headless Service whose EndpointSlices list them, its namespace and port name, and
   * what happens to a session whose pod went away (--session-recovery; unset: the proxyrunner's default, none).
   */
  backends?: { service: string; namespace: string; port: string; recovery?: 'none' | 'replay' };
  /** OpenTelemetry traces (an MCPTelemetryConfig through an MCPServer's telemetryConfigRef). */
  telemetry?: TelemetryOptions<S>;
}

/** The --otel-* settings. Secret header values only ever from a source, through numbered env variables. */
export interface TelemetryOptions<S> {
  endpoint: string;
  insecure?: boolean;
  /** Not secret: they end up in the argv. */
  headers?: Readonly<Record<string, string>>;
  sensitiveHeaders?: readonly { name: string; valueFrom: S }[];
  caFile?: string;
  /** "0".."1", as the flag takes it. */
  samplingRate?: string;
  serviceName: string;
  resourceAttributes?: Readonly<Record<string, string>>;
  /** Export traces (default on) and/or the metrics over OTLP (default off). */
  tracingEnabled?: boolean;
  metricsEnabled?: boolean;
  /** The pod's name (a downward-API source), read by the proxy as POD_NAME into k8s.pod.name. */
  podName?: { valueFrom: S };
}

/** The environment variable that carries the i-th sensitive OTLP header (named by --otel-headers-from-env). */
export const otelHeaderEnvName = (index: number): string => `MCPFLEET_OTEL_HEADER_${index}`;

/** key=value,... with each value percent-encoded (the proxy decodes): a "," or "=" in a value stays in it. */
const keyValueList = (pairs: Readonly<Record<string, string>>): string =>
  Object.entries(pairs)
    .map(([key, value]) => `${key}=${encodeURIComponent(value)}`)
    .join(',');

/** The --oidc-* settings; files are paths inside the proxy's container (mounted ConfigMaps, projected tokens). */
export interface AuthnOptions<S> {
  type: 'inline' | 'kubernetesServiceAccount';
  issuer?: string;
  audience: string;
  resourceUrl: string;
  jwksUrl?: string;
  introspectionUrl?: string;
  clientId?: string;
  /** The introspection client secret, only ever from a source (a Secret): never a value in args or env. */
  clientSecret?: { valueFrom: S };
  caBundleFile?: string;
  kubernetesTokenFile?: string;
  scopes?: readonly string[];
  allowedServiceAccounts?: readonly string[];
}

export interface ProxyrunnerCommandLine<S> {
  /** Flags only, no command: the image's entrypoint runs the program. */
  args: string[];
  /** Sorted by name. */
  env: EnvEntry<S>[];
}

const arg = (name: ProxyrunnerFlag, value: string | number): [string, string] => [`--${name}`, String(value)];

/** Typed options -> the argv and environment the proxyrunner's parseConfig reads back into the same settings. */
export function proxyrunnerCommandLine<S = never>(options: ProxyrunnerOptions<S>): ProxyrunnerCommandLine<S> {
  const args: string[] = [...arg('transport', options.transport)];
  if (options.targetUrl !== undefined) args.push(...arg('target-url', options.targetUrl));
  args.push(
    ...arg('proxy-mode', options.proxyMode),
    ...arg('port', options.port),
    ...arg('metrics-port', options.metricsPort),
    ...arg('session-idle-timeout', options.sessionIdleTimeout),
    ...arg('max-sessions', options.maxSessions),
  );
  if (options.backends !== undefined) {
    args.push(...arg('backend-service', options.backends.service), ...arg('backend-port', options.backends.port));
    args.push(...arg('backend-namespace', options.backends.namespace));
    if (options.backends.recovery !== undefined) args.push(...arg('session-recovery', options.backends.recovery));
  }
  if (options.authzConfigFile !== undefined) args.push(...arg('authz-config', options.authzConfigFile));
  if (options.toolConfigFile !== undefined) args.push(...arg('tool-config', options.toolConfigFile));
  if (options.audit !== undefined) args.push('--audit', ...arg('audit-component', options.audit.component));
  const authn = options.authn;
  if (authn !== undefined) {
    args.push(...arg('oidc-type', authn.type));
    if (authn.issuer !== undefined) args.push(...arg('oidc-issuer', authn.issuer));
    args.push(...arg('oidc-audience', authn.audience), ...arg('resource-url', authn.resourceUrl));
    if (authn.jwksUrl !== undefined) args.push(...arg('oidc-jwks-url', authn.jwksUrl));
    if (authn.introspectionUrl !== undefined) args.push(...arg('oidc-introspection-url', authn.introspectionUrl));
    if (authn.clientId !== undefined) args.push(...arg('oidc-client-id', authn.clientId));
    if (authn.caBundleFile !== undefined) args.push(...arg('oidc-ca-bundle-file', authn.caBundleFile));
    if (authn.kubernetesTokenFile !== undefined) args.push(...arg('oidc-kubernetes-token-file', authn.kubernetesTokenFile));
    if (authn.scopes !== undefined && authn.scopes.length > 0) args.push(...arg('oidc-scopes', authn.scopes.join(',')));
    if (authn.allowedServiceAccounts !== undefined && authn.allowedServiceAccounts.length > 0) {
      args.push(...arg('oidc-allowed-service-accounts', authn.allowedServiceAccounts.join(',')));
    }
  }
  const redis = options.redis;
  if (redis !== undefined) {
    args.push(
      ...arg('session-storage', 'redis'),
      ...arg('redis-address', redis.address),
      ...arg('redis-db', redis.db),
      ...arg('redis-key-prefix', redis.keyPrefix),
    );
  }

  const telemetry = options.telemetry;
  const telemetryEnv: EnvEntry<S>[] = [];
  if (telemetry !== undefined) {
    args.push(...arg('otel-endpoint', telemetry.endpoint), ...arg('otel-service-name', telemetry.serviceName));
    if (telemetry.insecure) args.push('--otel-insecure');
    if (telemetry.tracingEnabled === false) args.push('--otel-tracing-enabled=false');
    if (telemetry.metricsEnabled) args.push('--otel-metrics-enabled');
    if (telemetry.samplingRate !== undefined) args.push(...arg('otel-sampling-rate', telemetry.samplingRate));
    if (telemetry.caFile !== undefined) args.push(...arg('otel-ca-file', telemetry.caFile));
    if (telemetry.headers !== undefined && Object.keys(telemetry.headers).length > 0) args.push(...arg('otel-headers', keyValueList(telemetry.headers)));
    if (telemetry.resourceAttributes !== undefined && Object.keys(telemetry.resourceAttributes).length > 0) {
      args.push(...arg('otel-resource-attributes', keyValueList(telemetry.resourceAttributes)));
    }
    const sensitive = telemetry.sensitiveHeaders ?? [];
    if (sensitive.length > 0) {
      args.push(...arg('otel-headers-from-env', sensitive.map((h, i) => `${h.name}=${otelHeaderEnvName(i)}`).join(',')));
      sensitive.forEach((h, i) => telemetryEnv.push({ name: otelHeaderEnvName(i), valueFrom: h.valueFrom }));
    }
    if (telemetry.podName !== undefined) telemetryEnv.push({ name: 'POD_NAME', valueFrom: telemetry.podName.valueFrom });
  }

  const env: EnvEntry<S>[] = [...telemetryEnv];
  const memory = options.memoryLimit;
  if (typeof memory === 'string') env.push({ name: proxyrunnerEnvName('memory-limit'), value: memory });
  else if (memory !== undefined) env.push({ name: proxyrunnerEnvName('memory-limit'), valueFrom: memory.valueFrom });
  if (authn?.clientSecret !== undefined) env.push({ name: OIDC_CLIENT_SECRET_ENV, valueFrom: authn.clientSecret.valueFrom });
  if (options.authzConfigInline !== undefined) env.push({ name: proxyrunnerEnvName('authz-config-inline'), value: options.authzConfigInline });
  if (options.attach !== undefined) {
    env.push(
      { name: proxyrunnerEnvName('attach-namespace'), value: options.attach.namespace },
      { name: proxyrunnerEnvName('attach-selector'), value: options.attach.selector },
      { name: proxyrunnerEnvName('attach-container'), value: options.attach.container },
    );
    if (options.attach.maxPods !== undefined) env.push({ name: proxyrunnerEnvName('attach-max-pods'), value: String(options.attach.maxPods) });
  }
  if (redis?.password !== undefined) env.push({ name: REDIS_PASSWORD_ENV, valueFrom: redis.password.valueFrom });
  env.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { args, env };
}
