// One client's session on a message-based upstream (stdio, legacy SSE, or streamable
// HTTP behind an SSE frontend). It routes what the upstream says to the right HTTP
// response:
//   - a response goes to the POST that carried its request (as JSON when nothing else
//     preceded it, else as the last event of an SSE stream on that POST);
//   - progress goes to the POST whose request named the token;
//   - server requests go to the POST still waiting (if exactly one), else the GET stream;
//   - everything else goes to the GET stream, or is dropped if the client opened none
//     (the spec allows it; buffering it would grow without bound).
import type { ServerResponse } from 'node:http';
import type { RpcMessage } from '../jsonrpc.ts';
import { idKey, proxyHttpStatus, type Link } from '../upstream/link.ts';
import { SseStream } from './sseStream.ts';

export class PostCall {
  readonly #res: ServerResponse;
  readonly #remaining: Set<string>;
  readonly #headers: (response: RpcMessage) => Record<string, string>;
  #stream: SseStream | undefined;

  constructor(res: ServerResponse, requestKeys: Iterable<string>, headers: (response: RpcMessage) => Record<string, string> = () => ({})) {
    this.#res = res;
    this.#remaining = new Set(requestKeys);
    this.#headers = headers;
  }

  get done(): boolean {
    return this.#remaining.size === 0;
  }

  waitsFor(key: string): boolean {
    return this.#remaining.has(key);
  }

  /** A response to one of this POST's requests. */
  respond(key: string, message: RpcMessage): void {
    if (!this.#remaining.delete(key)) return;
    if (!this.#stream && this.#remaining.size === 0) {
      const body = JSON.stringify(message);
      if (this.#res.headersSent || this.#res.destroyed) return;
      this.#res.writeHead(proxyHttpStatus(message) ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...this.#headers(message) });
      this.#res.end(body);
      return;
    }
    this.related(message);
    if (this.#remaining.size === 0) this.#stream?.end();
  }

  /** A notification or server request tied to this POST: switches it to SSE. */
  related(message: RpcMessage): void {
    if (this.#res.destroyed) return;
    this.#stream ??= new SseStream(this.#res);
    this.#stream.send(message);
  }

  abort(message: (key: string) => RpcMessage): void {
    for (const key of [...this.#remaining]) this.respond(key, message(key));
  }
}

export class ClientSession {
  readonly link: Link;
  /** GET stream (streamable HTTP) or the session's only stream (legacy SSE). */
  standalone: SseStream | undefined;
  /** Told whether the upstream accepted initialize (used where no POST awaits it). */
  onInitializeResult: ((ok: boolean) => void) | undefined;
  readonly #initializeKeys = new Set<string>();
  readonly #calls = new Map<string, PostCall>();
  readonly #progress = new Map<string, PostCall>();
  #ended = false;

  constructor(link: Link, onUpstreamClose: () => void) {
    this.link = link;
    link.onmessage = (message) => this.deliver(message);
    link.onclose = () => {
      if (!this.#ended) onUpstreamClose();
    };
  }

  /** Forwards a POST's messages upstream; its requests will be answered through `call`. */
  forward(messages: readonly RpcMessage[], call: PostCall | undefined): void {
    for (const message of messages) {
      if (message.method === 'initialize' && message.id !== undefined && message.id !== null) this.#initializeKeys.add(idKey(message.id));
      if (call && message.method !== undefined && message.id !== undefined && message.id !== null) {
        const key = idKey(message.id);
        this.#calls.set(key, call);
        const token = (message.params?._meta as Record<string, unknown> | undefined)?.progressToken;
        if (typeof token === 'string' || typeof token === 'number') this.#progress.set(idKey(token), call);
      }
    }
    for (const message of messages) this.link.send(message);
  }

  deliver(message: RpcMessage): void {
    const { id, method } = message;
    if (method === undefined && id !== undefined && id !== null) {
      const key = idKey(id);
      if (this.#initializeKeys.delete(key)) this.onInitializeResult?.(message.result !== undefined);
      const call = this.#calls.get(key);
      if (call) {
        this.#calls.delete(key);
        call.respond(key, message);
        if (call.done) this.#forget(call);
        return;
      }
      this.standalone?.send(message);
      return;
    }
    if (method === 'notifications/progress') {
      const token = message.params?.progressToken;
      const owner = typeof token === 'string' || typeof token === 'number' ? this.#progress.get(idKey(token)) : undefined;
      if (owner && !owner.done) {
        owner.related(message);
        return;
      }
    }
    if (id !== undefined && id !== null && !this.standalone?.open) {
      const waiting = new Set(this.#calls.values());
      if (waiting.size === 1) {
        (waiting.values().next().value as PostCall).related(message);
        return;
      }
    }
    this.standalone?.send(message);
  }

  /** The POST's client went away: its requests are cancelled upstream, their answers dropped. */
  abandon(call: PostCall): void {
    if (call.done || this.#ended) return;
    for (const [key, owner] of this.#calls) {
      if (owner !== call) continue;
      this.#calls.delete(key);
      const requestId = key[0] === 'n' ? Number(key.slice(1)) : key.slice(1);
      this.link.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'client disconnected' } });
    }
    this.#forget(call);
  }

  #forget(call: PostCall): void {
    for (const [token, owner] of this.#progress) if (owner === call) this.#progress.delete(token);
  }

  /** Ends the session: the link closes and waiting POSTs get an error. */
  end(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.link.close();
    const calls = new Set(this.#calls.values());
    this.#calls.clear();
    this.#progress.clear();
    for (const call of calls) {
      call.abort((key) => ({
        jsonrpc: '2.0',
        id: key[0] === 'n' ? Number(key.slice(1)) : key.slice(1),
        error: { code: -32000, message: `session ended: ${reason}` },
      }));
    }
    this.standalone?.end();
  }
}
