// The MCPServer API (group mcpfleet.dev, version v1alpha1): the TypeScript types are the
// single source of truth. schema.ts describes every field of these types (typed against
// them, so a field cannot be added here without its schema), and crd.ts turns that into
// the CustomResourceDefinition that scripts/gen-crd.ts writes to deploy/crd/.
//
// Field names follow ToolHive's MCPServer (toolhive.stacklok.dev) wherever the feature is
// the same, so a ToolHive manifest migrates by changing apiVersion.

import { PROXYRUNNER_METRICS_PORT, proxyrunnerDefault } from '../../../common/contract/proxyrunner.ts';

export const GROUP = 'mcpfleet.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'MCPServer';
export const PLURAL = 'mcpservers';
export const SINGULAR = 'mcpserver';
export const SHORT_NAMES = ['mcps'] as const;
export const CATEGORIES = ['mcpfleet'] as const;

export const TRANSPORTS = ['stdio', 'streamable-http', 'sse'] as const;
/** How the MCP server itself talks: stdin/stdout, or HTTP on mcpPort. */
export type Transport = (typeof TRANSPORTS)[number];

export const PROXY_MODES = ['streamable-http', 'sse'] as const;
/** What clients of the proxy see: streamable HTTP at /mcp, or legacy SSE at /sse. */
export type ProxyMode = (typeof PROXY_MODES)[number];

export const PHASES = ['Pending', 'Ready', 'Failed', 'Stopped', 'Terminating'] as const;
export type Phase = (typeof PHASES)[number];

export const SESSION_AFFINITIES = ['ClientIP', 'None'] as const;
/** The proxy Service's sessionAffinity (ToolHive's field): ClientIP keeps a client on one proxy replica. */
export type SessionAffinity = (typeof SESSION_AFFINITIES)[number];

export const SESSION_RECOVERIES = ['None', 'Replay'] as const;
/**
 * What the proxy does with a session whose backend pod went away (backendReplicas only):
 * None ends it (the client gets 404 and re-initializes); Replay re-initializes it on a live pod
 * with the client's kept initialize request and replays the request (its server-side state is lost).
 */
export type SessionRecovery = (typeof SESSION_RECOVERIES)[number];

export const SESSION_STORAGE_PROVIDERS = ['memory', 'redis'] as const;
export type SessionStorageProvider = (typeof SESSION_STORAGE_PROVIDERS)[number];

/**
 * Defaults, applied by the apiserver (they are in the CRD schema) and again by the builders.
 * `replicas` has none on purpose (ToolHive's rule): unset, the operator leaves the proxy
 * Deployment's replicas to whoever scales it (an HorizontalPodAutoscaler).
 */
export const DEFAULTS = {
  transport: 'stdio',
  proxyMode: 'streamable-http',
  proxyPort: 8080,
  sessionAffinity: 'ClientIP',
} as const satisfies Partial<MCPServerSpec>;

/**
 * Session settings an MCPServer may leave unset. They are not CRD defaults: the operator fills
 * them in from its --default-* flags, so a cluster admin (the chart's values) sets them for
 * every server, and changing them rolls the proxies that did not choose their own.
 */
export interface ProxyDefaults {
  sessionIdleTimeout: string;
  maxSessions: number;
}

/** The proxyrunner's own defaults (its flag table, the contract both programs share). */
export const PROXY_DEFAULTS: ProxyDefaults = {
  sessionIdleTimeout: proxyrunnerDefault('session-idle-timeout') as string,
  maxSessions: Number(proxyrunnerDefault('max-sessions')),
};

/** The proxyrunner's metrics/health port; proxyPort may not take it. */
export const PROXY_METRICS_PORT = PROXYRUNNER_METRICS_PORT;

/** A CPU or memory quantity ("500m", "128Mi", 2). */
export type Quantity = string | number;

export interface ResourceList {
  cpu?: Quantity;
  memory?: Quantity;
}

export interface ResourceRequirements {
  limits?: ResourceList;
  requests?: ResourceList;
}

export interface KeySelector {
  name: string;
  key: string;
  optional?: boolean;
}

export interface EnvVarSource {
  secretKeyRef?: KeySelector;
  configMapKeyRef?: KeySelector;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: EnvVarSource;
}

/** ToolHive's secret reference: the Secret's key becomes environment variable targetEnvName (default: key). */
export interface SecretRef {
  name: string;
  key: string;
  targetEnvName?: string;
}

export const AUTHZ_CONFIG_TYPES = ['configMap', 'inline'] as const;
export type AuthzConfigType = (typeof AUTHZ_CONFIG_TYPES)[number];
/** ToolHive's default key of the authorization config in its ConfigMap. */
export const DEFAULT_AUTHZ_CONFIG_KEY = 'authz.json';

/** A ConfigMap holding an authorization config file (ToolHive's format) under `key`. */
export interface ConfigMapAuthzRef {
  name: string;
  key?: string;
}

/** Cedar policies (and entities) written in the MCPServer itself. */
export interface InlineAuthzConfig {
  policies: string[];
  entitiesJson?: string;
}

/** ToolHive's authzConfig: Cedar policies from a ConfigMap (hot-reloaded) or inline. */
export interface AuthzConfigRef {
  type?: AuthzConfigType;
  configMap?: ConfigMapAuthzRef;
  inline?: InlineAuthzConfig;
}

/**
 * ToolHive's oidcConfigRef: an MCPOIDCConfig in the same namespace, with what is this server's
 * own (the audience its tokens must name, the scopes it advertises, its public URL).
 */
export interface MCPOIDCConfigReference {
  name: string;
  audience: string;
  scopes?: string[];
  resourceUrl?: string;
}

/** ToolHive's authzConfigRef: an MCPAuthzConfig in the same namespace. */
export interface MCPAuthzConfigReference {
  name: string;
}

/** ToolHive's telemetryConfigRef: an MCPTelemetryConfig in the same namespace, and this server's service name. */
export interface MCPTelemetryConfigReference {
  name: string;
  serviceName?: string;
}

/** ToolHive's toolConfigRef: an MCPToolConfig in the same namespace. */
export interface MCPToolConfigReference {
  name: string;
}

/** ToolHive's audit: one audit event per MCP operation on the proxy's stderr. */
export interface AuditConfig {
  enabled?: boolean;
}

/** A key of a Secret in the MCPServer's namespace (ToolHive's SecretKeyRef). */
export interface SecretKeyRef {
  name: string;
  key: string;
}

/**
 * ToolHive's sessionStorage: where the proxy replicas keep their session table. redis: one
 * table shared by every replica (the proxyrunner's --session-storage redis).
 */
export interface SessionStorageConfig {
  provider: SessionStorageProvider;
  /** host:port of Redis; required with provider redis. */
  address?: string;
  db?: number;
  /** Prefix of every key; default mcpfleet:<namespace>:<name>, so servers can share one Redis. */
  keyPrefix?: string;
  /** The Redis password, given to the proxy only through its environment (never an argument). */
  passwordRef?: SecretKeyRef;
}

/** A partial PodTemplateSpec, merged into the backend pod template (strategic-merge style). */
export type PodTemplatePatch = Record<string, unknown>;

export interface MCPServerSpec {
  image: string;
  transport?: Transport;
  proxyMode?: ProxyMode;
  proxyPort?: number;
  mcpPort?: number;
  args?: string[];
  env?: EnvVar[];
  secrets?: SecretRef[];
  resources?: ResourceRequirements;
  proxyResources?: ResourceRequirements;
  replicas?: number;
  /**
   * ToolHive's name: pods of the MCP server (the backend StatefulSet's replicas). Set, each
   * session is pinned to one pod: stdio, the proxy attaches to every running pod
   * (--attach-max-pods); streamable-http, it discovers the pods through the backend Service's
   * EndpointSlices. Unset: one pod.
   */
  backendReplicas?: number;
  /** With backendReplicas: None (unset) ends a session whose pod went away; Replay moves it (proxy flag --session-recovery). */
  sessionRecovery?: SessionRecovery;
  serviceAccount?: string;
  podTemplateSpec?: PodTemplatePatch;
  sessionIdleTimeout?: string;
  maxSessions?: number;
  oidcConfigRef?: MCPOIDCConfigReference;
  authzConfig?: AuthzConfigRef;
  authzConfigRef?: MCPAuthzConfigReference;
  telemetryConfigRef?: MCPTelemetryConfigReference;
  toolConfigRef?: MCPToolConfigReference;
  audit?: AuditConfig;
  sessionStorage?: SessionStorageConfig;
  sessionAffinity?: SessionAffinity;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface MCPServerStatus {
  phase?: Phase;
  message?: string;
  url?: string;
  readyReplicas?: number;
  observedGeneration?: number;
  conditions?: Condition[];
}

// ObjectMeta and OwnerReference are Kubernetes' own (kube/kinds.ts); re-exported for the API's users.
import type { ObjectMeta } from '../../../common/kube/kinds.ts';
export type { ObjectMeta, OwnerReference } from '../../../common/kube/kinds.ts';

export interface MCPServer {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: MCPServerSpec;
  status?: MCPServerStatus;
}

/** The spec with every default filled in: what the builders work from. */
export type ResolvedSpec = MCPServerSpec & Required<Pick<MCPServerSpec, keyof typeof DEFAULTS>>;

export function resolveSpec(spec: MCPServerSpec): ResolvedSpec {
  return {
    ...spec,
    transport: spec.transport ?? DEFAULTS.transport,
    proxyMode: spec.proxyMode ?? DEFAULTS.proxyMode,
    proxyPort: spec.proxyPort ?? DEFAULTS.proxyPort,
    sessionAffinity: spec.sessionAffinity ?? DEFAULTS.sessionAffinity,
  };
}
