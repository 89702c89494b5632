// pods/attach over a WebSocket: the container's stdin, stdout and stderr as Node streams,
// without @kubernetes/client-node (importing it costs 38–54 MiB of resident memory, more than
// the rest of a proxyrunner). Domain-free; only the program that attaches loads it.
//
// The wire protocol is Kubernetes' channel subprotocol: every binary message starts with one
// byte naming its channel — 0 stdin, 1 stdout, 2 stderr, 3 error (one JSON metav1.Status when
// the stream ends: Success, or Failure with a message) — and the rest is that channel's bytes.
// v5.channel.k8s.io adds channel 255, "close": [255, n] half-closes channel n (the client's way
// to signal end of stdin). v4.channel.k8s.io is the fallback for servers without v5; there,
// ending stdin is only possible by closing the whole stream. Invariants: a frame larger than
// maxFrameBytes closes the stream (ws enforces it before buffering the frame); the error
// channel keeps at most ERROR_CHANNEL_BYTES; `ended` resolves exactly once, and after it the
// streams are finished (stdout/stderr ended, stdin destroyed).
import { PassThrough, Writable, type Readable } from 'node:stream';
import WebSocket from 'ws';
import { authorization } from './client.ts';
import type { ClusterAccess } from './kubeconfig.ts';
import { POD, objectPath } from './kinds.ts';

export const PROTOCOL_V5 = 'v5.channel.k8s.io';
export const PROTOCOL_V4 = 'v4.channel.k8s.io';
/** Offered in order of preference; the server picks one. */
export const ATTACH_PROTOCOLS: readonly string[] = [PROTOCOL_V5, PROTOCOL_V4];

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, close: 255 } as const;

/** The status message is small; anything beyond this on the error channel is dropped. */
const ERROR_CHANNEL_BYTES = 64 * 1024;
/** An answer that refuses the upgrade is read up to this much for its message. */
const REFUSAL_BYTES = 16 * 1024;

/** metav1.Status as sent on the error channel and in refusals. */
export interface StreamStatus {
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

export interface AttachRequest {
  namespace: string;
  pod: string;
  container: string;
  /** The whole opening (TCP, TLS, upgrade) must finish within this. */
  connectTimeoutMs: number;
  /** Largest message accepted from the server; a larger one ends the stream (close 1009). */
  maxFrameBytes: number;
  userAgent?: string;
}

export interface AttachStream {
  /** The subprotocol the server chose. */
  readonly protocol: string;
  /** Writes go out as stdin frames; end() half-closes stdin where the protocol allows (v5). */
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves once, with how the stream ended (the error channel's status if one came). */
  readonly ended: Promise<string>;
  /** Closes the stream (a clean close, then cut after a grace period). */
  close(): void;
}

/** The attach URL: ws(s)://server/api/v1/namespaces/ns/pods/name/attach?container=..&stdin=true.. */
export function attachUrl(server: string, req: Pick<AttachRequest, 'namespace' | 'pod' | 'container'>): URL {
  const url = new URL(`${server}${objectPath(POD, req.namespace, req.pod)}/attach`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [k, v] of [
    ['container', req.container],
    ['stdin', 'true'],
    ['stdout', 'true'],
    ['stderr', 'true'],
  ] as const)
    url.searchParams.set(k, v);
  return url;
}

/** A message for one channel: [channel, ...payload]. */
export function frame(channel: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(payload.length + 1);
  out[0] = channel;
  out.set(payload, 1);
  return out;
}

/** How a stream ended, in words: the status's message if it failed, else the close code. */
export function describeEnd(status: StreamStatus | undefined, code: number, reason: string): string {
  const closed = `closed (${code}${reason ? ` ${reason}` : ''})`;
  if (status === undefined) return closed;
  if (status.status === 'Success') return `${closed}: Success`;
  return `${closed}: ${status.reason ?? status.status ?? 'Failure'}: ${status.message ?? 'no message'}`;
}

/** Parses a Status; undefined if it is not one. */
export function parseStatus(text: string): StreamStatus | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Opens pods/attach; rejects with a readable reason if the server refuses or does not answer in time. */
export async function attach(access: ClusterAccess, req: AttachRequest): Promise<AttachStream> {
  const creds = await access.credentials();
  const headers: Record<string, string> = { 'user-agent': req.userAgent ?? 'mcpfleet' };
  const auth = authorization(creds);
  if (auth !== undefined) headers['authorization'] = auth;
  const ws = new WebSocket(attachUrl(access.server, req), [...ATTACH_PROTOCOLS], {
    headers,
    handshakeTimeout: req.connectTimeoutMs,
    maxPayload: req.maxFrameBytes,
    perMessageDeflate: false,
    followRedirects: false,
    ...(access.ca !== undefined && { ca: access.ca }),
    ...(creds.cert !== undefined && creds.key !== undefined && { cert: creds.cert, key: creds.key }),
    rejectUnauthorized: !access.insecureSkipTLSVerify,
  });
  // Listening from the start: frames that arrive with the upgrade answer are not lost.
  const stream = new ChannelStream(ws);
  await opened(ws, req.connectTimeoutMs);
  return stream;
}

function opened(ws: WebSocket, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => {
      clearTimeout(timer);
      ws.removeAllListeners('open');
      ws.terminate();
      reject(err);
    };
    // handshakeTimeout bounds the wait for the answer; this bounds the whole opening.
    const timer = setTimeout(() => fail(new Error(`did not open within ${timeoutMs} ms`)), timeoutMs);
    const onError = (err: Error): void => fail(err);
    ws.once('open', () => {
      clearTimeout(timer);
      ws.removeAllListeners('unexpected-response');
      ws.removeListener('error', onError); // from here on, ChannelStream reports errors
      resolve();
    });
    ws.once('error', onError);
    // A refusal (401, 403, 404, a 400 for a container without stdin...) carries a Status: say what it says.
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < REFUSAL_BYTES) body += chunk.slice(0, REFUSAL_BYTES - body.length);
      });
      const done = (): void => {
        const status = parseStatus(body);
        fail(new Error(`refused: HTTP ${response.statusCode ?? 0}${status?.message ? `: ${status.message}` : body ? `: ${body.slice(0, 500)}` : ''}`));
      };
      response.once('end', done);
      response.once('error', done);
    });
  });
}

class ChannelStream implements AttachStream {
  readonly stdin: Writable;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly ended: Promise<string>;
  readonly #ws: WebSocket;
  #errorChannel: Buffer[] = [];
  #errorBytes = 0;

  constructor(ws: WebSocket) {
    this.#ws = ws;
    this.stdin = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        if (ws.readyState !== WebSocket.OPEN) return callback(new Error('attach stream is closed'));
        ws.send(frame(CHANNEL.stdin, chunk), { binary: true }, callback);
      },
      final: (callback) => {
        if (ws.protocol === PROTOCOL_V5 && ws.readyState === WebSocket.OPEN) ws.send(Buffer.from([CHANNEL.close, CHANNEL.stdin]), { binary: true }, callback);
        else callback();
      },
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#message(data, isBinary));
    let lastError: Error | undefined;
    ws.on('error', (err) => {
      lastError = err;
    });
    this.ended = new Promise<string>((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => {
        const status = this.#errorBytes > 0 ? parseStatus(Buffer.concat(this.#errorChannel).toString('utf8')) : undefined;
        this.#errorChannel = [];
        this.stdout.end();
        this.stderr.end();
        this.stdin.destroy();
        const why = describeEnd(status, code, reason.toString('utf8'));
        resolve(lastError !== undefined && status === undefined ? `${why}: ${lastError.message}` : why);
      });
    });
  }

  get protocol(): string {
    return this.#ws.protocol;
  }

  close(): void {
    if (this.#ws.readyState === WebSocket.CLOSED) return;
    this.#ws.close(1000);
    // A peer that never answers the close is cut.
    setTimeout(() => this.#ws.terminate(), 2_000).unref();
  }

  #message(data: Buffer, isBinary: boolean): void {
    // The channel protocols are binary; the base64 variants are not offered, so text is not ours.
    if (!isBinary || data.length === 0) return;
    const payload = data.subarray(1);
    switch (data[0]) {
      case CHANNEL.stdout:
        if (payload.length > 0) this.stdout.write(payload);
        break;
      case CHANNEL.stderr:
        if (payload.length > 0) this.stderr.write(payload);
        break;
      case CHANNEL.error:
        if (this.#errorBytes < ERROR_CHANNEL_BYTES) {
          const kept = payload.subarray(0, ERROR_CHANNEL_BYTES - this.#errorBytes);
          this.#errorChannel.push(Buffer.from(kept));
          this.#errorBytes += kept.length;
        }
        break;
      default:
        break; // close notices (255) and unknown channels carry nothing we read
    }
  }
}
