// Which upstream answers mean "I do not know this session" (issue 14 item 1). The spec
// says 404; the MCP TypeScript SDK's own servers and server-everything answer 400 with
// a JSON-RPC error instead, so a proxy that only watched 404 kept such sessions until
// the idle timeout. Recognised, for a request that carried an Mcp-Session-Id:
//   - HTTP 404, whatever the body (the spec's answer; the SDK's StreamableHTTPServerTransport
//     sends 404 {"error":{"code":-32001,"message":"Session not found"}})
//   - HTTP 400 whose body is a JSON-RPC error object (at most UNKNOWN_SESSION_BODY_LIMIT
//     bytes) with
//       code -32001 (the SDK's session-not-found code), any message, or
//       code -32000 and a message containing, case-insensitively, "no valid session id"
//       (server-everything and the SDK's examples: "Bad Request: No valid session ID
//       provided") or "session not found".
// Any other 400 (a malformed request, "Mcp-Session-Id header is required", an unsupported
// protocol version, a longer or non-JSON body) leaves the session alone: a client's bad
// request must not end its session. Pure: the edges read the body and act.

/** Bodies longer than this are not inspected (the SDK's answers are under 200 bytes). */
export const UNKNOWN_SESSION_BODY_LIMIT = 4_096;

export const SESSION_NOT_FOUND_CODE = -32001;
const GENERIC_SERVER_ERROR_CODE = -32000;
const UNKNOWN_SESSION_TEXTS = ['no valid session id', 'session not found'] as const;

/** True when a 400 body says the session is unknown (see the header for the rule). */
export function bodySaysUnknownSession(body: string): boolean {
  if (body.length > UNKNOWN_SESSION_BODY_LIMIT) return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return false;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
  const error = (parsed as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code === SESSION_NOT_FOUND_CODE) return true;
  if (code !== GENERIC_SERVER_ERROR_CODE || typeof message !== 'string') return false;
  const lower = message.toLowerCase();
  return UNKNOWN_SESSION_TEXTS.some((text) => lower.includes(text));
}

/** Whether a status needs the body read before deciding (only 400 does). */
export const needsBody = (status: number): boolean => status === 400;

/** The whole rule: 404 always, 400 when the body says so. */
export function isUnknownSessionAnswer(status: number, body: string | undefined): boolean {
  if (status === 404) return true;
  return status === 400 && body !== undefined && bodySaysUnknownSession(body);
}
