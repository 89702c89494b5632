// A stand-in for kube-apiserver + kubelet on loopback, for the one call kwok cannot serve:
// pods/attach. It lists pods by label selector (as the apiserver does) and answers attach
// upgrades with the real WebSocket channel protocol — subprotocol negotiation (v5/v4.channel
// .k8s.io), one-byte channel prefixes, an empty stdout frame on open as the kubelet sends, a
// metav1.Status on the error channel when the container ends, then a close. The "container"
// is a real process (e.g. an MCP server over stdio) wired to those channels, so what is
// tested end to end is a real MCP exchange carried over the protocol. Pods can be watched
// (?watch=1: ADDED/MODIFIED/DELETED events from a resourceVersion, one JSON per line);
// removePod() deletes one as the kubelet would: its watchers are told and its containers
// are killed, so their attaches end with a status.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface FakePod {
  name: string;
  labels: Record<string, string>;
  phase?: string;
  startTime?: string;
  /** Default: derived from the name. */
  uid?: string;
  /** Set: the pod is terminating (its containers still run). */
  deletionTimestamp?: string;
}

export interface AttachSession {
  pod: string;
  query: URLSearchParams;
  protocol: string;
  authorization: string | undefined;
  /** Every stdin frame's payload, in order. */
  stdin: Buffer[];
  /** Channels closed by the client with [255, n] (v5). */
  halfClosed: number[];
  socket: WebSocket;
}

export interface FakeApiserverOptions {
  /** Subprotocols this server speaks, in its order of preference (default v5, v4). */
  protocols?: string[];
  /** Bearer token required on every request (default: none required). */
  token?: string;
  /** The command run per attach as the container (stdin/stdout/stderr wired to the channels). */
  container?: string[];
  /** Instead of a container: what to do with the socket (tests of the protocol itself). */
  onAttach?: (session: AttachSession) => void;
}

export interface FakeApiserver {
  url: string;
  pods: FakePod[];
  sessions: AttachSession[];
  /** Requests seen: method and path with query. */
  requests: string[];
  /** Containers started for attaches (to kill one, as a restart would). */
  containers: ChildProcess[];
  /** Adds a pod (watchers get ADDED). */
  addPod(pod: FakePod): void;
  /** Deletes a pod: watchers get DELETED, its containers are killed (their attaches end). */
  removePod(name: string): void;
  /** Marks a pod terminating (watchers get MODIFIED); its containers keep running. */
  terminatePod(name: string): void;
  close(): Promise<void>;
}

const CHANNEL_STDOUT = 1;
const CHANNEL_STDERR = 2;
const CHANNEL_ERROR = 3;
const CHANNEL_CLOSE = 255;

export function channelFrame(channel: number, payload: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(payload) ? payload : Buffer.from(payload)]);
}

function matches(pod: FakePod, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return k !== undefined && pod.labels[k] === v;
  });
}

function podJson(namespace: string, pod: FakePod, resourceVersion = '1'): Record<string, unknown> {
  return {
    metadata: {
      name: pod.name,
      namespace,
      labels: pod.labels,
      uid: pod.uid ?? `uid-${pod.name}`,
      resourceVersion,
      ...(pod.deletionTimestamp !== undefined && { deletionTimestamp: pod.deletionTimestamp }),
    },
    status: {
      phase: pod.phase ?? 'Running',
      startTime: pod.startTime ?? '2026-01-01T00:00:00Z',
      containerStatuses: [{ name: 'mcp', ready: true, restartCount: 0, state: { running: { startedAt: '2026-01-01T00:00:00Z' } } }],
    },
  };
}

function status(res: http.ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

/** Wires a process to an attach socket the way the kubelet wires a container. */
function runContainer(command: string[], session: AttachSession, containers: ChildProcess[], byPod: Map<string, ChildProcess[]>): void {
  const [file, ...args] = command as [string, ...string[]];
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  containers.push(child);
  byPod.set(session.pod, [...(byPod.get(session.pod) ?? []), child]);
  const ws = session.socket;
  child.stdout.on('data', (chunk: Buffer) => ws.send(channelFrame(CHANNEL_STDOUT, chunk)));
  child.stderr.on('data', (chunk: Buffer) => ws.send(channelFrame(CHANNEL_STDERR, chunk)));
  child.stdin.on('error', () => {});
  ws.on('message', (data: Buffer) => {
    if (data[0] === 0) child.stdin.write(data.subarray(1));
    else if (data[0] === CHANNEL_CLOSE && data[1] === 0) child.stdin.end();
  });
  ws.on('close', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => {
    const st =
      code === 0
        ? { metadata: {}, status: 'Success' }
        : {
            metadata: {},
            status: 'Failure',
            reason: 'NonZeroExitCode',
            message: `container exited (${signal ?? `code ${code}`})`,
            details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
          };
    ws.send(channelFrame(CHANNEL_ERROR, JSON.stringify(st)), () => ws.close(1000));
  });
}

export async function startFakeApiserver(options: FakeApiserverOptions = {}): Promise<FakeApiserver> {
  const protocols = options.protocols ?? ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
  const pods: FakePod[] = [];
  const sessions: AttachSession[] = [];
  const requests: string[] = [];
  const containers: ChildProcess[] = [];
  const byPod = new Map<string, ChildProcess[]>();
  const watches = new Set<{ namespace: string; selector: string | null; res: http.ServerResponse }>();
  let resourceVersion = 1;
  const notify = (type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: FakePod): void => {
    resourceVersion++;
    for (const w of watches) {
      if (matches(pod, w.selector)) w.res.write(JSON.stringify({ type, object: podJson(w.namespace, pod, String(resourceVersion)) }) + '\n');
    }
  };
  const authorized = (req: http.IncomingMessage): boolean => options.token === undefined || req.headers.authorization === `Bearer ${options.token}`;
  const wss = new WebSocketServer({
    noServer: true,
    // Picks the first of ours the client offers; none in common: the upgrade is refused.
    handleProtocols: (offered) => protocols.find((p) => offered.has(p)) ?? false,
  });

  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (!authorized(req)) return status(res, 401, 'Unauthorized', 'Unauthorized');
    const url = new URL(req.url ?? '/', 'http://x');
    const list = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname);
    if (req.method === 'GET' && list && url.searchParams.get('watch') === '1') {
      // Events from now on (the tests change pods only after the proxy has listed them).
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      const w = { namespace: list[1] as string, selector: url.searchParams.get('labelSelector'), res };
      watches.add(w);
      res.on('close', () => watches.delete(w));
      return;
    }
    if (req.method === 'GET' && list) {
      const items = pods.filter((p) => matches(p, url.searchParams.get('labelSelector'))).map((p) => podJson(list[1] as string, p));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(resourceVersion) }, items }));
      return;
    }
    status(res, 404, 'NotFound', `no route for ${req.method} ${url.pathname}`);
  });

  server.on('upgrade', (req, socket, head) => {
    requests.push(`UPGRADE ${req.url}`);
    const refuse = (code: number, message: string): void => {
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code });
      socket.end(
        `HTTP/1.1 ${code} ${http.STATUS_CODES[code]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    };
    if (!authorized(req)) return refuse(401, 'Unauthorized');
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/attach$/.exec(url.pathname);
    if (!m || !pods.some((p) => p.name === m[2])) return refuse(404, `pods "${m?.[2] ?? '?'}" not found`);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session: AttachSession = {
        pod: m[2] as string,
        query: url.searchParams,
        protocol: ws.protocol,
        authorization: req.headers.authorization,
        stdin: [],
        halfClosed: [],
        socket: ws,
      };
      sessions.push(session);
      ws.on('message', (data: Buffer) => {
        if (data[0] === 0) session.stdin.push(Buffer.from(data.subarray(1)));
        else if (data[0] === CHANNEL_CLOSE) session.halfClosed.push(data[1] ?? -1);
      });
      // The kubelet's first frame: an empty message on stdout, "the stream is up".
      ws.send(Buffer.from([CHANNEL_STDOUT]));
      if (options.onAttach) options.onAttach(session);
      else if (options.container) runContainer(options.container, session, containers, byPod);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    pods,
    sessions,
    requests,
    containers,
    addPod(pod) {
      pods.push(pod);
      notify('ADDED', pod);
    },
    terminatePod(name) {
      const pod = pods.find((p) => p.name === name);
      if (!pod) return;
      pod.deletionTimestamp = new Date().toISOString();
      notify('MODIFIED', pod);
    },
    removePod(name) {
      const index = pods.findIndex((p) => p.name === name);
      if (index < 0) return;
      const [pod] = pods.splice(index, 1) as [FakePod];
      notify('DELETED', pod);
      for (const child of byPod.get(name) ?? []) child.kill('SIGTERM');
    },
    async close() {
      for (const w of watches) w.res.end();
      for (const c of containers) c.kill('SIGKILL');
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A kubeconfig file for that server (token auth when given). insecure-skip-tls-verify means
 * nothing over http; it is set because @kubernetes/client-node (older builds, compared in
 * bench:attach) refuses an http server without it.
 */
export function fakeKubeconfig(url: string, token?: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: token === undefined ? {} : { token } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'u', namespace: 'default' } }],
    'current-context': 'fake',
  });
}
