// MCPOIDCConfig (group mcpfleet.dev): who may call the MCP servers that reference it. Shared
// provider settings live here; each MCPServer adds its own audience, scopes and resource URL in
// spec.oidcConfigRef (types.ts), as in ToolHive's v1beta1 API, whose kind, field names and
// meaning these follow so that a ToolHive manifest migrates by changing apiVersion.
//
// ToolHive fields left out on purpose (a manifest that sets one is refused by kubectl's strict
// field validation, not silently changed): inline.jwksAuthTokenPath (a file path inside
// ToolHive's own proxy image), inline.jwksAllowPrivateIP / protectedResourceAllowPrivateIP (the
// mcpfleet proxy has no private-address guard to relax), inline.insecureAllowHTTP (the proxy
// takes key material over https only), kubernetesServiceAccount.introspectionUrl
// (service-account tokens are JWTs checked against the apiserver's keys; introspection needs a
// client id and secret the kubernetesServiceAccount variant has no field for).
//
// Changes after a proxy started: a caBundleRef ConfigMap is watched (its data hash is in the proxy
// pod template, so an edit rolls the proxies using it). A clientSecretRef Secret is not: the
// operator never reads Secrets, the proxy gets the secret as an env var resolved at pod start, so
// a rotated secret takes effect when the proxies restart (`kubectl rollout restart`).
import type { ObjectMeta } from '../../../../common/kube/kinds.ts';
import type { ConfigStatus } from '../configStatus.ts';

export const OIDC_KIND = 'MCPOIDCConfig';
export const OIDC_PLURAL = 'mcpoidcconfigs';
export const OIDC_SINGULAR = 'mcpoidcconfig';
export const OIDC_SHORT_NAMES = ['mcpoidc'] as const;

export const OIDC_CONFIG_TYPES = ['kubernetesServiceAccount', 'inline'] as const;
export type OIDCConfigType = (typeof OIDC_CONFIG_TYPES)[number];

/** The CA bundle key used when caBundleRef.configMapRef names none (ToolHive's default). */
export const DEFAULT_CA_BUNDLE_KEY = 'ca.crt';

/** Tokens the cluster itself issues to service accounts, checked against the apiserver's keys. */
export interface KubernetesServiceAccountOIDCConfig {
  /** Only this service account may call (with namespace, or the MCPServer's namespace). */
  serviceAccount?: string;
  /** Only service accounts of this namespace may call (all of them unless serviceAccount is set). */
  namespace?: string;
  /** The issuer (iss) to expect; unset: the one the apiserver's discovery names. */
  issuer?: string;
  jwksUrl?: string;
  /** Must be true (the default): the proxy reads discovery and keys with its pod's token and CA. */
  useClusterAuth?: boolean;
}

export interface SecretKeyRef {
  name: string;
  key: string;
}

export interface ConfigMapKeyRef {
  name: string;
  key?: string;
}

export interface CABundleSource {
  configMapRef: ConfigMapKeyRef;
}

/** An OIDC provider outside the cluster. */
export interface InlineOIDCSharedConfig {
  issuer: string;
  jwksUrl?: string;
  introspectionUrl?: string;
  clientId?: string;
  clientSecretRef?: SecretKeyRef;
  caBundleRef?: CABundleSource;
}

export interface MCPOIDCConfigSpec {
  type: OIDCConfigType;
  kubernetesServiceAccount?: KubernetesServiceAccountOIDCConfig;
  inline?: InlineOIDCSharedConfig;
}

export interface MCPOIDCConfig {
  apiVersion: string;
  kind: typeof OIDC_KIND;
  metadata: ObjectMeta;
  spec: MCPOIDCConfigSpec;
  status?: ConfigStatus;
}
