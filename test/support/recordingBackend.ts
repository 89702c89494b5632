// A real streamable-HTTP MCP server (the official SDK's McpServer and server transport on
// node:http, in the test process) that records which session every request carried, so a
// test can assert at the upstream that each session's requests reached the pod owning it.
// Its `echo` tool answers "<name>: <message>", so a client can see which backend answered.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export interface Seen {
  sessionId: string | undefined;
  method: string;
  rpcMethod: string | undefined;
}

export interface RecordingBackend {
  name: string;
  port: number;
  /** Session IDs this backend issued. */
  issued: Set<string>;
  /** Every request, in order of arrival. */
  seen: Seen[];
  stop(): Promise<void>;
}

export async function startRecordingBackend(name: string): Promise<RecordingBackend> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const issued = new Set<string>();
  const seen: Seen[] = [];
  const newServer = (): McpServer => {
    const server = new McpServer({ name: `backend-${name}`, version: '1.0.0' });
    server.registerTool('echo', { description: 'Echoes back the input, naming this backend', inputSchema: { message: z.string() } }, async ({ message }) => ({
      content: [{ type: 'text', text: `${name}: ${message}` }],
    }));
    return server;
  };
  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      const sessionId = typeof req.headers['mcp-session-id'] === 'string' ? req.headers['mcp-session-id'] : undefined;
      const rpcMethod = (body as { method?: unknown } | undefined)?.method;
      seen.push({ sessionId, method: req.method ?? '', rpcMethod: typeof rpcMethod === 'string' ? rpcMethod : undefined });
      let transport = sessionId === undefined ? undefined : transports.get(sessionId);
      if (!transport) {
        if (sessionId !== undefined) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}');
          return;
        }
        const fresh = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: true,
          onsessioninitialized: (id) => {
            transports.set(id, fresh);
            issued.add(id);
          },
        });
        fresh.onclose = () => {
          if (fresh.sessionId) transports.delete(fresh.sessionId);
        };
        await newServer().connect(fresh);
        transport = fresh;
      }
      await transport.handleRequest(req, res, body);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    issued,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
