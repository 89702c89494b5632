// The pipeline stage that makes this proxy an OAuth 2.1 resource server (MCP specification
// 2025-06-18, "Authorization"; RFC 6750 for the bearer scheme and its errors). It runs after
// routing and before the request body is read, so an unauthenticated client cannot make the
// proxy buffer a body. Outcomes:
//   no bearer token     → 401, WWW-Authenticate: Bearer resource_metadata="<RFC 9728 URL>"
//   token fails to verify → 401, … error="invalid_token", error_description="…"
//   lacks required scopes → 403, … error="insufficient_scope", scope="…"
//   principal not let in  → 403
//   another principal's session → 404, as for an unknown session (authnSessions.ts)
//   issuer unreachable    → 503 with Retry-After (the client's token may be fine)
//   verified            → exchange.principal is set and the pipeline goes on
// A token seen before is answered from the verifier's cache synchronously (no promise on
// the hot path). Tokens are never logged; the Authorization header is stripped before any
// upstream request (upstream/transparent.ts), as the specification forbids passing it on.
import type { Logger } from '../../../common/log.ts';
import type { Exchange } from '../http/exchange.ts';
import type { TokenVerifier, AuthnVerdict } from './authn.ts';
import type { AuthnMetrics, AuthResult } from './authnMetrics.ts';
import { ownerKey, sessionIdOf, type SessionOwners } from './authnSessions.ts';
import type { Principal } from './principal.ts';

export type AuthnStep = (exchange: Exchange, next: () => void) => void;

export interface AuthnStageDeps {
  verifier: TokenVerifier;
  requiredScopes: readonly string[];
  /** Absolute URL of the RFC 9728 document, named in every challenge. */
  resourceMetadataUrl: string;
  metrics: AuthnMetrics;
  log: Logger;
  /** Session ownership; every session is bound to the principal that first used it. */
  sessions: SessionOwners;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export function createAuthnStage(deps: AuthnStageDeps): AuthnStep {
  const { verifier, metrics, log } = deps;
  const metadata = `resource_metadata="${deps.resourceMetadataUrl}"`;
  const scopeParam = deps.requiredScopes.length > 0 ? `, scope="${deps.requiredScopes.join(' ')}"` : '';

  return (exchange, next) => {
    const header = exchange.req.headers.authorization;
    if (header === undefined || !/^bearer(\s|$)/i.test(header)) {
      // No credentials of our scheme: RFC 6750 §3.1 says no error code then.
      refuse(
        exchange,
        401,
        'unauthenticated',
        `Bearer ${metadata}${scopeParam}`,
        'unauthorized',
        'This MCP server needs a bearer token (see the resource metadata for where to get one)',
      );
      return;
    }
    const match = BEARER.exec(header);
    if (!match) {
      refuse(exchange, 401, 'invalid_token', challenge('invalid_token', 'malformed bearer token'), 'invalid_token', 'malformed bearer token');
      return;
    }
    const token = match[1] as string;
    const known = verifier.cached(token);
    if (known) {
      admit(exchange, known, next);
      return;
    }
    verifier.verify(token).then(
      (verdict) => decide(exchange, verdict, next),
      (err: unknown) => {
        log.error('token verification failed unexpectedly', { err: err as Error });
        decide(exchange, { ok: false, kind: 'unavailable', reason: 'internal error' }, next);
      },
    );
  };

  function decide(exchange: Exchange, verdict: AuthnVerdict, next: () => void): void {
    // The client may have left while the issuer was asked.
    if (exchange.res.destroyed || exchange.res.headersSent) return;
    if (verdict.ok) {
      admit(exchange, verdict.principal, next);
      return;
    }
    switch (verdict.kind) {
      case 'invalid_token':
        log.debug('bearer token refused', { reason: verdict.reason, path: exchange.req.url });
        refuse(exchange, 401, 'invalid_token', challenge('invalid_token', verdict.reason), 'invalid_token', verdict.reason);
        return;
      case 'forbidden':
        log.info('principal refused', { reason: verdict.reason });
        refuse(exchange, 403, 'forbidden', `Bearer ${metadata}`, 'access_denied', verdict.reason);
        return;
      case 'unavailable':
        log.warn('cannot verify bearer tokens: issuer unavailable', { reason: verdict.reason });
        refuse(exchange, 503, 'unavailable', undefined, 'temporarily_unavailable', 'The token issuer cannot be reached; retry shortly', { 'retry-after': '5' });
        return;
    }
  }

  function admit(exchange: Exchange, principal: Principal, next: () => void): void {
    const missing = deps.requiredScopes.filter((s) => !principal.scopes.includes(s));
    if (missing.length > 0) {
      refuse(
        exchange,
        403,
        'forbidden',
        challenge('insufficient_scope', `missing scope ${missing.join(' ')}`),
        'insufficient_scope',
        `The token lacks the scope ${missing.join(' ')}`,
      );
      return;
    }
    const sessionId = sessionIdOf(exchange.req);
    if (sessionId !== undefined && !ownSession(exchange, principal, sessionId)) {
      log.info("request for another principal's session refused", { subject: principal.subject });
      refuse(exchange, 404, 'forbidden', undefined, 'not_found', 'Session not found');
      return;
    }
    metrics.result('allowed');
    exchange.principal = principal;
    next();
  }

  /** False when the session is bound to someone else; binds it on a 2xx answer when unbound. */
  function ownSession(exchange: Exchange, principal: Principal, sessionId: string): boolean {
    const me = ownerKey(principal);
    const owner = deps.sessions.owner(sessionId);
    if (owner !== undefined && owner !== me) return false;
    const { req, res } = exchange;
    if (owner === undefined || req.method === 'DELETE') {
      // 'finish' (not 'close'): only an answer that was sent completely counts.
      res.once('finish', () => {
        if (res.statusCode < 200 || res.statusCode >= 300) return;
        if (req.method === 'DELETE') deps.sessions.unbind(sessionId);
        else deps.sessions.bind(sessionId, me);
      });
    }
    return true;
  }

  function challenge(error: 'invalid_token' | 'insufficient_scope', description: string): string {
    return `Bearer error="${error}", error_description="${headerSafe(description)}"${error === 'insufficient_scope' ? scopeParam : ''}, ${metadata}`;
  }

  function refuse(
    exchange: Exchange,
    status: number,
    result: AuthResult,
    wwwAuthenticate: string | undefined,
    error: string,
    description: string,
    extraHeaders: Record<string, string> = {},
  ): void {
    metrics.result(result);
    const { res } = exchange;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = JSON.stringify({ error, error_description: description });
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      ...extraHeaders,
    };
    if (wwwAuthenticate) headers['www-authenticate'] = wwwAuthenticate;
    res.writeHead(status, headers).end(body);
  }
}

/** RFC 6750 §3: error_description holds %x20-21 / %x23-5B / %x5D-7E only (no quote, no backslash). */
export function headerSafe(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '').slice(0, 200);
}
