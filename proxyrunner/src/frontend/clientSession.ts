// One client's session on a message-based upstream (stdio, legacy SSE, or streamable
// HTTP behind an SSE frontend). It routes what the upstream says to the right HTTP
// response:
//   - a response goes to the POST that carried its request (as JSON when nothing else
//     preceded it, else as the last event of an SSE stream on that POST);
//   - progress goes to the POST whose request named the token;
//   - server requests go to the GET stream when one is open, else to the newest POST still
//     waiting (the multiplexer already chose this session; any of its streams reaches it);
//   - everything else goes to the GET stream, or is dropped if the client opened none
//     (the spec allows it; buffering it would grow without bound).
// Every request the client sends is tracked by its id until answered (#inflight, with
// the POST waiting for it, if any): a second request reusing an id still in flight gets
// a JSON-RPC error of its own and is never sent upstream, so it can neither replace nor
// hang the first. A client's own notifications/cancelled settles the POST waiting for
// that request (with a "cancelled" error), so nothing waits for an answer that will
// not come. The upstream side bounds every wait (upstream/deadline.ts).
import type { ServerResponse } from 'node:http';
import { INVALID_REQUEST, type RpcId, type RpcMessage } from '../jsonrpc.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { idKey, proxyHttpStatus, type Link, type UpstreamEndReason } from '../upstream/link.ts';
import { SseStream } from './sseStream.ts';

/** JSON-RPC code for a request the client itself cancelled (as the SDKs use it). */
const REQUEST_CANCELLED = -32800;

const idOf = (key: string): RpcId => (key[0] === 'n' ? Number(key.slice(1)) : key.slice(1));

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
      this.#res.writeHead(proxyHttpStatus(message) ?? 200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...this.#headers(message),
      });
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
  /** Requests sent upstream and not yet answered → the POST waiting for each (null: none, legacy SSE). */
  readonly #inflight = new Map<string, PostCall | null>();
  readonly #progress = new Map<string, PostCall>();
  readonly #metrics: ProxyMetrics | undefined;
  /** Rewrites (list filtering) of responses to requests still awaiting their answer. */
  readonly #rewrites = new Map<string, (message: RpcMessage) => RpcMessage>();
  #ended = false;

  constructor(link: Link, onUpstreamClose: (reason: UpstreamEndReason) => void, metrics?: ProxyMetrics) {
    this.link = link;
    this.#metrics = metrics;
    link.onmessage = (message) => this.deliver(message);
    link.onclose = (reason = 'upstream_closed') => {
      if (!this.#ended) onUpstreamClose(reason);
    };
  }

  /** Forwards a POST's messages upstream; its requests will be answered through `call`. */
  forward(messages: readonly RpcMessage[], call: PostCall | undefined, rewrite?: (message: RpcMessage) => RpcMessage): void {
    const accepted: RpcMessage[] = [];
    for (const message of messages) {
      const { id, method } = message;
      if (method !== undefined && id !== undefined && id !== null) {
        const key = idKey(id);
        if (this.#inflight.has(key)) {
          this.#refuseDuplicate(message, key, call);
          continue;
        }
        if (method === 'initialize') this.#initializeKeys.add(key);
        if (rewrite) this.#rewrites.set(key, rewrite);
        this.#inflight.set(key, call ?? null);
        const token = (message.params?._meta as Record<string, unknown> | undefined)?.progressToken;
        if (call && (typeof token === 'string' || typeof token === 'number')) this.#progress.set(idKey(token), call);
      } else if (method === 'notifications/cancelled') {
        this.#cancelledByClient(message);
      }
      accepted.push(message);
    }
    for (const message of accepted) this.link.send(message);
  }

  /** The request reuses an id still in flight: it gets its own error, the first is untouched. */
  #refuseDuplicate(message: RpcMessage, key: string, call: PostCall | undefined): void {
    this.#metrics?.messageRefused('duplicate_request_id');
    const error: RpcMessage = {
      jsonrpc: '2.0',
      id: message.id,
      error: { code: INVALID_REQUEST, message: `Request id ${JSON.stringify(message.id)} is already in flight in this session; use a new id` },
    };
    // This POST waits for the key unless it is the one that sent the first request too.
    if (call && call.waitsFor(key) && this.#inflight.get(key) !== call) call.respond(key, error);
    else if (call) call.related(error);
    else this.standalone?.send(error);
  }

  /** The client gave up on one of its requests: whatever waits for it is settled now. */
  #cancelledByClient(message: RpcMessage): void {
    const requestId = message.params?.requestId;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    const key = idKey(requestId);
    if (!this.#inflight.has(key)) return;
    const call = this.#inflight.get(key);
    this.#inflight.delete(key);
    this.#initializeKeys.delete(key);
    if (call) {
      call.respond(key, { jsonrpc: '2.0', id: requestId, error: { code: REQUEST_CANCELLED, message: 'Request cancelled by the client' } });
      if (call.done) this.#forget(call);
    }
  }

  deliver(message: RpcMessage): void {
    const { id, method } = message;
    if (method === undefined && id !== undefined && id !== null) {
      const key = idKey(id);
      const rewrite = this.#rewrites.get(key);
      if (rewrite) {
        this.#rewrites.delete(key);
        message = rewrite(message);
      }
      if (this.#initializeKeys.delete(key)) this.onInitializeResult?.(message.result !== undefined);
      const call = this.#inflight.get(key);
      this.#inflight.delete(key);
      if (call) {
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
      // No GET stream: any of this session's open POST streams reaches the same client,
      // which beats leaving the server waiting. The newest one is the likeliest cause.
      let newest: PostCall | undefined;
      for (const call of this.#inflight.values()) if (call && !call.done) newest = call;
      if (newest) {
        newest.related(message);
        return;
      }
    }
    this.standalone?.send(message);
  }

  /** The POST's client went away: its requests are cancelled upstream, their answers dropped. */
  abandon(call: PostCall): void {
    if (call.done || this.#ended) return;
    for (const [key, owner] of this.#inflight) {
      if (owner !== call) continue;
      this.#inflight.delete(key);
      this.#initializeKeys.delete(key);
      this.link.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: idOf(key), reason: 'client disconnected' } });
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
    const calls = new Set<PostCall>();
    for (const call of this.#inflight.values()) if (call) calls.add(call);
    this.#inflight.clear();
    this.#progress.clear();
    this.#rewrites.clear();
    for (const call of calls) {
      call.abort((key) => ({
        jsonrpc: '2.0',
        id: idOf(key),
        error: { code: -32000, message: `session ended: ${reason}` },
      }));
    }
    this.standalone?.end();
  }
}
