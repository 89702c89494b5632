// A minimal streamable-HTTP MCP client on node:http for load generation: the SDK
// client is the reference for correctness (tests), this one is lean enough that the
// load generator does not drown the machine it measures.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface HttpResult {
  status: number;
  sessionId: string | undefined;
  body: string;
  ms: number;
}

export const INIT_PARAMS: Record<string, unknown> = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcpfleet-bench', version: '1' } };

export const INIT_BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS });

/** The parts of a JSON-RPC answer the tests and benches read. */
export interface RpcAnswer {
  result?: { content: { text: string }[] };
  error?: { code: number; message: string };
}

/** Parses an answer body; a body that is not one still fails the caller's expectations. */
export function parseAnswer(body: string): RpcAnswer {
  return JSON.parse(body) as RpcAnswer;
}

export class McpHttpClient {
  readonly #url: URL;
  readonly #agent: http.Agent;
  readonly #headers: Readonly<Record<string, string>>;

  /** `headers` go on every request (e.g. `authorization` for a proxy that authenticates). */
  constructor(url: string, agent: http.Agent, headers: Readonly<Record<string, string>> = {}) {
    this.#url = new URL(url);
    this.#agent = agent;
    this.#headers = headers;
  }

  request(method: 'POST' | 'DELETE' | 'GET', body: string | undefined, sessionId?: string): Promise<HttpResult> {
    const started = performance.now();
    const headers: Record<string, string> = { ...this.#headers, accept: 'application/json, text/event-stream' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    if (sessionId) {
      headers['mcp-session-id'] = sessionId;
      headers['mcp-protocol-version'] = '2025-06-18';
    }
    return new Promise((resolve, reject) => {
      const req = http.request(this.#url, { method, headers, agent: this.#agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const sid = res.headers['mcp-session-id'];
          resolve({ status: res.statusCode ?? 0, sessionId: typeof sid === 'string' ? sid : undefined, body: text, ms: performance.now() - started });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  async initialize(): Promise<string> {
    const res = await this.request('POST', INIT_BODY);
    if (res.status !== 200 || !res.sessionId) throw new Error(`initialize failed: HTTP ${res.status} ${res.body.slice(0, 200)}`);
    const ack = await this.request('POST', JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), res.sessionId);
    if (ack.status !== 202) throw new Error(`notifications/initialized failed: HTTP ${ack.status}`);
    return res.sessionId;
  }
}

export const toolCall = (id: number, name: string, args: Record<string, unknown>): string =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
