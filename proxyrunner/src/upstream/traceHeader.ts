// The W3C `traceparent` HTTP header for messages sent to an HTTP upstream on the message path.
// Tracing (telemetry/) puts the upstream call's trace context in each request's params._meta
// (the MCP way, which reaches the server whatever its transport); HTTP-level tracers in front of
// or inside an HTTP upstream only read the header, so the same value goes there too.
//
// The legacy SSE upstream builds each POST itself and sets the header directly. The
// streamable-HTTP upstream's POSTs are built by the MCP SDK transport, which takes no per-message
// headers: PendingTraceHeaders carries each value from the link's send() to the fetch the
// transport makes for it. A value is matched by its presence in that fetch's body (the SDK
// serialises our message as it is; a traceparent is 55 characters of random hex, so it names its
// request exactly), never by order. Entries live from send() until that fetch or the send's end:
// at most the messages of one link in flight between the two.
import type { RpcMessage } from '../jsonrpc.ts';

/** W3C traceparent (version 00 shape): only a well-formed value becomes a header. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The well-formed traceparent in a message's params._meta, if any. */
export function metaTraceparent(message: RpcMessage): string | undefined {
  const meta = message.params?.['_meta'];
  if (typeof meta !== 'object' || meta === null) return undefined;
  const value = (meta as Record<string, unknown>)['traceparent'];
  return typeof value === 'string' && TRACEPARENT.test(value) ? value : undefined;
}

export class PendingTraceHeaders {
  readonly #pending = new Set<string>();

  /** Before sending `message`: returns the value to forget when the send ends (or undefined). */
  add(message: RpcMessage): string | undefined {
    const value = metaTraceparent(message);
    if (value !== undefined) this.#pending.add(value);
    return value;
  }

  forget(value: string | undefined): void {
    if (value !== undefined) this.#pending.delete(value);
  }

  get size(): number {
    return this.#pending.size;
  }

  /** The header for a POST carrying `body`, taken out of the pending set. */
  take(body: unknown): string | undefined {
    if (this.#pending.size === 0 || typeof body !== 'string') return undefined;
    for (const value of this.#pending) {
      if (body.includes(`"traceparent":"${value}"`)) {
        this.#pending.delete(value);
        return value;
      }
    }
    return undefined;
  }

  /** A fetch that adds the traceparent header to the POST that carries a pending value. */
  wrap(base: (url: string | URL, init?: RequestInit) => Promise<Response>): (url: string | URL, init?: RequestInit) => Promise<Response> {
    return (url, init) => {
      const value = init?.method === 'POST' ? this.take(init.body) : undefined;
      if (value === undefined) return base(url, init);
      const headers = new Headers(init?.headers);
      headers.set('traceparent', value);
      return base(url, { ...init, headers });
    };
  }
}
