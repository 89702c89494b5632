// The OpenAPI schema of MCPServer's spec and status, typed against the API types: the
// compiler rejects a field missing here, an extra one, a wrong required list, or a string
// union without its enum. Every node carries the description `kubectl explain` shows.
import {
  AUTHZ_CONFIG_TYPES,
  DEFAULT_AUTHZ_CONFIG_KEY,
  DEFAULTS,
  PROXY_DEFAULTS,
  PHASES,
  PROXY_METRICS_PORT,
  PROXY_MODES,
  SESSION_AFFINITIES,
  SESSION_RECOVERIES,
  SESSION_STORAGE_PROVIDERS,
  TRANSPORTS,
  type SessionStorageConfig,
  type Condition,
  type AuditConfig,
  type AuthzConfigRef,
  type EnvVar,
  type KeySelector,
  type MCPAuthzConfigReference,
  type MCPTelemetryConfigReference,
  type MCPToolConfigReference,
  type MCPOIDCConfigReference,
  type MCPServerSpec,
  type MCPServerStatus,
  type ResourceRequirements,
  type SecretRef,
} from './types.ts';
import type { ArraySchema, IntOrStringSchema, ObjectSchema, Rule } from './schemaTypes.ts';

/** Kubernetes resource.Quantity syntax ("500m", "128Mi", "1.5", "1e3"). */
const QUANTITY_PATTERN = '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';
/** A DNS-1123 subdomain (names of Secrets, ConfigMaps, ServiceAccounts, config kinds). */
export const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** Durations the proxyrunner parses: "90s", "30m", "1h30m", "500ms". */
const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';
/** Environment variable names: printable ASCII without "=". */
const ENV_NAME_PATTERN = '^[ -<>-~]+$';

/** The transport with its default, usable in CEL rules whether or not the field is set. */
const TRANSPORT_CEL = `(has(self.transport) ? self.transport : '${DEFAULTS.transport}')`;
const PROXY_MODE_CEL = `(has(self.proxyMode) ? self.proxyMode : '${DEFAULTS.proxyMode}')`;
/** The transparent streamable-HTTP path: the only one whose sessions a shared store can hold. */
const TRANSPARENT_CEL = `(${TRANSPORT_CEL} == 'streamable-http' && ${PROXY_MODE_CEL} == 'streamable-http')`;
const REDIS_CEL = `(has(self.sessionStorage) && self.sessionStorage.provider == 'redis')`;
/** Redis key prefixes the proxyrunner accepts (--redis-key-prefix). */
const KEY_PREFIX_PATTERN = '^[A-Za-z0-9_.:{}-]{1,128}$';

function quantity(what: string): IntOrStringSchema {
  return {
    description: `${what}, as a Kubernetes quantity (for example 500m or 2 for CPU, 128Mi or 1Gi for memory).`,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    'x-kubernetes-int-or-string': true,
    pattern: QUANTITY_PATTERN,
  };
}

function resources(whose: string): ObjectSchema<ResourceRequirements> {
  const list = (kind: string): ObjectSchema<NonNullable<ResourceRequirements['limits']>> => ({
    type: 'object',
    description: `${kind} of the ${whose}.`,
    properties: {
      cpu: quantity(`CPU ${kind.toLowerCase()}`),
      memory: quantity(`Memory ${kind.toLowerCase()}`),
    },
  });
  return {
    type: 'object',
    description: `CPU and memory for the ${whose}, as in a container's resources.`,
    properties: {
      limits: list('Limits'),
      requests: list('Requests'),
    },
  };
}

function keySelector(kind: 'Secret' | 'ConfigMap'): ObjectSchema<KeySelector> {
  return {
    type: 'object',
    description: `Selects a key of a ${kind} in the MCPServer's namespace.`,
    required: { name: true, key: true },
    properties: {
      name: { type: 'string', description: `Name of the ${kind}.`, pattern: DNS_SUBDOMAIN, maxLength: 253 },
      key: { type: 'string', description: `The key of the ${kind} whose value is used.`, minLength: 1, maxLength: 253 },
      optional: { type: 'boolean', description: `Whether the pod may start when the ${kind} or its key does not exist.` },
    },
  };
}

const envItem: ObjectSchema<EnvVar> = {
  type: 'object',
  description: 'An environment variable of the MCP server container.',
  required: { name: true },
  properties: {
    name: { type: 'string', description: 'Name of the environment variable.', pattern: ENV_NAME_PATTERN, maxLength: 256 },
    value: { type: 'string', description: 'Literal value. Omit when using valueFrom.', maxLength: 32768 },
    valueFrom: {
      type: 'object',
      description: 'Takes the value from a Secret or ConfigMap key instead of a literal.',
      properties: {
        secretKeyRef: keySelector('Secret'),
        configMapKeyRef: keySelector('ConfigMap'),
      },
      'x-kubernetes-validations': [
        { rule: 'has(self.secretKeyRef) != has(self.configMapKeyRef)', message: 'valueFrom needs exactly one of secretKeyRef or configMapKeyRef' },
      ],
    },
  },
  'x-kubernetes-validations': [{ rule: '!(has(self.value) && has(self.valueFrom))', message: 'an env entry sets either value or valueFrom, not both' }],
};

const env: ArraySchema<EnvVar> = {
  type: 'array',
  description:
    'Environment variables of the MCP server container, each a literal value or a reference to a Secret or ConfigMap key. ' +
    'Kept in the order given, so a value may refer to an earlier variable as $(NAME).',
  items: envItem,
  maxItems: 128,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['name'],
};

const secretItem: ObjectSchema<SecretRef> = {
  type: 'object',
  description: 'A Secret key exposed to the MCP server as an environment variable (ToolHive compatible).',
  required: { name: true, key: true },
  properties: {
    name: { type: 'string', description: "Name of the Secret in the MCPServer's namespace.", pattern: DNS_SUBDOMAIN, maxLength: 253 },
    key: { type: 'string', description: 'The key of the Secret whose value is used.', minLength: 1, maxLength: 253 },
    targetEnvName: {
      type: 'string',
      description: 'Name of the environment variable that receives the value (default: the key).',
      pattern: ENV_NAME_PATTERN,
      maxLength: 256,
    },
  },
};

const authzConfig: ObjectSchema<AuthzConfigRef> = {
  type: 'object',
  description:
    "Cedar authorization of every MCP request at the proxy (ToolHive's authzConfig): policies from a ConfigMap, which the proxy " +
    'reloads when it changes (no restart), or inline, where a change rolls the proxy. Without it the proxy authorizes nothing.',
  properties: {
    type: { type: 'string', description: 'Where the config is: configMap (the default) or inline.', enum: AUTHZ_CONFIG_TYPES, default: 'configMap' },
    configMap: {
      type: 'object',
      description: "A ConfigMap in the MCPServer's namespace whose key holds an authorization config file in ToolHive's format (JSON or YAML).",
      required: { name: true },
      properties: {
        name: { type: 'string', description: 'Name of the ConfigMap.', pattern: DNS_SUBDOMAIN, maxLength: 253 },
        key: {
          type: 'string',
          description: `The key holding the config (default ${DEFAULT_AUTHZ_CONFIG_KEY}).`,
          pattern: '^[-._a-zA-Z0-9]+$',
          maxLength: 253,
          default: DEFAULT_AUTHZ_CONFIG_KEY,
        },
      },
    },
    inline: {
      type: 'object',
      description: 'The Cedar policies themselves.',
      required: { policies: true },
      properties: {
        policies: {
          type: 'array',
          description: 'Cedar policies, one per item, for example permit(principal, action == Action::"call_tool", resource == Tool::"echo");',
          items: { type: 'string', description: 'One Cedar policy.', minLength: 1, maxLength: 65536 },
          minItems: 1,
          maxItems: 1000,
        },
        entitiesJson: { type: 'string', description: 'Cedar entities as a JSON list (default []).', maxLength: 262144, default: '[]' },
      },
    },
  },
  'x-kubernetes-validations': [
    {
      rule: "(has(self.type) && self.type == 'inline') ? (has(self.inline) && !has(self.configMap)) : (has(self.configMap) && !has(self.inline))",
      message: 'authzConfig needs configMap when type is configMap (the default), inline when type is inline, and not the other',
    },
  ],
};

const oidcConfigRef: ObjectSchema<MCPOIDCConfigReference> = {
  type: 'object',
  description:
    "Authentication at the proxy (ToolHive's oidcConfigRef): every MCP request must carry a bearer token that the referenced " +
    "MCPOIDCConfig (same namespace) accepts and whose audience is this server's. Without it (and without another source) the proxy " +
    'is UNAUTHENTICATED: it serves every request that reaches its port. A missing or invalid MCPOIDCConfig shows in the ' +
    'OIDCConfigRefValidated condition, and the proxy keeps its last good configuration meanwhile.',
  required: { name: true, audience: true },
  properties: {
    name: { type: 'string', description: 'Name of the MCPOIDCConfig in this namespace.', pattern: DNS_SUBDOMAIN, maxLength: 253 },
    audience: {
      type: 'string',
      description: 'The audience (aud) tokens must name. Make it unique per server, so a token for one server is not accepted by another.',
      minLength: 1,
      maxLength: 1024,
    },
    scopes: {
      type: 'array',
      description: 'Scopes advertised in the protected resource metadata (RFC 9728 scopes_supported). Default: [openid].',
      items: {
        type: 'string',
        description: 'One OAuth scope (no comma, space or quote).',
        minLength: 1,
        maxLength: 256,
        pattern: '^[\\x21\\x23-\\x2B\\x2D-\\x5B\\x5D-\\x7E]+$',
      },
      maxItems: 64,
      'x-kubernetes-list-type': 'atomic',
    },
    resourceUrl: {
      type: 'string',
      description: 'The URL clients use to reach this server (RFC 9728 resource), e.g. its Ingress URL. Default: status.url, the in-cluster endpoint.',
      pattern: '^https?://[^\\s#]+$',
      maxLength: 2048,
    },
  },
};

const authzConfigRef: ObjectSchema<MCPAuthzConfigReference> = {
  type: 'object',
  description:
    "Cedar authorization from a shared MCPAuthzConfig in this namespace (ToolHive's authzConfigRef); excludes authzConfig. The operator " +
    'renders it into a ConfigMap it owns and mounts for the proxy, which reloads a change without a restart. A missing or invalid ' +
    'MCPAuthzConfig shows in the AuthzConfigRefValidated condition, and the proxy keeps its last good policies meanwhile.',
  required: { name: true },
  properties: {
    name: { type: 'string', description: 'Name of the MCPAuthzConfig in this namespace.', pattern: DNS_SUBDOMAIN, maxLength: 253 },
  },
};

const telemetryConfigRef: ObjectSchema<MCPTelemetryConfigReference> = {
  type: 'object',
  description:
    "OpenTelemetry traces from the proxy, as a shared MCPTelemetryConfig in this namespace says (ToolHive's telemetryConfigRef). A missing " +
    'or invalid MCPTelemetryConfig shows in the TelemetryConfigRefValidated condition, and the proxy keeps its last good configuration meanwhile.',
  required: { name: true },
  properties: {
    name: { type: 'string', description: 'Name of the MCPTelemetryConfig in this namespace.', pattern: DNS_SUBDOMAIN, maxLength: 253 },
    serviceName: {
      type: 'string',
      description: "The service.name of this server's spans; unique per server. Default: the MCPServer's name.",
      minLength: 1,
      maxLength: 253,
    },
  },
};

const toolConfigRef: ObjectSchema<MCPToolConfigReference> = {
  type: 'object',
  description:
    "Tool filter and overrides from an MCPToolConfig in this namespace (ToolHive's toolConfigRef). The operator renders it into a " +
    'ConfigMap it owns and mounts for the proxy, which reloads a change without a restart. A missing or invalid MCPToolConfig shows in ' +
    'the ToolConfigRefValidated condition, and the proxy keeps its last good tool config meanwhile.',
  required: { name: true },
  properties: {
    name: { type: 'string', description: 'Name of the MCPToolConfig in this namespace.', pattern: DNS_SUBDOMAIN, maxLength: 253 },
  },
};

const audit: ObjectSchema<AuditConfig> = {
  type: 'object',
  description: "Audit logging at the proxy (ToolHive's audit): one JSON event per MCP operation on the proxy's stderr.",
  properties: {
    enabled: { type: 'boolean', description: 'Write audit events.', default: false },
  },
};

const sessionStorage: ObjectSchema<SessionStorageConfig> = {
  type: 'object',
  description:
    "Where the proxy replicas keep their session table (ToolHive's sessionStorage). memory: each replica its own (the default). " +
    'redis: one table in Redis shared by every replica, so a session created on one replica is served and ended by any other; ' +
    'idle expiry and maxSessions then apply to the whole fleet. Only the streamable-http transport served as streamable-http supports redis.',
  required: { provider: true },
  properties: {
    provider: { type: 'string', description: 'memory or redis.', enum: SESSION_STORAGE_PROVIDERS },
    address: {
      type: 'string',
      description: 'host:port of the Redis server (required with redis), for example redis.infra:6379.',
      minLength: 1,
      maxLength: 1024,
    },
    db: { type: 'integer', format: 'int32', description: 'Redis database number.', minimum: 0, maximum: 15, default: 0 },
    keyPrefix: {
      type: 'string',
      description: 'Prefix of every Redis key of this server (default mcpfleet:<namespace>:<name>, so servers can share one Redis).',
      pattern: KEY_PREFIX_PATTERN,
      maxLength: 128,
    },
    passwordRef: {
      type: 'object',
      description: 'A Secret key holding the Redis password; it reaches the proxy only through its environment, never its arguments.',
      required: { name: true, key: true },
      properties: {
        name: { type: 'string', description: "Name of the Secret in the MCPServer's namespace.", pattern: DNS_SUBDOMAIN, maxLength: 253 },
        key: { type: 'string', description: 'The key of the Secret holding the password.', minLength: 1, maxLength: 253 },
      },
    },
  },
  'x-kubernetes-validations': [
    {
      rule: "self.provider != 'redis' || has(self.address)",
      message: 'sessionStorage.address is required when provider is redis',
      reason: 'FieldValueRequired',
    },
  ],
};

const specRules: readonly Rule[] = [
  {
    rule: `${TRANSPORT_CEL} == 'stdio' || has(self.mcpPort)`,
    message: 'mcpPort is required when transport is streamable-http or sse: it is the port the MCP server listens on',
    fieldPath: '.mcpPort',
    reason: 'FieldValueRequired',
  },
  {
    rule: `${TRANSPORT_CEL} != 'stdio' || !has(self.replicas) || self.replicas <= 1`,
    message: 'replicas must be 0 or 1 when transport is stdio: a stdio server has one stdin/stdout, so one proxy attaches to it',
    fieldPath: '.replicas',
    reason: 'FieldValueInvalid',
  },
  {
    rule: '!(has(self.authzConfig) && has(self.authzConfigRef))',
    message: 'authzConfig and authzConfigRef are mutually exclusive; use authzConfigRef to reference a shared MCPAuthzConfig',
    fieldPath: '.authzConfigRef',
    reason: 'FieldValueForbidden',
  },
  {
    rule: `!has(self.backendReplicas) || ${TRANSPORT_CEL} == 'stdio' || ${TRANSPARENT_CEL}`,
    message:
      'backendReplicas needs transport stdio, or transport streamable-http with proxyMode streamable-http: the proxy attaches to every stdio pod, ' +
      'or pins sessions to HTTP pods on its transparent path; it has no way to spread sessions over legacy SSE pods',
    fieldPath: '.backendReplicas',
    reason: 'FieldValueForbidden',
  },
  {
    rule: `!(has(self.replicas) && self.replicas > 1 && has(self.sessionAffinity) && self.sessionAffinity == 'None') || ${REDIS_CEL}`,
    message:
      'sessionStorage with provider redis is required when replicas > 1 and sessionAffinity is None: a session is then served by ' +
      'whichever replica a request reaches, so every replica must see the same session table (or keep sessionAffinity ClientIP)',
    fieldPath: '.sessionStorage',
    reason: 'FieldValueRequired',
  },
  {
    rule: `!${REDIS_CEL} || ${TRANSPARENT_CEL}`,
    message:
      'sessionStorage redis needs transport streamable-http and proxyMode streamable-http: with stdio or sse a session is a live ' +
      'connection inside one proxy replica, which a shared table cannot move',
    fieldPath: '.sessionStorage',
    reason: 'FieldValueInvalid',
  },
  {
    rule: `!has(self.sessionRecovery) || self.sessionRecovery == 'None' || (has(self.backendReplicas) && ${TRANSPARENT_CEL})`,
    message:
      'sessionRecovery Replay needs backendReplicas (transport and proxyMode streamable-http): with one backend pod there is no other pod to ' +
      're-initialize a session on',
    fieldPath: '.sessionRecovery',
    reason: 'FieldValueForbidden',
  },
];

export const specSchema: ObjectSchema<MCPServerSpec> = {
  type: 'object',
  description:
    'The desired MCP server: the container that runs it, how it talks (transport), and the proxy in front of it. ' +
    'The operator creates and owns every object involved: the backend StatefulSet (and its Service for HTTP transports), ' +
    'the proxyrunner Deployment and Service, and for stdio the ServiceAccount, Role and RoleBinding that let the proxy attach to the server.',
  required: { image: true },
  properties: {
    image: {
      type: 'string',
      description: 'Container image of the MCP server, for example ghcr.io/example/mcp-server:1.2.3.',
      minLength: 1,
      maxLength: 1024,
      pattern: '^[^\\s]+$',
    },
    transport: {
      type: 'string',
      description:
        'How the MCP server talks. stdio: newline-delimited JSON-RPC on stdin/stdout (the proxy attaches to the container); ' +
        'streamable-http: HTTP at /mcp on mcpPort; sse: the legacy HTTP+SSE transport at /sse on mcpPort.',
      enum: TRANSPORTS,
      default: DEFAULTS.transport,
    },
    proxyMode: {
      type: 'string',
      description: 'What clients of the proxy see: streamable-http (endpoint /mcp) or sse (legacy HTTP+SSE, endpoint /sse).',
      enum: PROXY_MODES,
      default: DEFAULTS.proxyMode,
    },
    proxyPort: {
      type: 'integer',
      format: 'int32',
      description: `Port of the proxy's Service and container, where clients connect. ${PROXY_METRICS_PORT} is reserved for the proxy's metrics.`,
      minimum: 1,
      maximum: 65535,
      default: DEFAULTS.proxyPort,
      'x-kubernetes-validations': [
        { rule: `self != ${PROXY_METRICS_PORT}`, message: `proxyPort ${PROXY_METRICS_PORT} is reserved for the proxyrunner's metrics and health endpoints` },
      ],
    },
    mcpPort: {
      type: 'integer',
      format: 'int32',
      description: 'Port the MCP server listens on. Required for the streamable-http and sse transports; unused for stdio.',
      minimum: 1,
      maximum: 65535,
    },
    args: {
      type: 'array',
      description: "Arguments passed to the MCP server container (its image's entrypoint is kept).",
      items: { type: 'string', description: 'One argument.', maxLength: 4096 },
      maxItems: 256,
    },
    env,
    secrets: {
      type: 'array',
      description: "Secret keys exposed to the MCP server as environment variables (ToolHive's secrets field); added after env.",
      items: secretItem,
      maxItems: 64,
    },
    resources: resources('MCP server container'),
    proxyResources: resources(
      "proxyrunner container (default: requests cpu 50m, memory 64Mi; limits memory 256Mi); its memory limit also sizes the proxy's heap",
    ),
    replicas: {
      type: 'integer',
      format: 'int32',
      description:
        'Number of proxy replicas. 0 stops the MCP server (phase Stopped) and its proxy; stdio servers take at most 1. ' +
        "Unset: the operator does not set the proxy Deployment's replicas (a new one starts with 1), so a HorizontalPodAutoscaler " +
        'can scale it without the operator undoing it.',
      minimum: 0,
      maximum: 100,
    },
    backendReplicas: {
      type: 'integer',
      format: 'int32',
      description:
        "Pods of the MCP server (ToolHive's backendReplicas); stdio, or streamable-http with proxyMode streamable-http. " +
        'Each session is pinned to one pod for its life (least sessions first): for stdio the proxy attaches to every running pod ' +
        '(one process each), for streamable-http it watches the backend EndpointSlices and routes to ready pods. ' +
        'A session whose pod goes away ends and its client re-initializes (HTTP 404). Unset: one pod. replicas: 0 stops them all.',
      minimum: 0,
      maximum: 100,
    },
    sessionRecovery: {
      type: 'string',
      description:
        'With backendReplicas: what happens to a session whose backend pod goes away. None (unset): it ends and its client gets HTTP 404 ' +
        "and re-initializes, as the MCP specification says. Replay: the proxy re-initializes it on a live pod with the client's own " +
        'initialize request and replays the request there, so the client notices nothing; whatever the server kept for the session ' +
        '(subscriptions, resources it created, pending requests) is lost silently. Recoveries are counted in the proxy metric ' +
        'mcpfleet_proxy_session_recoveries_total{result}.',
      enum: SESSION_RECOVERIES,
    },
    serviceAccount: {
      type: 'string',
      description:
        'An existing ServiceAccount the MCP server pod runs as (its token is then mounted). ' +
        "Without it the pod runs as the namespace's default ServiceAccount with no token mounted.",
      pattern: DNS_SUBDOMAIN,
      maxLength: 253,
    },
    podTemplateSpec: {
      type: 'object',
      description:
        'A partial PodTemplateSpec merged into the MCP server pod template, strategic-merge style: maps merge, ' +
        'containers, initContainers, volumes, env, imagePullSecrets merge by name, volumeMounts by mountPath, ' +
        'other lists are replaced, and null removes a field. The MCP server container is named "mcp".',
      'x-kubernetes-preserve-unknown-fields': true,
    },
    sessionIdleTimeout: {
      type: 'string',
      description:
        'The proxy ends a client session after this long without a request or open stream (a duration such as 90s, 30m or 1h30m). ' +
        `Unset: the operator's --default-session-idle-timeout (${PROXY_DEFAULTS.sessionIdleTimeout} unless the cluster admin changed it).`,
      pattern: DURATION_PATTERN,
      maxLength: 32,
    },
    maxSessions: {
      type: 'integer',
      format: 'int32',
      description:
        'Hard cap on client sessions per proxy replica; beyond it the least recently used session is ended. ' +
        `Unset: the operator's --default-max-sessions (${PROXY_DEFAULTS.maxSessions} unless the cluster admin changed it).`,
      minimum: 1,
      maximum: 10_000_000,
    },
    oidcConfigRef,
    authzConfig,
    authzConfigRef,
    telemetryConfigRef,
    toolConfigRef,
    audit,
    sessionStorage,
    sessionAffinity: {
      type: 'string',
      description:
        "The proxy Service's sessionAffinity (ToolHive's field): ClientIP (the default) sends a client's connections to the same proxy replica; " +
        'None spreads them; with replicas > 1 that needs redis sessionStorage.',
      enum: SESSION_AFFINITIES,
      default: DEFAULTS.sessionAffinity,
    },
  },
  'x-kubernetes-validations': specRules,
};

export const conditionSchema: ObjectSchema<Condition> = {
  type: 'object',
  description: "One aspect of the object's observed state.",
  required: { type: true, status: true, reason: true, message: true, lastTransitionTime: true },
  properties: {
    type: {
      type: 'string',
      description:
        'Ready: fully rolled out and serving. Available: at least one proxy replica and the MCP server are ready. ' +
        'ChildrenApplied (False when an owned object could not be written), BackendHealthy and ProxyHealthy (False when pods fail to start or crash), ' +
        'OIDCConfigRefValidated, AuthzConfigRefValidated and ToolConfigRefValidated (whether a referenced config exists and is valid); on config kinds, Valid.',
      maxLength: 316,
    },
    status: { type: 'string', description: 'True, False or Unknown.', enum: ['True', 'False', 'Unknown'] },
    reason: { type: 'string', description: 'A CamelCase reason for the status.', maxLength: 1024 },
    message: { type: 'string', description: 'A human-readable explanation.', maxLength: 32768 },
    lastTransitionTime: { type: 'string', format: 'date-time', description: 'When status last changed.' },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0, description: 'The metadata.generation this condition was computed for.' },
  },
};

export const statusSchema: ObjectSchema<MCPServerStatus> = {
  type: 'object',
  description: 'The observed state, computed by the operator from the objects it owns.',
  properties: {
    phase: {
      type: 'string',
      description:
        'Pending (being created or rolled out), Ready (serving at url), Failed (see the conditions), ' +
        'Stopped (replicas is 0) or Terminating (being deleted).',
      enum: PHASES,
    },
    message: { type: 'string', description: 'A one-line summary of the state.', maxLength: 32768 },
    url: {
      type: 'string',
      description: 'The in-cluster MCP endpoint of the proxy, for example http://mcp-x-proxy.ns.svc.cluster.local:8080/mcp.',
      maxLength: 1024,
    },
    readyReplicas: { type: 'integer', format: 'int32', minimum: 0, description: 'Proxy pods that are ready and not terminating.' },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0, description: 'The metadata.generation the status was computed for.' },
    conditions: {
      type: 'array',
      description: 'Ready, Available, and one condition per failure class, each with a reason and message.',
      items: conditionSchema,
      maxItems: 16,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
  },
};

/** metadata.name also names the children ("mcp-<name>-proxy", pods "mcp-<name>-0"). */
export const MAX_NAME_LENGTH = 48;

export const rootRules: readonly Rule[] = [
  {
    rule: `size(self.metadata.name) <= ${MAX_NAME_LENGTH} && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')`,
    message: `metadata.name must be a DNS label of at most ${MAX_NAME_LENGTH} characters (lowercase letters, digits and "-"): it names the Services, StatefulSet and Deployment made for it`,
    // No fieldPath: the apiserver accepts only paths inside the schema, and metadata has none.
    reason: 'FieldValueInvalid',
  },
];
