// Assembles authentication from its configuration: the key resolver, the token verifier,
// the pipeline stage, the auth metric, and the public RFC 9728 routes. app.ts calls this
// once when --oidc-issuer (or --oidc-type kubernetesServiceAccount) is set; with nothing
// configured there is no stage at all, so the unauthenticated path costs nothing.
import type { Registry } from 'prom-client';
import type { Logger } from '../../../common/log.ts';
import type { Routes } from '../http/pipeline.ts';
import { createTokenVerifier, type TokenVerifier } from './authn.ts';
import type { AuthnConfig } from './authnConfig.ts';
import { createAuthnMetrics } from './authnMetrics.ts';
import { createAuthnStage, type AuthnStep } from './authnStage.ts';
import { SessionOwners } from './authnSessions.ts';
import { createKeyResolver } from './jwks.ts';
import { prmRoutes, resourceMetadataUrl } from './prm.ts';

export interface Authentication {
  step: AuthnStep;
  /** Public metadata routes, to be served beside the MCP routes. */
  routes: Routes;
  verifier: TokenVerifier;
}

export function createAuthentication(config: AuthnConfig, registry: Registry, log: Logger, mcpPaths: readonly string[], maxSessions: number): Authentication {
  const keys = createKeyResolver(config);
  const verifier = createTokenVerifier(config, keys);
  const metadataUrl = resourceMetadataUrl(config.resourceUrl);
  const step = createAuthnStage({
    verifier,
    requiredScopes: config.requiredScopes,
    resourceMetadataUrl: metadataUrl,
    metrics: createAuthnMetrics(registry),
    log,
    sessions: new SessionOwners(Math.max(1_000, maxSessions * 2)),
  });
  const issuer = async (): Promise<string | undefined> => config.issuer ?? (await keys.resolve()).issuer;
  return { step, routes: prmRoutes(config.resourceUrl, mcpPaths, config.advertisedScopes, issuer), verifier };
}
