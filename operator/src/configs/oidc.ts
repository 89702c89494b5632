// MCPOIDCConfig as a config kind: an MCPServer's oidcConfigRef plus the config become the proxy's
// --oidc-* flags (common/contract/authnFlags.ts), with what the pod needs for them:
//   - inline: the client secret reaches the proxy as MCPFLEET_OIDC_CLIENT_SECRET from the Secret
//     (secretKeyRef; the operator never reads it, so it is in no arg, log or status), and a CA
//     bundle ConfigMap is mounted read-only and named by --oidc-ca-bundle-file;
//   - kubernetesServiceAccount: a projected volume with a service-account token for the
//     apiserver (1h, renewed by the kubelet) and the cluster CA (kube-root-ca.crt), with which
//     the proxy reads the apiserver's discovery document and /openid/v1/jwks (allowed to every
//     service account by the default system:service-account-issuer-discovery binding). The pod's
//     automountServiceAccountToken stays as it was: this volume gives it exactly that token.
// Every setting is in the pod template (flags, env, volumes) and the config's hash annotates it,
// so a change rolls exactly the proxies that use this config: the proxy reads them at start. The
// CA bundle ConfigMap is declared through configMaps(): resolve.ts adds its content hash to the
// template, so a bundle edit rolls them too. The client Secret is never read, so its rotation
// needs a proxy restart (env from secretKeyRef is resolved at pod start).
import { DEFAULT_CA_BUNDLE_KEY, OIDC_KIND, OIDC_PLURAL, type MCPOIDCConfigSpec } from '../api/mcpoidcconfig/types.ts';
import { GROUP, VERSION, resolveSpec, type MCPServer } from '../api/types.ts';
import { kindInfo } from '../../../common/kube/kinds.ts';
import { serverUrl } from '../builders/meta.ts';
import type { AuthnOptions } from '../../../common/contract/proxyrunner.ts';
import type { V1EnvVarSource, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { ConfigKind, ConfigObject, ProxyContribution } from './configKind.ts';
import { configHash } from './resolve.ts';

/** The proxy pod template annotation that carries the MCPOIDCConfig's hash. */
export const OIDC_HASH_ANNOTATION = `${GROUP}/${OIDC_PLURAL.replace(/s$/, '')}-hash`;
/** ToolHive advertises openid when a reference names no scopes. */
export const DEFAULT_SCOPES = ['openid'] as const;

export const OIDC_CLUSTER_AUTH_PATH = '/var/run/secrets/mcpfleet/oidc';
export const OIDC_CA_PATH = '/etc/mcpfleet/oidc-ca';
const CLUSTER_AUTH_VOLUME = 'oidc-cluster-auth';
const CA_VOLUME = 'oidc-ca-bundle';
const TOKEN_SECONDS = 3600;

function httpsProblem(field: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return new URL(value).protocol === 'https:' ? undefined : `${field} must be an https URL`;
  } catch {
    return `${field} "${value}" is not a URL`;
  }
}

/** The same rules as the CRD's CEL and patterns, for objects stored before them or written around them. */
export function validateOidcSpec(spec: MCPOIDCConfigSpec): string[] {
  const problems: string[] = [];
  const k8s = spec.type === 'kubernetesServiceAccount';
  if (k8s !== (spec.kubernetesServiceAccount !== undefined))
    problems.push("kubernetesServiceAccount must be set if and only if type is 'kubernetesServiceAccount'");
  if ((spec.type === 'inline') !== (spec.inline !== undefined)) problems.push("inline must be set if and only if type is 'inline'");
  if (spec.type !== 'inline' && !k8s) problems.push(`type ${JSON.stringify(spec.type)} is not kubernetesServiceAccount or inline`);
  const sa = spec.kubernetesServiceAccount;
  if (sa !== undefined) {
    if (sa.useClusterAuth === false) problems.push('useClusterAuth: false is not supported');
    for (const [field, value] of [
      ['kubernetesServiceAccount.issuer', sa.issuer],
      ['kubernetesServiceAccount.jwksUrl', sa.jwksUrl],
    ] as const) {
      const p = httpsProblem(field, value);
      if (p !== undefined) problems.push(p);
    }
  }
  const inline = spec.inline;
  if (inline !== undefined) {
    if (typeof inline.issuer !== 'string' || inline.issuer === '') problems.push('inline.issuer is required');
    for (const [field, value] of [
      ['inline.issuer', inline.issuer],
      ['inline.jwksUrl', inline.jwksUrl],
      ['inline.introspectionUrl', inline.introspectionUrl],
    ] as const) {
      const p = httpsProblem(field, value);
      if (p !== undefined) problems.push(p);
    }
    if (inline.introspectionUrl !== undefined && (inline.clientId === undefined || inline.clientSecretRef === undefined)) {
      problems.push('inline.introspectionUrl needs clientId and clientSecretRef');
    }
  }
  return problems;
}

export function oidcContribution(config: ConfigObject<MCPOIDCConfigSpec>, mcp: MCPServer): ProxyContribution {
  const ref = mcp.spec.oidcConfigRef;
  if (ref === undefined) return {};
  const spec = resolveSpec(mcp.spec);
  const namespace = mcp.metadata.namespace ?? '';
  const common = {
    audience: ref.audience,
    resourceUrl: ref.resourceUrl ?? serverUrl(mcp, spec.proxyPort, spec.proxyMode),
    scopes: ref.scopes ?? [...DEFAULT_SCOPES],
  };
  const volumes: V1Volume[] = [];
  const volumeMounts: V1VolumeMount[] = [];
  let authn: AuthnOptions<V1EnvVarSource>;
  const sa = config.spec.kubernetesServiceAccount;
  const inline = config.spec.inline;
  if (config.spec.type === 'kubernetesServiceAccount' && sa !== undefined) {
    const allowed =
      sa.serviceAccount !== undefined ? [`${sa.namespace ?? namespace}/${sa.serviceAccount}`] : sa.namespace !== undefined ? [`${sa.namespace}/*`] : [];
    volumes.push({
      name: CLUSTER_AUTH_VOLUME,
      projected: {
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: TOKEN_SECONDS } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        ],
      },
    });
    volumeMounts.push({ name: CLUSTER_AUTH_VOLUME, mountPath: OIDC_CLUSTER_AUTH_PATH, readOnly: true });
    authn = {
      type: 'kubernetesServiceAccount',
      ...(sa.issuer !== undefined && { issuer: sa.issuer }),
      ...common,
      ...(sa.jwksUrl !== undefined && { jwksUrl: sa.jwksUrl }),
      caBundleFile: `${OIDC_CLUSTER_AUTH_PATH}/ca.crt`,
      kubernetesTokenFile: `${OIDC_CLUSTER_AUTH_PATH}/token`,
      allowedServiceAccounts: allowed,
    };
  } else if (inline !== undefined) {
    const ca = inline.caBundleRef?.configMapRef;
    if (ca !== undefined) {
      const key = ca.key ?? DEFAULT_CA_BUNDLE_KEY;
      volumes.push({ name: CA_VOLUME, configMap: { name: ca.name, items: [{ key, path: key }] } });
      volumeMounts.push({ name: CA_VOLUME, mountPath: OIDC_CA_PATH, readOnly: true });
    }
    authn = {
      type: 'inline',
      issuer: inline.issuer,
      ...common,
      ...(inline.jwksUrl !== undefined && { jwksUrl: inline.jwksUrl }),
      ...(inline.introspectionUrl !== undefined && { introspectionUrl: inline.introspectionUrl }),
      ...(inline.clientId !== undefined && { clientId: inline.clientId }),
      ...(inline.clientSecretRef !== undefined && {
        clientSecret: { valueFrom: { secretKeyRef: { name: inline.clientSecretRef.name, key: inline.clientSecretRef.key } } },
      }),
      ...(ca !== undefined && { caBundleFile: `${OIDC_CA_PATH}/${ca.key ?? DEFAULT_CA_BUNDLE_KEY}` }),
    };
  } else {
    return {}; // not valid: validate() keeps it from here
  }
  return { options: { authn }, volumes, volumeMounts, podAnnotations: { [OIDC_HASH_ANNOTATION]: configHash(config) } };
}

export const OIDC_CONFIG_KIND: ConfigKind<MCPOIDCConfigSpec> = {
  info: kindInfo(OIDC_KIND, GROUP, VERSION, OIDC_PLURAL),
  refCondition: 'OIDCConfigRefValidated',
  reasonPrefix: 'OIDCConfigRef',
  refField: 'spec.oidcConfigRef',
  refName: (spec) => spec.oidcConfigRef?.name,
  validate: validateOidcSpec,
  configMaps: (spec) => {
    const ca = spec.inline?.caBundleRef?.configMapRef?.name;
    return spec.type === 'inline' && ca !== undefined ? [ca] : [];
  },
  contribute: oidcContribution,
};
