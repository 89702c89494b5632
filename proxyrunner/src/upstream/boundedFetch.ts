// A fetch for the SDK's streamable-HTTP client transport that bounds what the upstream
// can make the proxy hold. The SDK reads a JSON answer whole (response.json()) and
// buffers each SSE event whole, so in front of it:
//   - a JSON body is read within --max-message-bytes and the buffer budget; past either
//     it is abandoned and the SDK sees a JSON-RPC error for each request of the POST,
//     naming the limit;
//   - an event stream passes through SseEventSplitter: whole events flow on, an event
//     too large is discarded as it streams and replaced by an error event for the
//     request it answered (or, for a server request, `onServerRequestDropped` answers it).
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { UPSTREAM_ERROR, type RpcId, type RpcMessage } from '../jsonrpc.ts';
import type { DropReason, ProxyMetrics } from '../metrics.ts';
import type { FrameLimits } from './lines.ts';
import { describeTruncatedEvent, SseEventSplitter } from './sseEvents.ts';

export interface BoundedFetchOptions {
  limits: FrameLimits;
  metrics: ProxyMetrics;
  /** The upstream sent a request too large to hold: answer it. */
  onServerRequestDropped(id: RpcId, message: string): void;
  onDropped(details: Record<string, unknown>): void;
}

function dropMessage(limits: FrameLimits, reason: DropReason, bytes: number): string {
  const why =
    reason === 'too_large'
      ? `larger than the proxy's --max-message-bytes limit of ${limits.maxBytes} bytes`
      : `over the proxy's memory budget (--max-buffered-bytes ${limits.pool.capacity} bytes) at the time`;
  return `MCP message of ${bytes}+ bytes dropped: ${why}`;
}

/** Request ids in a POST body the transport sent (our own serialisation, small). */
function requestIds(body: RequestInit['body']): RpcId[] {
  if (typeof body !== 'string') return [];
  try {
    const parsed: unknown = JSON.parse(body);
    const list = Array.isArray(parsed) ? parsed : [parsed];
    return list.flatMap((m: RpcMessage) => (m && m.method !== undefined && (typeof m.id === 'string' || typeof m.id === 'number') ? [m.id] : []));
  } catch {
    return [];
  }
}

export function boundedFetch(options: BoundedFetchOptions, base: FetchLike = fetch): FetchLike {
  const { limits, metrics } = options;
  return async (url, init) => {
    const response = await base(url, init);
    const type = (response.headers.get('content-type') ?? '').toLowerCase();
    if (!response.body || !response.ok) return response;
    if (type.startsWith('text/event-stream')) {
      return new Response(response.body.pipeThrough(boundEvents(options)), {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    }
    if (!type.startsWith('application/json')) return response;
    const read = await readBounded(response, limits);
    if (read.kind === 'ok') return new Response(read.body, { status: response.status, statusText: response.statusText, headers: response.headers });
    const ids = requestIds(init?.body);
    const message = dropMessage(limits, read.reason, read.bytes);
    metrics.messageDropped(read.reason, ids.length > 0);
    options.onDropped({ bytes: read.bytes, reason: read.reason, limitBytes: limits.maxBytes, requests: ids.length });
    const errors = ids.map((id) => ({ jsonrpc: '2.0', id, error: { code: UPSTREAM_ERROR, message } }));
    const headers = new Headers(response.headers);
    headers.delete('content-length');
    return new Response(JSON.stringify(errors), { status: response.status, statusText: response.statusText, headers });
  };
}

type ReadResult = { kind: 'ok'; body: Uint8Array } | { kind: 'dropped'; reason: DropReason; bytes: number };

async function readBounded(response: Response, limits: FrameLimits): Promise<ReadResult> {
  const declared = Number(response.headers.get('content-length'));
  const body = response.body as ReadableStream<Uint8Array>;
  if (Number.isFinite(declared) && declared > limits.maxBytes) {
    await body.cancel().catch(() => {});
    return { kind: 'dropped', reason: 'too_large', bytes: declared };
  }
  const account = limits.pool.account();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      const reason: DropReason | undefined = size > limits.maxBytes ? 'too_large' : account.resize(size) ? undefined : 'over_budget';
      if (reason) {
        chunks.length = 0;
        await reader.cancel().catch(() => {});
        return { kind: 'dropped', reason, bytes: size };
      }
      chunks.push(value);
    }
    return { kind: 'ok', body: Buffer.concat(chunks, size) };
  } finally {
    account.close();
  }
}

function boundEvents(options: BoundedFetchOptions): TransformStream<Uint8Array, Uint8Array> {
  const { limits, metrics } = options;
  let splitter: SseEventSplitter | undefined;
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      splitter = new SseEventSplitter(
        limits,
        // A copy: the splitter's frame may be a view of a chunk it no longer owns.
        (event) => controller.enqueue(new Uint8Array(event)),
        (discarded) => {
          const { event, shape } = describeTruncatedEvent(discarded.head, discarded.tail);
          const attributed = event === 'message' && shape.kind !== 'unknown' && shape.id !== undefined;
          metrics.messageDropped(discarded.reason, attributed);
          options.onDropped({ bytes: discarded.bytes, reason: discarded.reason, limitBytes: limits.maxBytes, kind: shape.kind });
          if (!attributed) return;
          const message = dropMessage(limits, discarded.reason, discarded.bytes);
          const id = shape.id as RpcId;
          if (shape.kind === 'request') {
            options.onServerRequestDropped(id, `request not delivered: ${message}`);
            return;
          }
          const error = JSON.stringify({ jsonrpc: '2.0', id, error: { code: UPSTREAM_ERROR, message } });
          controller.enqueue(new TextEncoder().encode(`event: message\ndata: ${error}\n\n`));
        },
      );
    },
    transform(chunk) {
      splitter?.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    },
    flush() {
      splitter?.close();
    },
    cancel() {
      splitter?.close();
    },
  });
}
