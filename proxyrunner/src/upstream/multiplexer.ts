// One stdio MCP server shared by many HTTP sessions. A stdio server believes it has a
// single client, so the multiplexer makes that true without letting one session see or
// answer another's traffic:
//   - client request ids are rewritten to proxy-unique numbers and mapped back on
//     response; a second request reusing an id still in flight in the same session is
//     answered with a JSON-RPC error (the first one is untouched);
//   - progress tokens likewise, so progress reaches only the session that asked;
//   - the first initialize goes to the server, its result is cached and replayed to
//     every later session (notifications/initialized is sent once);
//   - server notifications fan out (resources/updated only to subscribers);
//   - a server-to-client request (sampling, elicitation, roots/list, ping) is delivered
//     to exactly ONE session, under a proxy-minted id ("mcpfleet-srv-N"). Only that
//     session's response with that id is written back to the server (with the server's
//     own id); a response from any other session, or for an id the proxy never
//     delivered, is dropped and counted (messages_refused_total{reason="foreign_response"}).
//     The server's notifications/cancelled for it goes only to that session. A session
//     that does not answer within the response timeout: the server gets a JSON-RPC error,
//     the session notifications/cancelled, and the entry is freed.
//   - attribution rule for a server request, first match wins:
//       1. params._meta["io.modelcontextprotocol/related-task"].taskId names a task a
//          session owns → that session; or params._meta.progressToken is a token the
//          proxy minted for a client request still in flight → that request's session;
//       2. exactly one session (initialized or not) has client requests in flight →
//          that session;
//       3. no session has requests in flight and exactly one session is initialized →
//          that session;
//       4. otherwise (no session, or several candidates and nothing in the request ties
//          it to one) the proxy does not guess: the server gets a JSON-RPC error
//          (-32603, "cannot attribute this request to one client session") and it is
//          counted (messages_refused_total{reason="unattributable_server_request"}).
//     Outside tasks, stdio carries no per-request context (the MCP revisions up to
//     2025-11-25 define no related-request field on the wire), so a server that needs
//     sampling/elicitation under concurrent sessions should run with --stdio-isolation
//     session.
//   - tasks (2025-11-25): a task belongs to the session whose request created it (the
//     taskId in a CreateTaskResult it was answered). tasks/get, tasks/result and
//     tasks/cancel for another session's task are answered "Task not found" and counted
//     (foreign_task); tasks/list answers are filtered to the session's own tasks;
//     notifications/tasks/status and any server message whose
//     _meta["io.modelcontextprotocol/related-task"] names a task go only to its owner.
//     At most MAX_TASKS_PER_SESSION task ids are remembered per session (oldest forgotten).
//   - when the process dies every link is closed (their sessions end as
//     upstream_closed) and all state is dropped with it.
import type { RpcId, RpcMessage } from '../jsonrpc.ts';
import { INTERNAL_ERROR, INVALID_REQUEST, UPSTREAM_ERROR } from '../jsonrpc.ts';
import type { Readiness } from '../../../common/diagnostics.ts';
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { errorResponse, idKey, type Connector, type Link } from './link.ts';
import type { FrameLimits } from './lines.ts';
import { MAX_STDIN_BACKLOG, StdioSupervisor, type StdioLauncher } from './stdio.ts';

const INVALID_PARAMS = -32602;
const RELATED_TASK = 'io.modelcontextprotocol/related-task';
/** Task ids remembered per session; beyond it the oldest is forgotten (its owner gets "Task not found"). */
export const MAX_TASKS_PER_SESSION = 1024;
const TASK_BY_ID = new Set(['tasks/get', 'tasks/result', 'tasks/cancel']);

const relatedTask = (message: RpcMessage): string | undefined => {
  const related = (message.params?._meta as Record<string, unknown> | undefined)?.[RELATED_TASK] as { taskId?: unknown } | undefined;
  return typeof related?.taskId === 'string' ? related.taskId : undefined;
};

interface Pending {
  link: MuxLink | undefined; // undefined: a request the proxy made itself
  originalId: RpcId;
  progressToken: string | undefined;
  isInitialize: boolean;
  method: string;
}

/** A server-to-client request delivered to one session under a proxy-minted id. */
interface ServerRequest {
  link: MuxLink;
  serverId: RpcId;
  /** The server's progress token on it: only this session may report progress for it. */
  progressToken: string | number | undefined;
  timer: NodeJS.Timeout | undefined;
}

const SERVER_REQUEST_PREFIX = 'mcpfleet-srv-';

class MuxLink implements Link {
  onmessage: (message: RpcMessage) => void = () => {};
  onclose: () => void = () => {};
  /** client request id → upstream id, for requests still unanswered */
  readonly ids = new Map<string, number>();
  /** proxy ids of the server requests delivered to this session and not yet answered */
  readonly serverRequests = new Set<string>();
  readonly subscriptions = new Set<string>();
  /** task ids this session's requests created, oldest first */
  readonly tasks = new Set<string>();
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

type InitState = { kind: 'none' } | { kind: 'pending'; since: number; waiters: { link: MuxLink; id: RpcId }[] } | { kind: 'ready'; result: unknown };

export interface MultiplexerOptions {
  /** Restart the process when it dies (shared mode); false: it lives and dies with its one session. */
  restart?: boolean;
  /** Bounds on the server's lines (the memory budget). */
  limits?: FrameLimits;
  /**
   * --upstream-response-timeout (0: no limit): how long a session may take to answer a server
   * request, and how long the shared initialize may stay unanswered before the next session's
   * initialize is sent rather than queued behind it.
   */
  responseTimeoutMs?: number;
  /** Beyond this much input queued for the server, requests are refused (default MAX_STDIN_BACKLOG). */
  stdinBacklogBytes?: number;
  /** Told when the process comes up or goes down (several processes: attachedPods.ts). */
  onUpChange?: (up: boolean) => void;
}

export class StdioMultiplexer implements Connector {
  readonly #supervisor: StdioSupervisor;
  readonly #log: Logger;
  readonly #metrics: ProxyMetrics;
  readonly #links = new Set<MuxLink>();
  readonly #pending = new Map<number, Pending>();
  readonly #progress = new Map<string, { link: MuxLink; token: string | number }>();
  /** proxy-minted id → the server request delivered under it */
  readonly #serverRequests = new Map<string, ServerRequest>();
  /** task id → the session whose request created it */
  readonly #tasks = new Map<string, MuxLink>();
  /** idKey(server's id) → proxy-minted id, to route the server's cancellation */
  readonly #serverRequestIds = new Map<string, string>();
  #nextId = 1;
  #nextServerRequest = 1;
  #init: InitState = { kind: 'none' };
  #initializedSent = false;
  #upWaiters: { wake: () => void; fail: (reason: string) => void }[] = [];
  readonly #restart: boolean;
  readonly #responseTimeoutMs: number;
  readonly #stdinBacklogBytes: number;

  constructor(launch: StdioLauncher, log: Logger, metrics: ProxyMetrics, options: MultiplexerOptions = {}) {
    this.#log = log;
    this.#metrics = metrics;
    this.#restart = options.restart ?? true;
    this.#responseTimeoutMs = options.responseTimeoutMs ?? 0;
    this.#stdinBacklogBytes = options.stdinBacklogBytes ?? MAX_STDIN_BACKLOG;
    this.#supervisor = new StdioSupervisor(
      launch,
      {
        onMessage: (message) => this.#fromServer(message),
        onUp: () => {
          metrics.setUpstreamUp(true);
          options.onUpChange?.(true);
          for (const waiter of this.#upWaiters.splice(0)) waiter.wake();
        },
        onDown: (reason) => {
          metrics.setUpstreamUp(false);
          options.onUpChange?.(false);
          if (!this.#restart) for (const waiter of this.#upWaiters.splice(0)) waiter.fail(reason);
          this.#reset(reason);
        },
      },
      log,
      metrics,
      options.limits,
      this.#restart,
    );
    metrics.setUpstreamUp(false);
    this.#supervisor.start();
  }

  /** The process is up (attached, for a pod). */
  get running(): boolean {
    return this.#supervisor.running;
  }

  get linkCount(): number {
    return this.#links.size;
  }

  /** Requests in flight at the server plus server requests awaiting a session's answer. */
  get pendingCount(): number {
    return this.#pending.size + this.#serverRequests.size;
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
        const waiter = {
          wake: (): void => {
            clearTimeout(timer);
            resolve();
          },
          fail: (reason: string): void => {
            clearTimeout(timer);
            reject(new Error(`stdio MCP server is not running (${reason})`));
          },
        };
        const timer = setTimeout(() => {
          this.#upWaiters = this.#upWaiters.filter((w) => w !== waiter);
          reject(new Error(`stdio MCP server is not running (${this.#supervisor.lastDown})`));
        }, 5_000);
        this.#upWaiters.push(waiter);
      });
    }
    const link = new MuxLink(this);
    this.#links.add(link);
    return link;
  }

  /** Stops the process (or detaches from its pod); every link ends, told `reason`. */
  async close(reason = 'proxy shutting down'): Promise<void> {
    await this.#supervisor.stop();
    this.#reset(reason);
  }

  fromClient(link: MuxLink, message: RpcMessage): void {
    const { method, id } = message;
    if (method === undefined) {
      this.#clientResponse(link, message);
    } else if (id !== undefined && id !== null) {
      this.#clientRequest(link, message, method, id);
    } else if (method === 'notifications/initialized') {
      link.initialized = true;
      if (!this.#initializedSent) {
        this.#initializedSent = true;
        this.#write(message);
      }
    } else if (method === 'notifications/cancelled') {
      const requestId = message.params?.requestId as RpcId | undefined;
      if (requestId !== undefined && requestId !== null) this.#cancelledByClient(link, requestId, message);
    } else if (method === 'notifications/progress') {
      // Progress on a server request: only from the session it was delivered to.
      const token = message.params?.progressToken;
      const owned = [...link.serverRequests].some((proxyId) => this.#serverRequests.get(proxyId)?.progressToken === token);
      if (owned) this.#write(message);
    } else {
      this.#write(message);
    }
  }

  /** The client answers a server request: only one that was delivered to it. */
  #clientResponse(link: MuxLink, message: RpcMessage): void {
    const id = message.id;
    const entry = typeof id === 'string' ? this.#serverRequests.get(id) : undefined;
    if (!entry || entry.link !== link) {
      this.#metrics.messageRefused('foreign_response');
      // debug, not warn: a client controls how often this happens (the counter is the signal)
      this.#log.debug('dropped a client response to a server request not delivered to its session', { id: typeof id === 'string' ? id.slice(0, 100) : id });
      return;
    }
    this.#forgetServerRequest(id as string);
    this.#write({ ...message, id: entry.serverId });
  }

  /** The client gives up on one of its requests: the server is told, the entry freed. */
  #cancelledByClient(link: MuxLink, requestId: RpcId, message: RpcMessage): void {
    const key = idKey(requestId);
    const upstreamId = link.ids.get(key);
    if (upstreamId === undefined) {
      // Maybe an initialize still waiting for the shared one: stop waiting.
      if (this.#init.kind === 'pending') this.#init.waiters = this.#init.waiters.filter((w) => !(w.link === link && idKey(w.id) === key));
      return;
    }
    link.ids.delete(key);
    const pending = this.#pending.get(upstreamId);
    if (pending?.isInitialize) {
      pending.link = undefined; // initialize is never cancelled; its result primes the cache
      return;
    }
    this.#pending.delete(upstreamId);
    if (pending?.progressToken) this.#progress.delete(pending.progressToken);
    this.#write({ ...message, params: { ...message.params, requestId: upstreamId } });
  }

  #clientRequest(link: MuxLink, message: RpcMessage, method: string, id: RpcId): void {
    if (link.ids.has(idKey(id))) {
      this.#metrics.messageRefused('duplicate_request_id');
      link.onmessage(errorResponse(id, INVALID_REQUEST, `request id ${JSON.stringify(id)} is already in flight in this session`, 400));
      return;
    }
    if (method === 'initialize') {
      this.#initialize(link, message, id);
      return;
    }
    if (TASK_BY_ID.has(method)) {
      const taskId = message.params?.taskId;
      if (typeof taskId !== 'string' || this.#tasks.get(taskId) !== link) {
        if (typeof taskId === 'string' && this.#tasks.has(taskId)) this.#metrics.messageRefused('foreign_task');
        link.onmessage(errorResponse(id, INVALID_PARAMS, 'Task not found', 200));
        return;
      }
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
    } else if (init.kind === 'pending' && this.#responseTimeoutMs > 0 && Date.now() - init.since > this.#responseTimeoutMs) {
      // The shared initialize went unanswered past the timeout: ask again instead of
      // queueing every later session behind it for as long as the process lives.
      init.since = Date.now();
      this.#forward(link, message, id, true);
    } else if (init.kind === 'pending') {
      init.waiters.push({ link, id });
    } else {
      this.#init = { kind: 'pending', since: Date.now(), waiters: [] };
      this.#forward(link, message, id, true);
    }
  }

  #forward(link: MuxLink, message: RpcMessage, id: RpcId, isInitialize: boolean): void {
    if (this.#supervisor.backlog > this.#stdinBacklogBytes) {
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
    this.#pending.set(upstreamId, { link, originalId: id, progressToken, isInitialize, method: message.method ?? '' });
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
    const taskId = method === 'notifications/tasks/status' && typeof message.params?.taskId === 'string' ? message.params.taskId : relatedTask(message);
    if (taskId !== undefined) {
      this.#tasks.get(taskId)?.onmessage(message); // a task's news is its owner's alone
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
        // Only the server's own requests can be cancelled by it; only their session hears.
        const requestId = message.params?.requestId as RpcId | undefined;
        const proxyId = requestId === undefined || requestId === null ? undefined : this.#serverRequestIds.get(idKey(requestId));
        const entry = proxyId === undefined ? undefined : this.#serverRequests.get(proxyId);
        if (!entry || proxyId === undefined) return;
        this.#forgetServerRequest(proxyId);
        entry.link.onmessage({ ...message, params: { ...message.params, requestId: proxyId } });
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
    if (!link) return;
    const result = message.result as { task?: { taskId?: unknown }; tasks?: unknown } | undefined;
    if (typeof result?.task?.taskId === 'string') this.#ownTask(link, result.task.taskId);
    if (pending.method === 'tasks/list' && Array.isArray(result?.tasks)) {
      const own = result.tasks.filter((t: { taskId?: unknown } | null) => typeof t?.taskId === 'string' && this.#tasks.get(t.taskId) === link);
      link.onmessage({ ...message, id: pending.originalId, result: { ...result, tasks: own } });
      return;
    }
    link.onmessage({ ...message, id: pending.originalId });
  }

  #ownTask(link: MuxLink, taskId: string): void {
    const owner = this.#tasks.get(taskId);
    if (owner && owner !== link) return; // a server reusing a task id does not hand it over
    link.tasks.delete(taskId);
    link.tasks.add(taskId);
    this.#tasks.set(taskId, link);
    if (link.tasks.size > MAX_TASKS_PER_SESSION) {
      const oldest = link.tasks.values().next().value as string;
      link.tasks.delete(oldest);
      this.#tasks.delete(oldest);
    }
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

  #serverRequest(message: RpcMessage, serverId: RpcId): void {
    const target = this.#attribute(message);
    if (typeof target === 'string') {
      this.#metrics.messageRefused('unattributable_server_request');
      this.#log.warn('server request not attributable to one session; answered with an error', { method: message.method, why: target });
      this.#write(errorResponse(serverId, INTERNAL_ERROR, `mcpfleet proxy: cannot attribute this request to one client session (${target})`));
      return;
    }
    if (this.#serverRequestIds.has(idKey(serverId))) {
      this.#write(errorResponse(serverId, INVALID_REQUEST, 'mcpfleet proxy: request id already in flight'));
      return;
    }
    const proxyId = `${SERVER_REQUEST_PREFIX}${this.#nextServerRequest++}`;
    const meta = message.params?._meta as Record<string, unknown> | undefined;
    const token = meta?.progressToken;
    const timer = this.#responseTimeoutMs > 0 ? setTimeout(() => this.#serverRequestTimedOut(proxyId), this.#responseTimeoutMs) : undefined;
    this.#serverRequests.set(proxyId, {
      link: target,
      serverId,
      progressToken: typeof token === 'string' || typeof token === 'number' ? token : undefined,
      timer,
    });
    this.#serverRequestIds.set(idKey(serverId), proxyId);
    target.serverRequests.add(proxyId);
    target.onmessage({ ...message, id: proxyId });
  }

  /** The one session a server request belongs to, or why there is none (see the header). */
  #attribute(message: RpcMessage): MuxLink | string {
    const taskId = relatedTask(message);
    const taskOwner = taskId === undefined ? undefined : this.#tasks.get(taskId);
    if (taskOwner) return taskOwner;
    const token = (message.params?._meta as Record<string, unknown> | undefined)?.progressToken;
    const hinted = typeof token === 'string' ? this.#progress.get(token) : undefined;
    if (hinted) return hinted.link;
    let busy: MuxLink | undefined;
    let busyCount = 0;
    let ready: MuxLink | undefined;
    let readyCount = 0;
    for (const link of this.#links) {
      if (link.ids.size > 0) {
        busyCount++;
        busy = link;
      }
      if (link.initialized) {
        readyCount++;
        ready = link;
      }
    }
    if (busyCount === 1 && busy) return busy;
    if (busyCount > 1) return `${busyCount} sessions have requests in flight`;
    if (readyCount === 1 && ready) return ready;
    return readyCount === 0 ? 'no client session is connected' : `${readyCount} idle sessions are connected`;
  }

  /** The session never answered: the server is told so, the session that it may stop. */
  #serverRequestTimedOut(proxyId: string): void {
    const entry = this.#serverRequests.get(proxyId);
    if (!entry) return;
    this.#forgetServerRequest(proxyId);
    this.#metrics.messageRefused('unanswered_server_request');
    const limit = `${this.#responseTimeoutMs} ms`;
    this.#write(errorResponse(entry.serverId, INTERNAL_ERROR, `mcpfleet proxy: the client session did not answer within ${limit}`));
    entry.link.onmessage({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: proxyId, reason: `no answer within ${limit}` } });
  }

  #forgetServerRequest(proxyId: string): void {
    const entry = this.#serverRequests.get(proxyId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.#serverRequests.delete(proxyId);
    this.#serverRequestIds.delete(idKey(entry.serverId));
    entry.link.serverRequests.delete(proxyId);
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
    for (const proxyId of [...link.serverRequests]) {
      const entry = this.#serverRequests.get(proxyId);
      this.#forgetServerRequest(proxyId);
      if (entry) this.#write(errorResponse(entry.serverId, INTERNAL_ERROR, 'client session ended'));
    }
    for (const taskId of link.tasks) this.#tasks.delete(taskId);
    link.tasks.clear();
    for (const uri of link.subscriptions) {
      if (!this.#subscribed(uri)) this.#internalRequest('resources/unsubscribe', { uri });
    }
    if (this.#init.kind === 'pending') this.#init.waiters = this.#init.waiters.filter((w) => w.link !== link);
  }

  #internalRequest(method: string, params: Record<string, unknown>): void {
    const upstreamId = this.#nextId++;
    this.#pending.set(upstreamId, { link: undefined, originalId: upstreamId, progressToken: undefined, isInitialize: false, method });
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
    for (const entry of this.#serverRequests.values()) clearTimeout(entry.timer);
    this.#serverRequests.clear();
    this.#serverRequestIds.clear();
    this.#tasks.clear();
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
      link.serverRequests.clear();
      link.tasks.clear();
      link.closed = true;
      link.onclose();
    }
    if (links.length > 0) this.#log.warn('stdio server ended its sessions', { sessions: links.length, reason });
  }
}
