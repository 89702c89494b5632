// The checks of the authentication flags (`--oidc-*`, `--resource-url`). The flags themselves are
// in common/contract/authnFlags.ts, because the operator sets them from MCPOIDCConfig; config.ts
// splices AUTHN_FLAGS into the proxyrunner's one flag table.
//
// Authentication is off unless `--oidc-issuer` is set or `--oidc-type kubernetesServiceAccount`
// is chosen. When it is on, a resource URL or audience is required (an audience check that
// accepts anything is no check), the algorithm list may hold only asymmetric algorithms, and
// the client secret for introspection comes from a file or the environment, never a flag.
import { fs } from '../../../common/builtins.ts';
import { UsageError, type Flags } from '../../../common/cli/flags.ts';
import { ASYMMETRIC_ALGORITHMS, AUTHN_FLAGS, IN_CLUSTER, OIDC_CLIENT_SECRET_ENV } from '../../../common/contract/authnFlags.ts';

export type OidcType = 'inline' | 'kubernetesServiceAccount';

export { ASYMMETRIC_ALGORITHMS, AUTHN_FLAGS, IN_CLUSTER };

export interface AuthnConfig {
  type: OidcType;
  /** Expected `iss`; for kubernetesServiceAccount, read from the apiserver's discovery when unset. */
  issuer: string | undefined;
  /** Accepted `aud` values: the configured audience, else the resource URL. */
  audiences: string[];
  /** This MCP server's resource identifier (RFC 9728 `resource`, RFC 8707). */
  resourceUrl: URL;
  /** JWKS location; when unset, the discovery document's `jwks_uri`. */
  jwksUrl: URL | undefined;
  introspection: { url: URL; clientId: string; clientSecret: string } | undefined;
  /** PEM bundle trusted for the issuer, JWKS and introspection (added to the system CAs). */
  caBundle: string | undefined;
  /** kubernetesServiceAccount: apiserver base URL, and the token file sent when fetching its discovery and JWKS. */
  kubernetes: { apiServer: URL; tokenFile: string } | undefined;
  /** Scopes a token must carry (all of them); 403 insufficient_scope otherwise. */
  requiredScopes: string[];
  /** `scopes_supported` in the metadata (ToolHive's `scopes`): the advertised ones plus the required ones. */
  advertisedScopes: string[];
  /** `namespace/name` or `namespace/*`; empty = any account of the issuer. */
  allowedServiceAccounts: string[];
  algorithms: string[];
  clockSkewSeconds: number;
  jwksCooldownMs: number;
  /** How long a fetched JWKS is used before it is fetched again. */
  jwksCacheMaxAgeMs: number;
  groupsClaim: string;
  rolesClaim: string;
  /** Verified tokens kept (by SHA-256) until expiry, so a token's signature is checked once. */
  cacheMaxEntries: number;
}

/** undefined when authentication is off. */
export function parseAuthnConfig(flags: Flags, env: NodeJS.ProcessEnv): AuthnConfig | undefined {
  const type = flags.string('oidc-type') as OidcType;
  const issuer = flags.string('oidc-issuer') || undefined;
  if (issuer) url('oidc-issuer', issuer, true);
  if (type === 'inline' && !issuer) {
    for (const name of [
      'oidc-audience',
      'oidc-jwks-url',
      'oidc-introspection-url',
      'resource-url',
      'oidc-scopes',
      'oidc-required-scopes',
      'oidc-allowed-service-accounts',
    ]) {
      if (flags.string(name))
        throw new UsageError(`--${name} needs --oidc-issuer (or --oidc-type kubernetesServiceAccount): authentication is off without an issuer`);
    }
    return undefined;
  }
  const resource = flags.string('resource-url');
  if (!resource) throw new UsageError("--resource-url is required with authentication (this server's public MCP URL, e.g. https://mcp.example.com/mcp)");
  const resourceUrl = url('resource-url', resource, false);
  if (resourceUrl.hash) throw new UsageError('--resource-url must not have a fragment (RFC 8707)');
  const audience = flags.string('oidc-audience');

  const algorithms = flags.list('oidc-algorithms');
  const refused = algorithms.filter((a) => !(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a));
  if (refused.length > 0) throw new UsageError(`--oidc-algorithms: ${refused.join(', ')} not allowed (asymmetric only: ${ASYMMETRIC_ALGORITHMS.join(', ')})`);
  if (algorithms.length === 0) throw new UsageError('--oidc-algorithms must name at least one algorithm');

  const introspectionText = flags.string('oidc-introspection-url');
  let introspection: AuthnConfig['introspection'];
  if (introspectionText) {
    const clientId = flags.string('oidc-client-id');
    if (!clientId) throw new UsageError('--oidc-introspection-url needs --oidc-client-id');
    const secretFile = flags.string('oidc-client-secret-file');
    const clientSecret = secretFile ? readText('oidc-client-secret-file', secretFile).trim() : env[OIDC_CLIENT_SECRET_ENV];
    if (!clientSecret) throw new UsageError('--oidc-introspection-url needs a client secret: --oidc-client-secret-file or MCPFLEET_OIDC_CLIENT_SECRET');
    introspection = { url: url('oidc-introspection-url', introspectionText), clientId, clientSecret };
  }

  const k8s = type === 'kubernetesServiceAccount';
  const caFile = flags.string('oidc-ca-bundle-file') || (k8s ? IN_CLUSTER.caFile : undefined);
  const allowedServiceAccounts = flags.list('oidc-allowed-service-accounts');
  for (const entry of allowedServiceAccounts) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/(\*|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.test(entry)) {
      throw new UsageError(`--oidc-allowed-service-accounts: "${entry}" is not namespace/name or namespace/*`);
    }
  }
  if (allowedServiceAccounts.length > 0 && !k8s) throw new UsageError('--oidc-allowed-service-accounts needs --oidc-type kubernetesServiceAccount');

  return {
    type,
    issuer,
    audiences: [audience || resourceUrl.href],
    resourceUrl,
    jwksUrl: flags.string('oidc-jwks-url') ? url('oidc-jwks-url', flags.string('oidc-jwks-url') as string) : undefined,
    introspection,
    caBundle: caFile ? readText('oidc-ca-bundle-file', caFile) : undefined,
    kubernetes: k8s
      ? {
          apiServer: url('oidc-kubernetes-api-url', flags.string('oidc-kubernetes-api-url') as string),
          tokenFile: flags.string('oidc-kubernetes-token-file') as string,
        }
      : undefined,
    requiredScopes: flags.list('oidc-required-scopes'),
    advertisedScopes: [...new Set([...flags.list('oidc-scopes'), ...flags.list('oidc-required-scopes')])],
    allowedServiceAccounts,
    algorithms,
    clockSkewSeconds: Math.round(flags.duration('oidc-clock-skew') / 1000),
    jwksCooldownMs: flags.duration('oidc-jwks-refresh-cooldown'),
    jwksCacheMaxAgeMs: flags.duration('oidc-jwks-cache-max-age'),
    groupsClaim: flags.string('oidc-groups-claim') as string,
    rolesClaim: flags.string('oidc-roles-claim') as string,
    cacheMaxEntries: flags.int('oidc-token-cache-size', 0, 1_000_000),
  };
}

/** A loggable view: URLs and choices, never the client secret or CA contents. */
export function describeAuthn(config: AuthnConfig | undefined): Record<string, unknown> {
  if (!config) return { authentication: 'off' };
  return {
    authentication: config.type,
    issuer: config.issuer ?? '(from apiserver discovery)',
    audiences: config.audiences,
    resourceUrl: config.resourceUrl.href,
    jwksUrl: config.jwksUrl?.href ?? '(from discovery)',
    introspectionUrl: config.introspection?.url.href,
    requiredScopes: config.requiredScopes,
    advertisedScopes: config.advertisedScopes,
    allowedServiceAccounts: config.allowedServiceAccounts.length > 0 ? config.allowedServiceAccounts : undefined,
  };
}

/** Key material and introspection must come over TLS (plain http only on loopback, for tests). */
function url(flag: string, text: string, trustSource = true): URL {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new UsageError(`--${flag} "${text}" is not a URL`);
  }
  const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && (loopback || !trustSource))) {
    throw new UsageError(`--${flag} must be an https URL (http only on loopback), got "${text}"`);
  }
  return parsed;
}

function readText(flag: string, path: string): string {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
