// A fake Kubernetes apiserver on loopback (node:http) for the unit tests of operator/src/kube:
// just enough of the REST protocol to drive the informer and leader election through the
// situations a real cluster produces rarely and never on cue — a watch dropped mid-stream, an
// outage, a compacted history (410 Gone, as an HTTP status or as an ERROR event inside the
// stream), failing Lease writes, two writers racing (409 Conflict).
//
// It keeps objects per collection path with one resourceVersion counter and an event log
// (watches replay it from the resourceVersion they ask for), checks resourceVersion on PUT,
// filters by fieldSelector metadata.name=..., and records every request with its arrival time.
// The real apiserver is tested against in test/operator/; this one is for the failure paths.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeObject } from '../../common/kube/kinds.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  watch: boolean;
  /** Date.now() on arrival (the same clock as the code under test). */
  at: number;
  body: KubeObject | undefined;
}

/** What to do with a request instead of serving it: an HTTP status, or cut the connection. */
export type Failure = number | 'reset' | undefined;

interface Event {
  rv: number;
  collection: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

interface OpenWatch {
  collection: string;
  name: string | undefined;
  res: http.ServerResponse;
}

export class FakeApiserver {
  readonly #server: http.Server;
  readonly #collections: ReadonlySet<string>;
  readonly #objects = new Map<string, Map<string, KubeObject>>();
  readonly #log: Event[] = [];
  readonly #watches = new Set<OpenWatch>();
  #rv = 100;
  /** Watches from a resourceVersion below this are answered 410 Gone. */
  #compactedBelow = 0;
  readonly requests: RecordedRequest[] = [];
  /** Consulted for every request; return a failure to refuse it. */
  fail: (req: RecordedRequest) => Failure = () => undefined;
  /** How an expired resourceVersion is reported to a watch. */
  expiredAs: 'status' | 'event' = 'status';

  private constructor(collections: readonly string[]) {
    this.#collections = new Set(collections);
    for (const c of collections) this.#objects.set(c, new Map());
    this.#server = http.createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (text += c));
      req.on('end', () => this.#handle(req, res, text));
    });
  }

  /** Serves these collection paths (kinds.ts collectionPath), on 127.0.0.1, a free port. */
  static async start(collections: readonly string[]): Promise<FakeApiserver> {
    const api = new FakeApiserver(collections);
    await new Promise<void>((resolve) => api.#server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** The stored object, as a client would GET it. */
  get(collection: string, name: string): KubeObject | undefined {
    const obj = this.#objects.get(collection)?.get(name);
    return obj && structuredClone(obj);
  }

  /** Creates or replaces an object server-side (as another client would), with a watch event. */
  put(collection: string, obj: KubeObject): KubeObject {
    const store = this.#store(collection);
    const existed = store.has(obj.metadata.name);
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.#rv);
    stored.metadata.uid ??= `uid-${obj.metadata.name}`;
    store.set(obj.metadata.name, stored);
    this.#emit({ rv: this.#rv, collection, type: existed ? 'MODIFIED' : 'ADDED', object: stored });
    return structuredClone(stored);
  }

  remove(collection: string, name: string): void {
    const store = this.#store(collection);
    const old = store.get(name);
    if (old === undefined) return;
    store.delete(name);
    const gone = structuredClone(old);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#emit({ rv: this.#rv, collection, type: 'DELETED', object: gone });
  }

  /** Forgets the event history: a watch from any resourceVersion older than the current one gets 410 Gone. */
  compact(): void {
    this.#compactedBelow = this.#rv;
    this.#log.length = 0;
  }

  /** Cuts every open watch connection (no clean end of stream). */
  dropWatches(): void {
    for (const w of this.#watches) w.res.socket?.destroy();
    this.#watches.clear();
  }

  openWatches(): number {
    return this.#watches.size;
  }

  listRequests(collection: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'GET' && !r.watch && r.path === collection);
  }

  watchRequests(collection: string): RecordedRequest[] {
    return this.requests.filter((r) => r.watch && r.path === collection);
  }

  async close(): Promise<void> {
    this.dropWatches();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #store(collection: string): Map<string, KubeObject> {
    const store = this.#objects.get(collection);
    if (store === undefined) throw new Error(`the fake apiserver does not serve ${collection}`);
    return store;
  }

  #emit(event: Event): void {
    this.#log.push(event);
    for (const w of this.#watches) {
      if (w.collection === event.collection && (w.name === undefined || w.name === event.object.metadata.name)) {
        w.res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
      }
    }
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse, text: string): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      watch: url.searchParams.get('watch') === '1',
      at: Date.now(),
      body: text === '' ? undefined : (JSON.parse(text) as KubeObject),
    };
    this.requests.push(recorded);
    const failure = this.fail(recorded);
    if (failure === 'reset') return void req.socket.destroy();
    if (failure !== undefined) return status(res, failure, 'InternalError', 'injected failure');

    const { collection, name } = this.#route(url.pathname);
    if (collection === undefined) return status(res, 404, 'NotFound', `no route ${url.pathname}`);
    const store = this.#store(collection);
    const selected = /^metadata\.name=(.+)$/.exec(url.searchParams.get('fieldSelector') ?? '')?.[1];

    if (recorded.watch) return this.#watch(res, collection, selected, url.searchParams.get('resourceVersion') ?? '');
    switch (`${recorded.method} ${name === undefined ? 'collection' : 'object'}`) {
      case 'GET collection': {
        const items = [...store.values()].filter((o) => selected === undefined || o.metadata.name === selected);
        return json(res, 200, { kind: 'List', metadata: { resourceVersion: String(this.#rv) }, items });
      }
      case 'GET object': {
        const obj = store.get(name as string);
        return obj ? json(res, 200, obj) : status(res, 404, 'NotFound', `${name} not found`);
      }
      case 'POST collection': {
        const obj = recorded.body as KubeObject;
        if (store.has(obj.metadata.name)) return status(res, 409, 'AlreadyExists', `${obj.metadata.name} already exists`);
        return json(res, 201, this.put(collection, obj));
      }
      case 'PUT object': {
        const obj = recorded.body as KubeObject;
        const current = store.get(name as string);
        if (current === undefined) return status(res, 404, 'NotFound', `${name} not found`);
        if (obj.metadata.resourceVersion !== current.metadata.resourceVersion) {
          return status(res, 409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again');
        }
        return json(res, 200, this.put(collection, obj));
      }
      case 'DELETE object': {
        if (!store.has(name as string)) return status(res, 404, 'NotFound', `${name} not found`);
        this.remove(collection, name as string);
        return status(res, 200, 'Success', 'deleted');
      }
      default:
        return status(res, 405, 'MethodNotAllowed', `${recorded.method} ${url.pathname}`);
    }
  }

  #route(path: string): { collection: string | undefined; name: string | undefined } {
    if (this.#collections.has(path)) return { collection: path, name: undefined };
    const cut = path.lastIndexOf('/');
    const parent = path.slice(0, cut);
    return this.#collections.has(parent) ? { collection: parent, name: decodeURIComponent(path.slice(cut + 1)) } : { collection: undefined, name: undefined };
  }

  #watch(res: http.ServerResponse, collection: string, name: string | undefined, resourceVersion: string): void {
    const from = resourceVersion === '' ? this.#rv : Number(resourceVersion);
    if (from < this.#compactedBelow) {
      const message = `too old resource version: ${from} (${this.#compactedBelow})`;
      if (this.expiredAs === 'status') return status(res, 410, 'Expired', message);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', status: 'Failure', code: 410, reason: 'Expired', message } })}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    const watch: OpenWatch = { collection, name, res };
    for (const e of this.#log) {
      if (e.rv > from && e.collection === collection && (name === undefined || name === e.object.metadata.name)) {
        res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
      }
    }
    this.#watches.add(watch);
    res.on('close', () => this.#watches.delete(watch));
  }
}

function json(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function status(res: http.ServerResponse, code: number, reason: string, message: string): void {
  json(res, code, { kind: 'Status', apiVersion: 'v1', status: code < 300 ? 'Success' : 'Failure', code, reason, message });
}

/** Polls until cond() holds; the timeout only turns a hang into a failure, it asserts no speed. */
export async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
