// The plug-in contract of a config kind (MCPOIDCConfig, MCPAuthzConfig, and the kinds that come
// after them): how an MCPServer names one, what the operator checks beyond the CRD schema, and
// what one config contributes to the proxy of each MCPServer that uses it. Everything else (the
// cache and its index, the watch that enqueues only the MCPServers that reference a changed
// config, the config's status, the MCPServer's <Ref>Validated condition, holding the proxy at its
// last good Deployment while a reference is broken) is generic: controller/watches.ts,
// controller/configStatus.ts, configs/resolve.ts and the reconciler.
//
// Adding a kind: api/<kind>/ (types, schema, a CrdKind) + an entry in api/registry.ts; a ConfigKind
// here (a file in configs/) + an entry in configs/registry.ts; RBAC in the chart (get/list/watch,
// status get/patch); the proxyrunner flags it sets in common/contract/.
import type { V1EnvVarSource, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { ProxyrunnerOptions } from '../../../common/contract/proxyrunner.ts';
import type { DesiredObject, KindInfo, KubeObject } from '../../../common/kube/kinds.ts';
import type { ConfigStatus } from '../api/configStatus.ts';
import type { MCPServer, MCPServerSpec } from '../api/types.ts';

/** A config object as the cache holds it. */
export interface ConfigObject<S = unknown> extends KubeObject {
  spec: S;
  status?: ConfigStatus;
}

/** What one config adds to an MCPServer's proxy. Every part is optional. */
export interface ProxyContribution {
  /** proxyrunner settings, through the typed contract (flags and env are derived from them). */
  options?: Partial<ProxyrunnerOptions<V1EnvVarSource>>;
  volumes?: V1Volume[];
  volumeMounts?: V1VolumeMount[];
  /**
   * Annotations of the proxy pod template. Anything in the template rolls the proxy when it
   * changes; a kind whose change the proxy picks up by itself (a mounted ConfigMap) adds nothing.
   */
  podAnnotations?: Record<string, string>;
  /** Objects the MCPServer owns because of this config (e.g. a rendered ConfigMap), finished (see builders/desired.ts). */
  children?: DesiredObject[];
}

export interface ConfigKind<S = unknown> {
  info: KindInfo;
  /** The MCPServer condition that reports the reference (ToolHive's names: OIDCConfigRefValidated). */
  refCondition: string;
  /** Prefix of that condition's reasons: <prefix>Valid, <prefix>NotFound, <prefix>NotValid. */
  reasonPrefix: string;
  /** The spec field that holds the reference, for messages ("spec.oidcConfigRef"). */
  refField: string;
  /** The name of the config this MCPServer references, if any. */
  refName(spec: MCPServerSpec): string | undefined;
  /** Problems the CRD schema and CEL cannot see (or that predate them); [] when valid. Pure. */
  validate(spec: S): string[];
  /**
   * ConfigMaps (in the config's namespace) whose content the proxy reads once at start (e.g. a CA
   * bundle): the operator watches them, a missing one breaks the reference like a missing config,
   * and their content hash annotates the proxy pod template so an edit rolls the proxy.
   */
  configMaps?(spec: S): string[];
  /** What the config contributes to this MCPServer's proxy. Pure; called only for a valid config. */
  contribute(config: ConfigObject<S>, mcp: MCPServer): ProxyContribution;
}

/** Any kind, for lists of them (each kind's own spec type stays inside its module). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds kinds of different spec types; each is used with its own objects only
export type AnyConfigKind = ConfigKind<any>;
