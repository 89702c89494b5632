// OAuth 2.0 Protected Resource Metadata (RFC 9728), how an MCP client learns which
// authorization server to get a token from (MCP specification 2025-06-18, "Authorization").
// The document is served without authentication at the well-known URL formed from the
// resource URL (RFC 9728 §3.1: /.well-known/oauth-protected-resource inserted between host
// and path, e.g. /.well-known/oauth-protected-resource/mcp) and at the bare well-known path
// (clients fall back to it), and its URL is named in every 401's WWW-Authenticate.
import type { Exchange } from '../http/exchange.ts';
import type { Route, Routes } from '../http/pipeline.ts';

export const WELL_KNOWN_PRM = '/.well-known/oauth-protected-resource';

export interface ResourceMetadata {
  resource: string;
  authorization_servers?: string[];
  scopes_supported?: string[];
  bearer_methods_supported: string[];
}

/** Absolute URL of the metadata document for a resource URL (RFC 9728 §3.1). */
export function resourceMetadataUrl(resourceUrl: URL): string {
  const path = resourceUrl.pathname === '/' ? '' : resourceUrl.pathname.replace(/\/+$/, '');
  return `${resourceUrl.origin}${WELL_KNOWN_PRM}${path}`;
}

export function resourceMetadata(resourceUrl: URL, issuer: string | undefined, scopes: readonly string[]): ResourceMetadata {
  return {
    // RFC 9728 §3.3: `resource` must equal the resource the metadata URL was formed from.
    resource: resourceUrl.href,
    ...(issuer ? { authorization_servers: [issuer] } : {}),
    ...(scopes.length > 0 ? { scopes_supported: [...scopes] } : {}),
    bearer_methods_supported: ['header'],
  };
}

/**
 * Public routes for the metadata: the bare well-known path, the one formed from the resource
 * URL's path, and one per MCP path this proxy serves (/mcp, /sse...), so the document is found
 * whichever of them a client derives. `issuer()` may look the issuer up (kubernetesServiceAccount).
 */
export function prmRoutes(resourceUrl: URL, mcpPaths: readonly string[], scopes: readonly string[], issuer: () => Promise<string | undefined>): Routes {
  const route: Route = {
    methods: ['GET', 'OPTIONS'],
    public: true,
    handle(exchange: Exchange) {
      const { req, res } = exchange;
      // Browser-based MCP clients read this cross-origin before they hold any credential.
      res.setHeader('access-control-allow-origin', '*');
      if (req.method === 'OPTIONS') {
        res
          .writeHead(204, {
            'access-control-allow-methods': 'GET, OPTIONS',
            'access-control-allow-headers': 'mcp-protocol-version',
            'access-control-max-age': '86400',
          })
          .end();
        return;
      }
      issuer()
        .catch(() => undefined)
        .then((name) => {
          if (res.destroyed || res.headersSent) return;
          const body = JSON.stringify(resourceMetadata(resourceUrl, name, scopes));
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'max-age=300' }).end(body);
        })
        .catch(() => res.destroy());
    },
  };
  const paths = new Set([WELL_KNOWN_PRM, new URL(resourceMetadataUrl(resourceUrl)).pathname, ...mcpPaths.map((p) => `${WELL_KNOWN_PRM}${p}`)]);
  return Object.fromEntries([...paths].map((path) => [path, route]));
}
