// `--session-recovery replay` (opt-in; ToolHive's behaviour): a session whose backend pod
// went away is re-initialized on a live pod with the client's own initialize request, then
// `notifications/initialized` is sent, and the client's request is replayed there under the
// new upstream session ID. The client keeps its ID and notices nothing.
// The trade-off, stated where it happens: whatever the server kept for the session
// (subscriptions, resources it created, a conversation's state, a pending server-to-client
// request) is gone, and nobody is told. The default (`none`) ends the session instead, so
// the client gets 404 and re-initializes knowingly, as the MCP specification says.
// Bounds: the initialize answer is read up to RECOVERY_ANSWER_LIMIT bytes (only its session
// header matters) and each step has a deadline.

export const RECOVERY_ANSWER_LIMIT = 64 * 1024;

export interface Reinitialized {
  upstreamId: string;
}

/** Re-initializes on `url`; the new upstream session ID, or an Error saying why not. */
export async function reinitialize(url: URL, initialize: string, protocolVersion: string | undefined, timeoutMs: number): Promise<Reinitialized | Error> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  try {
    const res = await fetch(url, { method: 'POST', headers, body: initialize, signal: AbortSignal.timeout(timeoutMs) });
    const upstreamId = res.headers.get('mcp-session-id');
    await drain(res);
    if (res.status < 200 || res.status > 299) return new Error(`initialize answered ${res.status}`);
    if (!upstreamId) return new Error('initialize answered without Mcp-Session-Id');
    const notify: Record<string, string> = { ...headers, 'mcp-session-id': upstreamId };
    if (protocolVersion) notify['mcp-protocol-version'] = protocolVersion;
    const done = await fetch(url, {
      method: 'POST',
      headers: notify,
      body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await drain(done);
    if (done.status < 200 || done.status > 299) return new Error(`notifications/initialized answered ${done.status}`);
    return { upstreamId };
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** Reads and drops a body, at most RECOVERY_ANSWER_LIMIT bytes (then the stream is cancelled). */
async function drain(res: Response): Promise<void> {
  if (!res.body) return;
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      size += value.byteLength;
      // An SSE answer may stay open after the initialize result: one event is enough.
      if (size > RECOVERY_ANSWER_LIMIT || res.headers.get('content-type')?.startsWith('text/event-stream')) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    // a broken body does not matter: the session header was already read
  }
}
