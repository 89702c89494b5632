// A raw streamable-HTTP MCP client for hostile tests: it sends exactly the JSON-RPC it is
// given (forged answers, reused ids) and returns what came back, JSON or SSE, parsed.
// The SDK client is used where a well-behaved client is the point; this one is for the
// client that misbehaves.
import http from 'node:http';
import { INIT_BODY } from './mcpHttp.ts';

export interface RpcReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** JSON-RPC messages in the body (one for JSON, every `data:` of an SSE body). */
  messages: Record<string, unknown>[];
  body: string;
}

export function rpcPost(url: string, body: unknown, sessionId?: string): Promise<RpcReply> {
  const text = JSON.stringify(body);
  const headers: Record<string, string> = {
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  };
  if (sessionId) {
    headers['mcp-session-id'] = sessionId;
    headers['mcp-protocol-version'] = '2025-06-18';
  }
  return rawRequest(url, 'POST', headers, text);
}

export function rpcDelete(url: string, sessionId: string): Promise<RpcReply> {
  return rawRequest(url, 'DELETE', { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' });
}

function rawRequest(url: string, method: string, headers: Record<string, string>, body?: string): Promise<RpcReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let received = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (received += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, messages: parseMessages(received, res.headers['content-type']), body: received }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function parseMessages(body: string, contentType: string | undefined): Record<string, unknown>[] {
  if (!body) return [];
  if (contentType?.includes('text/event-stream')) {
    return body
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => JSON.parse(line.slice(5).trim()) as Record<string, unknown>);
  }
  return contentType?.includes('application/json') ? [JSON.parse(body) as Record<string, unknown>] : [];
}

/** initialize + notifications/initialized; returns the session id. */
export async function rpcSession(url: string): Promise<string> {
  const init = await rpcPost(url, JSON.parse(INIT_BODY));
  const sessionId = init.headers['mcp-session-id'];
  if (init.status !== 200 || typeof sessionId !== 'string') throw new Error(`initialize: HTTP ${init.status} ${init.body.slice(0, 300)}`);
  const ack = await rpcPost(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, sessionId);
  if (ack.status !== 202) throw new Error(`notifications/initialized: HTTP ${ack.status}`);
  return sessionId;
}

export const callTool = (id: number | string, name: string, args: Record<string, unknown> = {}): Record<string, unknown> => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

/** The JSON a fixture tool answered with (its one text content), from a reply's last message. */
export function toolJson(reply: RpcReply): Record<string, unknown> {
  const last = reply.messages.at(-1) as { result?: { content?: { text?: string }[] }; error?: unknown } | undefined;
  const text = last?.result?.content?.[0]?.text;
  if (typeof text !== 'string') throw new Error(`not a tool result: HTTP ${reply.status} ${reply.body.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}
