// A legacy HTTP+SSE (2024-11-05) upstream: each session gets its own GET stream, whose
// `endpoint` event names where to POST. When that stream ends, so does the session
// (no silent reconnect: a new stream would be a different upstream session).
// Events are framed by a bounded splitter before eventsource-parser sees them: one too
// large to hold is discarded as it streams, and the request it answered gets a JSON-RPC
// error that names the limit, while the session and its stream carry on.
import { http, httpClient, loadHttps } from '../../../common/builtins.ts';
import type { Agent as HttpAgent } from 'node:http';
import { createParser } from 'eventsource-parser';
import type { Readiness } from '../../../common/diagnostics.ts';
import { UPSTREAM_ERROR, type RpcId, type RpcMessage } from '../jsonrpc.ts';
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { Discarded, FrameLimits } from './lines.ts';
import { errorResponse, relayable, type Connector, type Link } from './link.ts';
import { startTcpProbe, type TcpProbe } from './probe.ts';
import { describeTruncatedEvent, SseEventSplitter } from './sseEvents.ts';
import { metaTraceparent } from './traceHeader.ts';

export interface SseUpstreamOptions {
  target: URL;
  connectTimeoutMs: number;
  log: Logger;
  metrics: ProxyMetrics;
  limits: FrameLimits;
}

export class SseUpstreamConnector implements Connector {
  readonly #options: SseUpstreamOptions;
  readonly #client: ReturnType<typeof httpClient>;
  readonly #postAgent: HttpAgent;
  readonly #probe: TcpProbe;

  constructor(options: SseUpstreamOptions) {
    this.#options = options;
    const secure = options.target.protocol === 'https:';
    this.#client = httpClient(secure);
    this.#postAgent = secure ? new (loadHttps().Agent)({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.#probe = startTcpProbe(options.target, 5_000, 2_000, (up) => options.metrics.setUpstreamUp(up));
  }

  readiness(): Readiness {
    return this.#probe.state;
  }

  async close(): Promise<void> {
    this.#probe.stop();
    this.#postAgent.destroy();
  }

  open(): Promise<Link> {
    const { target, connectTimeoutMs, log, metrics } = this.#options;
    return new Promise((resolve, reject) => {
      let endpoint: URL | undefined;
      let closedByUs = false;
      const link: Link = {
        onmessage: () => {},
        onclose: () => {},
        send: (message) => this.#post(endpoint as URL, message, link),
        close: () => {
          closedByUs = true;
          stream.destroy();
        },
      };
      const fail = (err: Error): void => {
        clearTimeout(timer);
        stream.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`no endpoint event from ${target.href} within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      const parser = createParser({
        onEvent: (event) => {
          if (event.event === 'endpoint') {
            try {
              endpoint = new URL(event.data, target);
            } catch {
              fail(new Error(`upstream sent an invalid endpoint "${event.data.slice(0, 100)}"`));
              return;
            }
            // Messages go only where --target-url points: an endpoint on another origin
            // would make the proxy post its clients' messages to a host nobody configured.
            if (endpoint.origin !== target.origin) {
              metrics.upstreamError('protocol');
              endpoint = undefined;
              fail(new Error(`upstream named an endpoint on another origin (${target.origin} expected)`));
              return;
            }
            clearTimeout(timer);
            resolve(link);
            return;
          }
          if (event.event !== undefined && event.event !== 'message') return;
          let message: unknown;
          try {
            message = JSON.parse(event.data);
          } catch {
            metrics.upstreamError('protocol');
            log.warn('SSE upstream sent a non-JSON message; ignored', { data: event.data.slice(0, 200) });
            return;
          }
          const relayed = typeof message === 'object' && message !== null ? relayable(message as RpcMessage) : undefined;
          if (relayed !== message) {
            metrics.upstreamError('protocol');
            log.warn('SSE upstream sent a message that cannot be relayed (not an object, or nested too deep)', { data: event.data.slice(0, 200) });
          }
          if (relayed) link.onmessage(relayed);
        },
      });
      const splitter = new SseEventSplitter(
        this.#options.limits,
        (event) => parser.feed(event.toString('utf8')),
        (discarded) => {
          if (!endpoint) {
            fail(new Error(`upstream sent an event of ${discarded.bytes}+ bytes before naming an endpoint`));
            return;
          }
          this.#discarded(discarded, link, endpoint);
        },
      );
      const stream = this.#client.get(target, { headers: { accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          fail(new Error(`upstream answered GET ${target.pathname} with HTTP ${res.statusCode}`));
          return;
        }
        res.on('data', (chunk: Buffer) => splitter.push(chunk));
        res.on('close', () => {
          splitter.close();
          clearTimeout(timer);
          if (!endpoint) reject(new Error('upstream closed the SSE stream before naming an endpoint'));
          else if (!closedByUs) link.onclose();
        });
      });
      stream.on('error', (err) => {
        if (!endpoint) fail(err);
        else if (!closedByUs) {
          metrics.upstreamError('reset');
          link.onclose();
        }
      });
    });
  }

  /** An event too large to hold was dropped: tell whoever waits for it. */
  #discarded(discarded: Discarded, link: Link, endpoint: URL): void {
    const { metrics, log, limits } = this.#options;
    const { event, shape } = describeTruncatedEvent(discarded.head, discarded.tail);
    const attributed = event === 'message' && shape.kind !== 'unknown' && shape.id !== undefined;
    metrics.messageDropped(discarded.reason, attributed);
    log.warn('SSE upstream sent an event too large to hold; discarded', {
      bytes: discarded.bytes,
      reason: discarded.reason,
      limitBytes: limits.maxBytes,
      kind: shape.kind,
    });
    if (!attributed) return;
    const why =
      discarded.reason === 'too_large'
        ? `larger than the proxy's --max-message-bytes limit of ${limits.maxBytes} bytes`
        : `over the proxy's memory budget (--max-buffered-bytes ${limits.pool.capacity} bytes) at the time`;
    const message = `MCP message of ${discarded.bytes}+ bytes dropped: ${why}`;
    const id = shape.id as RpcId;
    if (shape.kind === 'response') link.onmessage({ jsonrpc: '2.0', id, error: { code: UPSTREAM_ERROR, message } });
    else this.#post(endpoint, { jsonrpc: '2.0', id, error: { code: UPSTREAM_ERROR, message: `request not delivered: ${message}` } }, link);
  }

  #post(endpoint: URL, message: RpcMessage, link: Link): void {
    const body = JSON.stringify(message);
    const isRequest = message.method !== undefined && message.id !== undefined && message.id !== null;
    const failed = (why: string): void => {
      this.#options.metrics.upstreamError('reset');
      if (isRequest) link.onmessage(errorResponse(message.id as string | number, UPSTREAM_ERROR, `Upstream MCP server rejected the message: ${why}`));
    };
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    // A request's trace context (params._meta, put there by tracing) goes as a header too, for HTTP-level tracers.
    const traceparent = metaTraceparent(message);
    if (traceparent !== undefined) headers['traceparent'] = traceparent;
    const req = this.#client.request(endpoint, { method: 'POST', agent: this.#postAgent, headers });
    req.on('response', (res) => {
      res.resume();
      if ((res.statusCode ?? 0) >= 300) failed(`HTTP ${res.statusCode}`);
    });
    req.on('error', (err) => failed(err.message));
    req.end(body);
  }
}
