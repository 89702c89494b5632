// Hop-by-hop header fields (RFC 9110 §7.6.1): they describe one connection, so a proxy
// consumes them and never forwards them. Connection may name more (e.g.
// "Connection: close, X-Secret" makes X-Secret hop-by-hop too). Pure; used on requests
// to the upstream and on responses to the client.

/** Always hop-by-hop, whether or not Connection names them (lower case). */
export const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'transfer-encoding'] as const;

const ALWAYS: ReadonlySet<string> = new Set(HOP_BY_HOP);

/**
 * Every header name (lower case) to strip, given the Connection header value(s). Shared and
 * read-only when Connection names nothing beyond the fixed set ("keep-alive", the common case
 * on every proxied request and response): no Set is built per message then.
 */
export function hopByHopNames(connection: string | readonly string[] | undefined): ReadonlySet<string> {
  if (connection === undefined) return ALWAYS;
  let names: Set<string> | undefined;
  for (const value of typeof connection === 'string' ? [connection] : connection) {
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase();
      if (name && !ALWAYS.has(name)) (names ??= new Set(HOP_BY_HOP)).add(name);
    }
  }
  return names ?? ALWAYS;
}
