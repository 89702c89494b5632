// Rewrites the JSON-RPC messages of an HTTP response body on their way to the client,
// for the few responses the proxy must change (list results filtered by authorization)
// while everything else streams through untouched:
//   application/json   read whole (within `maxBytes`), rewritten, sent with a new length
//   text/event-stream  parsed event by event (each within `maxBytes`), each event's data
//                      rewritten and re-framed as it arrives; comments and retry kept
//   anything else      passed through
// The proxy asks for an uncompressed answer (transparent.ts drops Accept-Encoding for
// these requests); a compressed one is refused like an oversized one.
// Past the bound the response is not forwarded unfiltered: a JSON body is answered 502
// with a JSON-RPC error, an event stream is cut. A body that is not JSON-RPC passes as is.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { createParser } from 'eventsource-parser';
import { rpcErrorBody, UPSTREAM_ERROR, type RpcMessage } from '../jsonrpc.ts';

export type MessageRewrite = (message: RpcMessage) => RpcMessage;

/** Applies `rewrite` to a parsed body: one message or a batch. Non-messages are returned unchanged. */
export function rewriteJson(value: unknown, rewrite: MessageRewrite): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteJson(item, rewrite));
  if (typeof value === 'object' && value !== null && (value as RpcMessage).jsonrpc === '2.0') return rewrite(value as RpcMessage);
  return value;
}

function rewriteText(text: string, rewrite: MessageRewrite): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text;
  }
  return JSON.stringify(rewriteJson(value, rewrite));
}

/**
 * Sends `upstream`'s body to `res` with its messages rewritten. `headers` are the
 * upstream's end-to-end headers as a flat list; content-length is dropped from them.
 */
export function forwardRewritten(
  upstream: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: readonly string[],
  rewrite: MessageRewrite,
  maxBytes: number,
  onRefused: () => void,
): void {
  const contentType = String(upstream.headers['content-type'] ?? '');
  const encoding = upstream.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    // Compressed bodies cannot be read here; never forward them unfiltered.
    upstream.destroy();
    onRefused();
    const body = rpcErrorBody(null, UPSTREAM_ERROR, `Upstream list response is ${encoding}-encoded and cannot be filtered`);
    res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    return;
  }
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() !== 'content-length') kept.push(headers[i] as string, headers[i + 1] as string);
  }
  if (contentType.startsWith('application/json')) return forwardJson(upstream, res, status, kept, rewrite, maxBytes, onRefused);
  if (contentType.startsWith('text/event-stream')) return forwardEvents(upstream, res, status, kept, rewrite, maxBytes, onRefused);
  if (!writeHead(upstream, res, status, headers as string[], onRefused)) return;
  upstream.pipe(res);
}

/** Sends the head; an upstream header Node refuses to relay gets the client a 502 instead (never a throw). */
function writeHead(upstream: IncomingMessage, res: ServerResponse, status: number, headers: string[], onRefused: () => void): boolean {
  try {
    res.writeHead(status, headers);
    return true;
  } catch {
    upstream.destroy();
    onRefused();
    const body = rpcErrorBody(null, UPSTREAM_ERROR, 'Upstream MCP server sent a response the proxy cannot relay (invalid header)');
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    else res.destroy();
    return false;
  }
}

function forwardJson(
  upstream: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: string[],
  rewrite: MessageRewrite,
  maxBytes: number,
  onRefused: () => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  upstream.on('data', (chunk: Buffer) => {
    if (over) return;
    size += chunk.length;
    if (size > maxBytes) {
      over = true;
      chunks.length = 0;
      upstream.destroy();
      onRefused();
      const body = rpcErrorBody(null, UPSTREAM_ERROR, `Upstream list response exceeds ${maxBytes} bytes and cannot be filtered`);
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      else res.destroy();
      return;
    }
    chunks.push(chunk);
  });
  upstream.on('end', () => {
    if (over) return;
    const body = rewriteText(Buffer.concat(chunks, size).toString('utf8'), rewrite);
    if (writeHead(upstream, res, status, [...headers, 'content-length', String(Buffer.byteLength(body))], onRefused)) res.end(body);
  });
  upstream.on('error', () => res.destroy());
}

function forwardEvents(
  upstream: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: string[],
  rewrite: MessageRewrite,
  maxBytes: number,
  onRefused: () => void,
): void {
  if (!writeHead(upstream, res, status, headers, onRefused)) return;
  res.flushHeaders();
  const decoder = new StringDecoder('utf8');
  let cut = false;
  const resume = (): void => void upstream.resume();
  const write = (text: string): void => {
    if (!res.write(text)) {
      upstream.pause();
      res.once('drain', resume);
    }
  };
  const parser = createParser({
    maxBufferSize: maxBytes,
    onEvent(event) {
      let frame = '';
      if (event.event !== undefined) frame += `event: ${event.event}\n`;
      if (event.id !== undefined) frame += `id: ${event.id}\n`;
      for (const line of rewriteText(event.data, rewrite).split('\n')) frame += `data: ${line}\n`;
      write(frame + '\n');
    },
    onRetry: (ms) => write(`retry: ${ms}\n\n`),
    onComment: (comment) => write(`:${comment}\n\n`),
    onError(err) {
      if (err.type !== 'max-buffer-size-exceeded') return;
      cut = true;
      onRefused();
      upstream.destroy();
      res.destroy();
    },
  });
  // The parser refuses (throws) any feed after it was cut: never feed it again.
  upstream.on('data', (chunk: Buffer) => {
    if (!cut) parser.feed(decoder.write(chunk));
  });
  upstream.on('end', () => {
    if (cut) return;
    parser.feed(decoder.end());
    res.end();
  });
  upstream.on('error', () => res.destroy());
}
