// Scriptable upstreams for failure cases no real MCP server produces on demand (a 500
// for a live session, garbage bytes, silence). Real sockets all the same.
import http from 'node:http';
import net from 'node:net';

export interface FakeUpstream {
  url: string;
  port: number;
  /** Connections currently open to it (to prove the proxy closed what it opened). */
  openConnections(): number;
  close(): Promise<void>;
}

async function listen(server: net.Server, path: string): Promise<FakeUpstream> {
  let open = 0;
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    open++;
    sockets.add(socket);
    socket.once('close', () => {
      open--;
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    openConnections: () => open,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A handler may be async: if it fails, the failure is logged and the request answered 500 (or its socket destroyed). */
export function fakeHttpUpstream(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>): Promise<FakeUpstream> {
  const guarded = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      process.stderr.write(`fake upstream handler failed: ${String(err)}\n`);
      if (res.headersSent) res.destroy();
      else res.writeHead(500).end();
    });
  };
  return listen(http.createServer(guarded), '/mcp');
}

/** Answers every connection with these raw bytes, then closes it. */
export function rawUpstream(bytes: string): Promise<FakeUpstream> {
  return listen(
    net.createServer((socket) => {
      socket.once('data', () => socket.end(bytes));
      socket.on('error', () => {});
    }),
    '/mcp',
  );
}

export async function readBody(req: http.IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}
