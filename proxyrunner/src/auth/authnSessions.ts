// Which principal a session belongs to, so that with authentication on one principal can
// never use another's session: not read its stream, not inject requests into it, not end it
// (MCP specification, Security Best Practices: bind session IDs to the user). Every request
// is still authenticated by its own token; this only adds "and the session is yours".
//
// Binding is on first successful use: the first authenticated request naming a session that
// the proxy answers 2xx binds the session to that principal (for streamable HTTP that is the
// creator's notifications/initialized, for legacy SSE its first POST /messages). A session id
// is only ever revealed to its creator, so nobody else can get there first; ids that are
// refused (unknown, 404) bind nothing, so made-up ids cannot fill the table. The table is an
// LRU bounded by the session cap; a 2xx DELETE unbinds. A mismatch answers 404, as for a
// session that does not exist (nothing is revealed about who owns it).
import type { IncomingMessage } from 'node:http';
import type { Principal } from './principal.ts';

/** Longest session id we keep (the pipeline rejects longer ones anyway). */
const MAX_ID_LENGTH = 256;

export class SessionOwners {
  readonly #owners = new Map<string, string>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  get size(): number {
    return this.#owners.size;
  }

  /** undefined: unbound; else the owner's key. Refreshes the entry's recency. */
  owner(sessionId: string): string | undefined {
    const owner = this.#owners.get(sessionId);
    if (owner !== undefined) {
      this.#owners.delete(sessionId);
      this.#owners.set(sessionId, owner);
    }
    return owner;
  }

  bind(sessionId: string, ownerKey: string): void {
    if (sessionId.length > MAX_ID_LENGTH || this.#owners.has(sessionId)) return;
    if (this.#owners.size >= this.#capacity) {
      const oldest = this.#owners.keys().next().value as string;
      this.#owners.delete(oldest);
    }
    this.#owners.set(sessionId, ownerKey);
  }

  unbind(sessionId: string): void {
    this.#owners.delete(sessionId);
  }
}

/** A principal's identity for session ownership: issuer and subject. */
export function ownerKey(principal: Principal): string {
  return `${principal.issuer}\n${principal.subject}`;
}

/** The session a request names: Mcp-Session-Id (streamable HTTP) or ?sessionId= (legacy SSE POST). */
export function sessionIdOf(req: IncomingMessage): string | undefined {
  const header = req.headers['mcp-session-id'];
  if (typeof header === 'string') return header.length <= MAX_ID_LENGTH ? header : undefined;
  const url = req.url ?? '';
  const at = url.indexOf('sessionId=');
  if (at === -1) return undefined;
  const id = new URL(url, 'http://x').searchParams.get('sessionId');
  return id !== null && id !== '' && id.length <= MAX_ID_LENGTH ? id : undefined;
}
