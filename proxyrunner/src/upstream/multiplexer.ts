// One stdio MCP server shared by many HTTP sessions. A stdio server believes it has a
// single client, so the multiplexer makes that true:
//   - request ids are rewritten to proxy-unique numbers and mapped back on response;
//   - progress tokens likewise, so progress reaches the session that asked;
//   - the first initialize goes to the server, its result is cached and replayed to
//     every later session (notifications/initialized is sent once);
//   - server notifications fan out (resources/updated only to subscribers);
//   - server-to-client requests (sampling, elicitation, roots) go to the session with
//     the most recent request in flight, else the most recently active one;
//   - when the process dies every link is closed (their sessions end as
//     upstream_closed) and all state is dropped with it.
import type { RpcId, RpcMessage } from '../jsonrpc.ts';
import { INTERNAL_ERROR, UPSTREAM_ERROR } from '../jsonrpc.ts';
import type { Readiness } from '../../../common/diagnostics.ts';
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { errorResponse, idKey, type Connector, type Link } from './link.ts';
import type { FrameLimits } from './lines.ts';
import { MAX_STDIN_BACKLOG, StdioSupervisor, type StdioLauncher } from './stdio.ts';

interface Pending {
  link: MuxLink | undefined; // undefined: a request the proxy made itself
  originalId: RpcId;
  progressToken: string | undefined;
  isInitialize: boolean;
}

class MuxLink implements Link {
  onmessage: (message: RpcMessage) => void = () => {};
  onclose: () => void = () => {};
  /** client request id → upstream id, for requests still unanswered */
  readonly ids = new Map<string, number>();
  readonly subscriptions = new Set<string>();
  lastRequestAt = 0;
  initialized = false;
  closed = false;
  readonly #mux: StdioMultiplexer;

  constructor(mux: StdioMultiplexer) {
    this.#mux = mux;
  }

  send(message: RpcMessage): void {
    if (!this.closed) this.#mux.fromClient(this, message);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#mux.detach(this);
  }
}

type InitState = { kind: 'none' } | { kind: 'pending'; waiters: { link: MuxLink; id: RpcId }[] } | { kind: 'ready'; result: unknown };

export class StdioMultiplexer implements Connector {
  readonly #supervisor: StdioSupervisor;
  readonly #log: Logger;
  readonly #links = new Set<MuxLink>();
  readonly #pending = new Map<number, Pending>();
  readonly #progress = new Map<string, { link: MuxLink; token: string | number }>();
  /** server request id → the link it was routed to */
  readonly #serverRequests = new Map<string, MuxLink>();
  #nextId = 1;
  #init: InitState = { kind: 'none' };
  #initializedSent = false;
  #upWaiters: (() => void)[] = [];

  constructor(launch: StdioLauncher, log: Logger, metrics: ProxyMetrics, limits?: FrameLimits) {
    this.#log = log;
    this.#supervisor = new StdioSupervisor(
      launch,
      {
        onMessage: (message) => this.#fromServer(message),
        onUp: () => {
          metrics.setUpstreamUp(true);
          for (const wake of this.#upWaiters.splice(0)) wake();
        },
        onDown: (reason) => {
          metrics.setUpstreamUp(false);
          this.#reset(reason);
        },
      },
      log,
      metrics,
      limits,
    );
    metrics.setUpstreamUp(false);
    this.#supervisor.start();
  }

  get linkCount(): number {
    return this.#links.size;
  }

  readiness(): Readiness {
    return this.#supervisor.running
      ? { ready: true, detail: 'stdio server running' }
      : { ready: false, detail: `stdio server not running (${this.#supervisor.lastDown})` };
  }

  /** A new link; waits briefly for the server when it is (re)starting. */
  async open(): Promise<Link> {
    if (!this.#supervisor.running) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#upWaiters = this.#upWaiters.filter((w) => w !== wake);
          reject(new Error(`stdio MCP server is not running (${this.#supervisor.lastDown})`));
        }, 5_000);
        const wake = (): void => {
          clearTimeout(timer);
          resolve();
        };
        this.#upWaiters.push(wake);
      });
    }
    const link = new MuxLink(this);
    this.#links.add(link);
    return link;
  }

  async close(): Promise<void> {
    await this.#supervisor.stop();
    this.#reset('proxy shutting down');
  }

  fromClient(link: MuxLink, message: RpcMessage): void {
    const { method, id } = message;
    if (method !== undefined && id !== undefined && id !== null) {
      this.#clientRequest(link, message, method, id);
    } else if (method === 'notifications/initialized') {
      link.initialized = true;
      if (!this.#initializedSent) {
        this.#initializedSent = true;
        this.#write(message);
      }
    } else if (method === 'notifications/cancelled') {
      const requestId = message.params?.requestId as RpcId | undefined;
      const upstreamId = requestId === undefined ? undefined : link.ids.get(idKey(requestId));
      if (upstreamId !== undefined) this.#write({ ...message, params: { ...message.params, requestId: upstreamId } });
    } else if (method === undefined && id !== undefined && id !== null) {
      // The client answers a request the server sent it.
      this.#serverRequests.delete(idKey(id));
      this.#write(message);
    } else {
      this.#write(message);
    }
  }

  #clientRequest(link: MuxLink, message: RpcMessage, method: string, id: RpcId): void {
    link.lastRequestAt = Date.now();
    if (method === 'initialize') {
      this.#initialize(link, message, id);
      return;
    }
    if (method === 'resources/unsubscribe') {
      const uri = message.params?.uri;
      if (typeof uri === 'string') link.subscriptions.delete(uri);
      if (typeof uri === 'string' && this.#subscribed(uri)) {
        link.onmessage({ jsonrpc: '2.0', id, result: {} }); // others still want updates
        return;
      }
    }
    if (method === 'resources/subscribe' && typeof message.params?.uri === 'string') link.subscriptions.add(message.params.uri);
    this.#forward(link, message, id, false);
  }

  #initialize(link: MuxLink, message: RpcMessage, id: RpcId): void {
    const init = this.#init;
    if (init.kind === 'ready') {
      link.onmessage({ jsonrpc: '2.0', id, result: init.result });
    } else if (init.kind === 'pending') {
      init.waiters.push({ link, id });
    } else {
      this.#init = { kind: 'pending', waiters: [] };
      this.#forward(link, message, id, true);
    }
  }

  #forward(link: MuxLink, message: RpcMessage, id: RpcId, isInitialize: boolean): void {
    if (this.#supervisor.backlog > MAX_STDIN_BACKLOG) {
      link.onmessage(errorResponse(id, UPSTREAM_ERROR, 'stdio MCP server is not reading its input; request refused'));
      return;
    }
    const upstreamId = this.#nextId++;
    let params = message.params;
    let progressToken: string | undefined;
    const meta = params?._meta as Record<string, unknown> | undefined;
    const token = meta?.progressToken;
    if (typeof token === 'string' || typeof token === 'number') {
      progressToken = `mcpfleet-${upstreamId}`;
      this.#progress.set(progressToken, { link, token });
      params = { ...params, _meta: { ...meta, progressToken } };
    }
    this.#pending.set(upstreamId, { link, originalId: id, progressToken, isInitialize });
    link.ids.set(idKey(id), upstreamId);
    if (!this.#write({ ...message, id: upstreamId, ...(params ? { params } : {}) })) {
      this.#settle(upstreamId, errorResponse(upstreamId, UPSTREAM_ERROR, 'stdio MCP server is not running'));
    }
  }

  #fromServer(message: RpcMessage): void {
    const { method, id } = message;
    if (method === undefined) {
      if (typeof id === 'number') this.#settle(id, message);
      return;
    }
    if (id !== undefined && id !== null) {
      this.#serverRequest(message, id);
      return;
    }
    switch (method) {
      case 'notifications/progress': {
        const token = message.params?.progressToken;
        const owner = typeof token === 'string' ? this.#progress.get(token) : undefined;
        owner?.link.onmessage({ ...message, params: { ...message.params, progressToken: owner.token } });
        return;
      }
      case 'notifications/cancelled': {
        const requestId = message.params?.requestId as RpcId | undefined;
        const target = requestId === undefined ? undefined : this.#serverRequests.get(idKey(requestId));
        if (requestId !== undefined) this.#serverRequests.delete(idKey(requestId));
        target?.onmessage(message);
        return;
      }
      case 'notifications/resources/updated': {
        const uri = message.params?.uri;
        for (const link of this.#links) if (typeof uri === 'string' && link.subscriptions.has(uri)) link.onmessage(message);
        return;
      }
      default:
        for (const link of this.#links) if (link.initialized) link.onmessage(message);
    }
  }

  /** A response from the server for one of our rewritten ids. */
  #settle(upstreamId: number, message: RpcMessage): void {
    const pending = this.#pending.get(upstreamId);
    if (!pending) return;
    this.#pending.delete(upstreamId);
    if (pending.progressToken) this.#progress.delete(pending.progressToken);
    const { link } = pending;
    if (link) link.ids.delete(idKey(pending.originalId));
    if (pending.isInitialize) this.#initialized(message);
    link?.onmessage({ ...message, id: pending.originalId });
  }

  #initialized(message: RpcMessage): void {
    const init = this.#init;
    const waiters = init.kind === 'pending' ? init.waiters : [];
    if (message.error === undefined && message.result !== undefined) {
      this.#init = { kind: 'ready', result: message.result };
      for (const w of waiters) w.link.onmessage({ jsonrpc: '2.0', id: w.id, result: message.result });
    } else {
      this.#init = { kind: 'none' };
      for (const w of waiters) w.link.onmessage({ ...message, id: w.id });
    }
  }

  #serverRequest(message: RpcMessage, id: RpcId): void {
    let target: MuxLink | undefined;
    for (const link of this.#links) {
      if (!link.initialized) continue;
      const score = (link.ids.size > 0 ? 2 ** 52 : 0) + link.lastRequestAt;
      const best = target ? (target.ids.size > 0 ? 2 ** 52 : 0) + target.lastRequestAt : -1;
      if (score > best) target = link;
    }
    if (!target) {
      this.#write(errorResponse(id, INTERNAL_ERROR, 'no client session is connected to answer this request'));
      return;
    }
    this.#serverRequests.set(idKey(id), target);
    target.onmessage(message);
  }

  #subscribed(uri: string): boolean {
    for (const link of this.#links) if (link.subscriptions.has(uri)) return true;
    return false;
  }

  detach(link: MuxLink): void {
    this.#links.delete(link);
    for (const upstreamId of link.ids.values()) {
      const pending = this.#pending.get(upstreamId);
      if (pending?.isInitialize) {
        pending.link = undefined; // the result still primes the cache for others
        continue;
      }
      this.#pending.delete(upstreamId);
      if (pending?.progressToken) this.#progress.delete(pending.progressToken);
      this.#write({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: upstreamId, reason: 'client session ended' } });
    }
    link.ids.clear();
    for (const [key, owner] of this.#serverRequests) {
      if (owner !== link) continue;
      this.#serverRequests.delete(key);
      const raw = key.slice(1);
      this.#write(errorResponse(key[0] === 'n' ? Number(raw) : raw, INTERNAL_ERROR, 'client session ended'));
    }
    for (const uri of link.subscriptions) {
      if (!this.#subscribed(uri)) this.#internalRequest('resources/unsubscribe', { uri });
    }
    if (this.#init.kind === 'pending') this.#init.waiters = this.#init.waiters.filter((w) => w.link !== link);
  }

  #internalRequest(method: string, params: Record<string, unknown>): void {
    const upstreamId = this.#nextId++;
    this.#pending.set(upstreamId, { link: undefined, originalId: upstreamId, progressToken: undefined, isInitialize: false });
    this.#write({ jsonrpc: '2.0', id: upstreamId, method, params });
  }

  #write(message: RpcMessage): boolean {
    return this.#supervisor.write(message);
  }

  /** The server is gone: every link ends, and nothing of its state survives. */
  #reset(reason: string): void {
    const links = [...this.#links];
    this.#links.clear();
    this.#pending.clear();
    this.#progress.clear();
    this.#serverRequests.clear();
    const init = this.#init;
    this.#init = { kind: 'none' };
    this.#initializedSent = false;
    if (init.kind === 'pending') {
      for (const w of init.waiters) w.link.onmessage(errorResponse(w.id, UPSTREAM_ERROR, `stdio MCP server stopped: ${reason}`));
    }
    for (const link of links) {
      for (const [key] of link.ids) {
        const raw = key.slice(1);
        link.onmessage(errorResponse(key[0] === 'n' ? Number(raw) : raw, UPSTREAM_ERROR, `stdio MCP server stopped: ${reason}`));
      }
      link.ids.clear();
      link.closed = true;
      link.onclose();
    }
    if (links.length > 0) this.#log.warn('stdio server ended its sessions', { sessions: links.length, reason });
  }
}
