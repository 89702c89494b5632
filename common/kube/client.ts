// A thin Kubernetes REST client over node:https, shared by both programs: exactly the calls
// the operator and the proxyrunner make, each counted (by verb, resource and code) where it
// is actually sent, so the mcpfleet_operator_api_writes_total metric counts real API writes.
// Domain-free: no MCPServer here. pods/attach (a WebSocket) is in ./attach.ts, loaded only by
// the program that attaches.
import { http, httpClient, loadHttps } from '../builtins.ts';
import type { Agent as HttpAgent, OutgoingHttpHeaders } from 'node:http';
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import { collectionPath, objectPath, type KindInfo, type KubeObject } from './kinds.ts';
import type { ClusterAccess, Credentials } from './kubeconfig.ts';

/** The field manager of server-side applies and status patches, unless the client is given another. */
export const FIELD_MANAGER = 'mcpfleet-operator';

export type Verb = 'get' | 'list' | 'watch' | 'apply' | 'patch' | 'create' | 'update' | 'delete';
export const WRITE_VERBS: ReadonlySet<Verb> = new Set(['apply', 'patch', 'create', 'update', 'delete']);

export interface ClientHooks {
  /** Called for every request that reached the wire (code 0: no HTTP answer). */
  request?(verb: Verb, resource: string, code: number, seconds: number): void;
}

/** A Status answer of the apiserver (or a transport failure: code 0). */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(code: number, reason: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
  }
}

/** Thrown instead of sending a write while this replica does not hold the leader lease. */
export class NotLeaderError extends Error {
  constructor() {
    super('not the leader: write suppressed');
    this.name = 'NotLeaderError';
  }
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface ClientOptions {
  hooks?: ClientHooks;
  /** Writes are refused (NotLeaderError) while this returns false. Lease writes bypass it. */
  writeGate?: () => boolean;
  /** Per-request timeout for everything but watches (default 30 s). */
  timeoutMs?: number;
  /** Sockets for non-watch requests (default 32). */
  maxSockets?: number;
  userAgent?: string;
  /** Field manager of applies and patches (default FIELD_MANAGER). */
  fieldManager?: string;
}

interface RequestOptions {
  verb: Verb;
  resource: string;
  method: string;
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  /** Lease writes of leader election are allowed without holding the lease. */
  bypassGate?: boolean;
}

/** Stops at the first non-blank character: O(1) for a JSON line. */
const NON_BLANK = /\S/;

export class KubeClient {
  readonly access: ClusterAccess;
  private readonly hooks: ClientHooks;
  private writeGate: () => boolean;
  private readonly timeoutMs: number;
  private readonly agent: HttpAgent;
  private readonly watchAgent: HttpAgent;
  private readonly userAgent: string;
  private readonly fieldManager: string;
  private readonly secure: boolean;

  constructor(access: ClusterAccess, options: ClientOptions = {}) {
    this.access = access;
    this.hooks = options.hooks ?? {};
    this.writeGate = options.writeGate ?? (() => true);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.userAgent = options.userAgent ?? 'mcpfleet-operator';
    this.fieldManager = options.fieldManager ?? FIELD_MANAGER;
    this.secure = access.server.startsWith('https:');
    const tls = { ca: access.ca, rejectUnauthorized: !access.insecureSkipTLSVerify };
    const maxSockets = options.maxSockets ?? 32;
    this.agent = this.secure ? new (loadHttps().Agent)({ keepAlive: true, maxSockets, ...tls }) : new http.Agent({ keepAlive: true, maxSockets });
    this.watchAgent = this.secure ? new (loadHttps().Agent)({ keepAlive: false, ...tls }) : new http.Agent({ keepAlive: false });
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }

  setWriteGate(gate: () => boolean): void {
    this.writeGate = gate;
  }

  private async headers(contentType: string | undefined, accept: string): Promise<OutgoingHttpHeaders> {
    const creds = await this.access.credentials();
    const headers: OutgoingHttpHeaders = { accept, 'user-agent': this.userAgent };
    const auth = authorization(creds);
    if (auth !== undefined) headers['authorization'] = auth;
    if (contentType !== undefined) headers['content-type'] = contentType;
    return headers;
  }

  private async tlsOptions(): Promise<HttpsRequestOptions> {
    if (!this.secure) return {};
    const creds = await this.access.credentials();
    return creds.cert !== undefined && creds.key !== undefined ? { cert: creds.cert, key: creds.key } : {};
  }

  private url(p: string, query: Record<string, string | undefined> | undefined): URL {
    const url = new URL(this.access.server + p);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    return url;
  }

  /** One request; JSON in, JSON out; non-2xx answers become ApiError. */
  async request<T>(opts: RequestOptions): Promise<T> {
    if (WRITE_VERBS.has(opts.verb) && !opts.bypassGate && !this.writeGate()) throw new NotLeaderError();
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers = await this.headers(opts.contentType ?? (body === undefined ? undefined : 'application/json'), 'application/json');
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
    const url = this.url(opts.path, opts.query);
    const started = performance.now();
    const lib = httpClient(this.secure);
    const tls = await this.tlsOptions();
    let code = 0;
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const req = lib.request(url, { method: opts.method, headers, agent: this.agent, timeout: this.timeoutMs, ...tls }, (res) => {
          code = res.statusCode ?? 0;
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            data += chunk;
          });
          res.on('end', () => resolve(data));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`${opts.method} ${opts.path} timed out after ${this.timeoutMs} ms`)));
        req.on('error', reject);
        req.end(body);
      });
      if (code < 200 || code > 299) throw statusError(code, text);
      return (text === '' ? undefined : JSON.parse(text)) as T;
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(0, 'ConnectionError', err instanceof Error ? err.message : String(err));
    } finally {
      this.hooks.request?.(opts.verb, opts.resource, code, (performance.now() - started) / 1000);
    }
  }

  async get<T extends KubeObject>(kind: KindInfo, namespace: string, name: string): Promise<T | undefined> {
    try {
      return await this.request<T>({ verb: 'get', resource: kind.plural, method: 'GET', path: objectPath(kind, namespace, name) });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** All pages of a list. */
  async list<T extends KubeObject>(
    kind: KindInfo,
    namespace: string | undefined,
    labelSelector?: string,
    pageSize = 500,
    fieldSelector?: string,
  ): Promise<ListResult<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.request<{ items?: T[]; metadata?: { resourceVersion?: string; continue?: string } }>({
        verb: 'list',
        resource: kind.plural,
        method: 'GET',
        path: collectionPath(kind, namespace),
        query: { labelSelector, fieldSelector, limit: String(pageSize), continue: cont },
      });
      for (const item of page.items ?? []) {
        // List items carry no apiVersion/kind; the informer's consumers like them there.
        item.apiVersion ??= kind.apiVersion;
        item.kind ??= kind.kind;
        items.push(item);
      }
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      cont = page.metadata?.continue || undefined;
    } while (cont !== undefined);
    return { items, resourceVersion };
  }

  /** Server-side apply with the operator's field manager, taking ownership of conflicts. */
  apply<T extends KubeObject>(kind: KindInfo, obj: KubeObject & { metadata: { namespace: string } }): Promise<T> {
    return this.request<T>({
      verb: 'apply',
      resource: kind.plural,
      method: 'PATCH',
      path: objectPath(kind, obj.metadata.namespace, obj.metadata.name),
      query: { fieldManager: this.fieldManager, force: 'true' },
      body: obj,
      contentType: 'application/apply-patch+yaml',
    });
  }

  /** A JSON merge patch of the /status subresource. */
  patchStatus<T extends KubeObject>(kind: KindInfo, namespace: string, name: string, patch: unknown): Promise<T> {
    return this.request<T>({
      verb: 'patch',
      resource: `${kind.plural}/status`,
      method: 'PATCH',
      path: `${objectPath(kind, namespace, name)}/status`,
      query: { fieldManager: this.fieldManager },
      body: patch,
      contentType: 'application/merge-patch+json',
    });
  }

  /** Deletes (background propagation), only if the object still has this uid. 404 counts as done. */
  async delete(kind: KindInfo, namespace: string, name: string, uid?: string): Promise<void> {
    try {
      await this.request({
        verb: 'delete',
        resource: kind.plural,
        method: 'DELETE',
        path: objectPath(kind, namespace, name),
        body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', ...(uid && { preconditions: { uid } }) },
      });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return;
      throw err;
    }
  }

  create<T extends KubeObject>(kind: KindInfo, namespace: string, obj: KubeObject, bypassGate = false): Promise<T> {
    return this.request<T>({ verb: 'create', resource: kind.plural, method: 'POST', path: collectionPath(kind, namespace), body: obj, bypassGate });
  }

  /** PUT with the object's resourceVersion: optimistic concurrency (409 Conflict when stale). */
  update<T extends KubeObject>(kind: KindInfo, obj: KubeObject & { metadata: { namespace: string } }, bypassGate = false): Promise<T> {
    return this.request<T>({
      verb: 'update',
      resource: kind.plural,
      method: 'PUT',
      path: objectPath(kind, obj.metadata.namespace, obj.metadata.name),
      body: obj,
      bypassGate,
    });
  }

  /**
   * One watch request: calls onEvent per event until the server ends the stream (resolves),
   * the connection fails (rejects), or signal aborts (resolves). The server ends it after
   * timeoutSeconds; a stream silent for longer than that plus a margin is cut here.
   */
  async watch<T>(
    kind: KindInfo,
    namespace: string | undefined,
    params: { resourceVersion: string; labelSelector?: string; fieldSelector?: string; timeoutSeconds: number },
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const headers = await this.headers(undefined, 'application/json');
    const tls = await this.tlsOptions();
    const url = this.url(collectionPath(kind, namespace), {
      watch: '1',
      resourceVersion: params.resourceVersion,
      allowWatchBookmarks: 'true',
      labelSelector: params.labelSelector,
      fieldSelector: params.fieldSelector,
      timeoutSeconds: String(params.timeoutSeconds),
    });
    const lib = httpClient(this.secure);
    const started = performance.now();
    let code = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        const req = lib.request(url, { method: 'GET', headers, agent: this.watchAgent, ...tls });
        const idleMs = (params.timeoutSeconds + 30) * 1000;
        const idle = setTimeout(() => req.destroy(new Error('watch stream silent for too long')), idleMs);
        const onAbort = (): void => {
          req.destroy();
          resolve();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const done = (err?: Error): void => {
          clearTimeout(idle);
          signal.removeEventListener('abort', onAbort);
          if (err && !signal.aborted) reject(err);
          else resolve();
        };
        req.on('error', (err) => done(err));
        req.on('response', (res) => {
          code = res.statusCode ?? 0;
          res.setEncoding('utf8');
          if (code !== 200) {
            let text = '';
            res.on('data', (c: string) => {
              text += c;
            });
            res.on('end', () => done(statusError(code, text)));
            return;
          }
          // One JSON event per line. The partial line waits in `pending`; lines are cut from
          // the chunk by index (JSON.parse skips surrounding whitespace), so a busy watch does
          // not re-copy its buffer for every event.
          let pending = '';
          // A handler's error (an ERROR event, say) ends the watch with that error. It is kept
          // here because the stream's 'end' can come before destroy's 'error': the apiserver
          // sends the ERROR event and closes the stream at once, and a watch that merely
          // "ended" would be resumed from the same expired resourceVersion, forever.
          let failure: Error | undefined;
          res.on('data', (chunk: string) => {
            if (failure !== undefined) return;
            idle.refresh();
            let start = 0;
            let nl = chunk.indexOf('\n');
            while (nl >= 0) {
              const line = pending === '' ? chunk.slice(start, nl) : pending + chunk.slice(start, nl);
              pending = '';
              start = nl + 1;
              nl = chunk.indexOf('\n', start);
              if (!NON_BLANK.test(line)) continue;
              try {
                onEvent(JSON.parse(line) as WatchEvent<T>);
              } catch (err) {
                failure = err instanceof Error ? err : new Error(String(err));
                req.destroy(failure);
                return;
              }
            }
            if (start < chunk.length) pending += chunk.slice(start);
          });
          res.on('end', () => done(failure));
          res.on('aborted', () => done(new Error('watch stream aborted')));
          res.on('error', (err) => done(err));
        });
        req.end();
      });
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(0, 'ConnectionError', err instanceof Error ? err.message : String(err));
    } finally {
      this.hooks.request?.('watch', kind.plural, code, (performance.now() - started) / 1000);
    }
  }
}

/** The Authorization header for these credentials (a token is a bearer token unless it is Basic). */
export function authorization(creds: Credentials): string | undefined {
  if (creds.token === undefined) return undefined;
  return creds.token.startsWith('Basic ') ? creds.token : `Bearer ${creds.token}`;
}

function statusError(code: number, text: string): ApiError {
  try {
    const status = JSON.parse(text) as { reason?: string; message?: string };
    return new ApiError(code, status.reason || `HTTP${code}`, status.message || text);
  } catch {
    return new ApiError(code, `HTTP${code}`, text.slice(0, 500));
  }
}
