// The proxyrunner's authentication flags (`--oidc-*`, `--resource-url`), part of the
// operator↔proxyrunner contract: the operator sets them from an MCPServer's oidcConfigRef and its
// MCPOIDCConfig, the proxyrunner parses and checks them (proxyrunner/src/auth/authnConfig.ts).
import type { FlagSpec } from '../cli/flags.ts';

/** Asymmetric JWS algorithms: `none` and HMAC (HS*) can never be allowed. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

/** In-cluster defaults of the kubernetesServiceAccount type (the pod's own mounted credentials). */
export const IN_CLUSTER = {
  apiServer: 'https://kubernetes.default.svc',
  caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
  tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
} as const;

/** Where the introspection client secret may come from instead of a file (the operator sets it from a Secret). */
export const OIDC_CLIENT_SECRET_ENV = 'MCPFLEET_OIDC_CLIENT_SECRET';

export const AUTHN_FLAGS = [
  {
    name: 'oidc-type',
    kind: 'string',
    default: 'inline',
    choices: ['inline', 'kubernetesServiceAccount'],
    help: "token issuer kind: an OIDC provider (inline), or the cluster's own service-account issuer",
  },
  {
    name: 'oidc-issuer',
    kind: 'string',
    help: 'expected token issuer (iss); setting it turns authentication on. Its /.well-known/openid-configuration names the JWKS',
  },
  { name: 'oidc-audience', kind: 'string', help: 'expected token audience (aud); default: --resource-url' },
  {
    name: 'resource-url',
    kind: 'string',
    help: "this MCP server's public URL (RFC 9728 resource, e.g. https://mcp.example.com/mcp); required with authentication",
  },
  { name: 'oidc-jwks-url', kind: 'string', help: "JWKS URL (default: jwks_uri from the issuer's discovery document)" },
  { name: 'oidc-introspection-url', kind: 'string', help: 'RFC 7662 introspection endpoint for opaque (non-JWT) tokens' },
  { name: 'oidc-client-id', kind: 'string', help: 'client id for introspection' },
  {
    name: 'oidc-client-secret-file',
    kind: 'string',
    help: 'file holding the introspection client secret (or set MCPFLEET_OIDC_CLIENT_SECRET); never a flag value',
  },
  {
    name: 'oidc-ca-bundle-file',
    kind: 'string',
    help: "PEM CA bundle trusted for the issuer, JWKS and introspection (default: system CAs; kubernetesServiceAccount: the pod's ca.crt)",
  },
  {
    name: 'oidc-kubernetes-api-url',
    kind: 'string',
    default: IN_CLUSTER.apiServer,
    help: 'kubernetesServiceAccount: apiserver serving discovery and /openid/v1/jwks',
  },
  {
    name: 'oidc-kubernetes-token-file',
    kind: 'string',
    default: IN_CLUSTER.tokenFile,
    help: 'kubernetesServiceAccount: bearer token sent when fetching discovery and JWKS from the apiserver',
  },
  { name: 'oidc-scopes', kind: 'string', help: "comma-separated scopes advertised in the resource metadata (scopes_supported), as ToolHive's scopes" },
  { name: 'oidc-required-scopes', kind: 'string', help: 'comma-separated scopes every token must carry (403 insufficient_scope otherwise); advertised too' },
  {
    name: 'oidc-allowed-service-accounts',
    kind: 'string',
    help: 'kubernetesServiceAccount: comma-separated namespace/name (or namespace/*) allowed in; default any',
  },
  {
    name: 'oidc-algorithms',
    kind: 'string',
    default: ASYMMETRIC_ALGORITHMS.join(','),
    help: 'accepted JWS algorithms (asymmetric only; none and HS* are refused)',
  },
  { name: 'oidc-clock-skew', kind: 'duration', default: '30s', help: 'tolerance on exp/nbf/iat' },
  { name: 'oidc-jwks-refresh-cooldown', kind: 'duration', default: '30s', help: 'least time between JWKS refetches caused by an unknown key id' },
  {
    name: 'oidc-jwks-cache-max-age',
    kind: 'duration',
    default: '10m',
    help: 'refetch the JWKS after this long (while the issuer is unreachable, the last keys stay in use for up to 1h)',
  },
  { name: 'oidc-groups-claim', kind: 'string', default: 'groups', help: "claim holding the principal's groups (dotted path allowed)" },
  { name: 'oidc-roles-claim', kind: 'string', default: 'roles', help: "claim holding the principal's roles (dotted path allowed)" },
  { name: 'oidc-token-cache-size', kind: 'int', default: '10000', help: 'verified tokens remembered (by SHA-256) until they expire' },
] as const satisfies readonly FlagSpec[];
