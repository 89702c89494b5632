// A session's pin: which backend pod holds it, and, after a replay recovery, the upstream
// session ID that now stands behind the client's (the client keeps the ID it was given;
// the proxy rewrites it on the way up). With `--session-recovery replay` the pin also
// keeps the session's initialize body, so any replica can re-initialize it elsewhere.
// One string (JSON) because it is stored as is in the shared session table
// (sessions/store.ts, P:pins) and in each replica's memory; parsed once per string.

export interface Pin {
  /** Backend key (endpoints.ts). */
  backend: string;
  /** The upstream's session ID when it differs from the client's (after a recovery). */
  upstreamId?: string;
  /** The client's initialize request, kept for a replay recovery. */
  initialize?: string;
}

export function encodePin(pin: Pin): string {
  return JSON.stringify({
    b: pin.backend,
    ...(pin.upstreamId !== undefined && { u: pin.upstreamId }),
    ...(pin.initialize !== undefined && { i: pin.initialize }),
  });
}

/** undefined for '' (no pin) or anything that is not a pin this code wrote. */
export function decodePin(text: string): Pin | undefined {
  if (text === '') return undefined;
  try {
    const raw = JSON.parse(text) as { b?: unknown; u?: unknown; i?: unknown };
    if (typeof raw.b !== 'string') return undefined;
    return {
      backend: raw.b,
      ...(typeof raw.u === 'string' && { upstreamId: raw.u }),
      ...(typeof raw.i === 'string' && { initialize: raw.i }),
    };
  } catch {
    return undefined;
  }
}

const cache = new WeakMap<object, { text: string; pin: Pin | undefined }>();

/** The decoded pin of a session's data, decoded again only when the string changed. */
export function pinOf(data: { pin: string }): Pin | undefined {
  const hit = cache.get(data);
  if (hit && hit.text === data.pin) return hit.pin;
  const pin = decodePin(data.pin);
  cache.set(data, { text: data.pin, pin });
  return pin;
}
