// A server-sent-events response: headers, message events, keep-alive comments (so idle
// load balancers keep the connection), and a cap on what a slow reader may leave
// queued. What waits in the socket is charged to the proxy's buffer budget; when the
// stream's own cap (two messages) or the shared budget is hit, the stream is cut (and
// counted) rather than buffered without bound. The client may reconnect; it loses only
// what it was too slow to read.
import type { ServerResponse } from 'node:http';
import type { BudgetAccount } from '../budget.ts';
import { responseBudgetOf, type ResponseBudget } from '../http/admission.ts';
import type { RpcMessage } from '../jsonrpc.ts';

const KEEP_ALIVE_MS = 15_000;
/** Used when the response came through no admission layer (unit tests). */
const FALLBACK_MAX_QUEUED_BYTES = 8 * 2 ** 20;

export class SseStream {
  readonly #res: ServerResponse;
  readonly #keepAlive: NodeJS.Timeout;
  readonly #budget: ResponseBudget | undefined;
  #account: BudgetAccount | undefined;
  #open = true;

  constructor(res: ServerResponse, headers: Record<string, string> = {}) {
    this.#res = res;
    this.#budget = responseBudgetOf(res);
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
    res.on('drain', () => this.#account?.resize(res.writableLength));
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
    const queued = this.#res.writableLength;
    const budget = this.#budget;
    if (!budget) {
      if (queued > FALLBACK_MAX_QUEUED_BYTES) this.#res.destroy();
      return;
    }
    this.#account ??= budget.pool.account();
    if (queued > budget.maxQueuedBytes || !this.#account.resize(queued)) {
      budget.onCut();
      this.#closed();
      this.#res.destroy();
    }
  }

  #closed(): void {
    this.#open = false;
    clearInterval(this.#keepAlive);
    this.#account?.close();
  }
}
