// A server-sent-events response: headers, message events, keep-alive comments (so idle
// load balancers keep the connection), and a cap on what a slow reader may leave
// queued; past it the stream is cut rather than buffered without bound.
import type { ServerResponse } from 'node:http';
import type { RpcMessage } from '../jsonrpc.ts';

const KEEP_ALIVE_MS = 15_000;
const MAX_QUEUED_BYTES = 8 * 2 ** 20;

export class SseStream {
  readonly #res: ServerResponse;
  readonly #keepAlive: NodeJS.Timeout;
  #open = true;

  constructor(res: ServerResponse, headers: Record<string, string> = {}) {
    this.#res = res;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      ...headers,
    });
    res.flushHeaders();
    this.#keepAlive = setInterval(() => this.#write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    this.#keepAlive.unref();
    res.once('close', () => this.#closed());
  }

  get open(): boolean {
    return this.#open;
  }

  event(name: string, data: string): void {
    this.#write(`event: ${name}\ndata: ${data}\n\n`);
  }

  send(message: RpcMessage): void {
    this.#write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }

  end(): void {
    if (!this.#open) return;
    this.#closed();
    this.#res.end();
  }

  #write(text: string): void {
    if (!this.#open) return;
    this.#res.write(text);
    if (this.#res.writableLength > MAX_QUEUED_BYTES) this.#res.destroy();
  }

  #closed(): void {
    this.#open = false;
    clearInterval(this.#keepAlive);
  }
}
