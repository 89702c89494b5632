// Real MCP clients from the official SDK, connected the way users connect them.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface Connected {
  client: Client;
  transport: StreamableHTTPClientTransport | SSEClientTransport;
  /** Ends the session the way the client would: DELETE (streamable HTTP) or closing the stream (SSE). */
  end(): Promise<void>;
}

export async function connect(url: string, options: { capabilities?: Record<string, unknown> } = {}): Promise<Connected> {
  const client = new Client({ name: 'mcpfleet-test', version: '1.0.0' }, { capabilities: options.capabilities ?? {} });
  const transport = url.endsWith('/sse') ? new SSEClientTransport(new URL(url)) : new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return {
    client,
    transport,
    async end() {
      if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession();
      await client.close();
    },
  };
}
