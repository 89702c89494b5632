// Supervision of the stdio MCP server: start it, frame its stdout into JSON-RPC
// messages, restart it with exponential backoff when it dies. Where the process comes
// from is pluggable: a local child process here, a Kubernetes pod's attached
// stdin/stdout in the cluster. A line too large to hold (--max-message-bytes, or the
// buffer budget) is discarded as it streams and the process keeps running: a response
// is replaced by a JSON-RPC error for the same id, a request is answered with an error.
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { UNLIMITED } from '../budget.ts';
import { UPSTREAM_ERROR, type RpcMessage } from '../jsonrpc.ts';
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { relayable } from './link.ts';
import { LineSplitter, type Discarded, type FrameLimits } from './lines.ts';
import { describeTruncated } from './oversized.ts';

/** A running stdio server: its pipes, how to stop it, and word of its end. */
export interface StdioProcess {
  stdin: Writable;
  stdout: Readable;
  /** Resolves once with a description of how it ended. */
  exited: Promise<string>;
  kill(): void;
}

export type StdioLauncher = () => Promise<StdioProcess>;

export function childProcessLauncher(command: readonly string[], log: Logger): StdioLauncher {
  return async () => {
    const [file, ...args] = command as [string, ...string[]];
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(`failed to start: ${err.message}`));
      child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with code ${code}`));
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    log.info('stdio server started', { pid: child.pid, command: command.join(' ') });
    return { stdin: child.stdin, stdout: child.stdout, exited, kill: () => child.kill('SIGTERM') };
  };
}

export interface SupervisorEvents {
  onMessage(message: RpcMessage): void;
  onUp(): void;
  onDown(reason: string): void;
}

/** Without a budget (unit tests): the old fixed ceiling. */
const DEFAULT_LIMITS: FrameLimits = { maxBytes: 64 * 2 ** 20, pool: UNLIMITED };
/** Beyond this much unread input queued for the server, new requests are refused. */
export const MAX_STDIN_BACKLOG = 16 * 2 ** 20;

export class StdioSupervisor {
  readonly #launch: StdioLauncher;
  readonly #log: Logger;
  readonly #metrics: ProxyMetrics;
  readonly #events: SupervisorEvents;
  readonly #limits: FrameLimits;
  #current: StdioProcess | undefined;
  #stopped = false;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #lastDown = 'not started';
  readonly #restart: boolean;

  /** restart: false for a process that lives and dies with one session (--stdio-isolation session). */
  constructor(launch: StdioLauncher, events: SupervisorEvents, log: Logger, metrics: ProxyMetrics, limits: FrameLimits = DEFAULT_LIMITS, restart = true) {
    this.#launch = launch;
    this.#limits = limits;
    this.#restart = restart;
    this.#events = events;
    this.#log = log;
    this.#metrics = metrics;
  }

  get running(): boolean {
    return this.#current !== undefined;
  }

  get lastDown(): string {
    return this.#lastDown;
  }

  /** Queued bytes not yet taken by the server. */
  get backlog(): number {
    return this.#current?.stdin.writableLength ?? 0;
  }

  start(): void {
    void this.#run();
  }

  write(message: RpcMessage): boolean {
    const proc = this.#current;
    if (!proc || proc.stdin.destroyed) return false;
    proc.stdin.write(JSON.stringify(message) + '\n');
    return true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    const proc = this.#current;
    if (!proc) return;
    proc.stdin.end();
    proc.kill();
    await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  async #run(): Promise<void> {
    let proc: StdioProcess;
    try {
      proc = await this.#launch();
    } catch (err) {
      this.#down(`failed to start: ${(err as Error).message}`);
      return;
    }
    if (this.#stopped) {
      proc.kill();
      return;
    }
    const startedAt = Date.now();
    this.#current = proc;
    const splitter = new LineSplitter(
      this.#limits,
      (line) => this.#line(line),
      (discarded) => this.#discarded(discarded),
    );
    proc.stdout.on('data', (chunk: Buffer) => splitter.push(chunk));
    proc.stdout.once('close', () => splitter.close());
    proc.stdin.on('error', (err) => this.#log.warn('stdio server stdin error', { err }));
    this.#events.onUp();
    const reason = await proc.exited;
    this.#current = undefined;
    // A process that stayed up a minute has earned a fresh backoff.
    if (Date.now() - startedAt > 60_000) this.#failures = 0;
    this.#down(reason);
  }

  #down(reason: string): void {
    this.#lastDown = reason;
    this.#events.onDown(reason);
    if (this.#stopped) return;
    this.#metrics.upstreamError('process_exit');
    if (!this.#restart) {
      this.#stopped = true;
      this.#log.info('stdio server ended; not restarted (one process per session)', { reason });
      return;
    }
    const delay = Math.min(30_000, 250 * 2 ** this.#failures++);
    this.#log.warn('stdio server down; restarting', { reason, restartInMs: delay });
    this.#restartTimer = setTimeout(() => {
      this.#metrics.upstreamRestarted();
      void this.#run();
    }, delay);
  }

  #discarded(discarded: Discarded): void {
    const shape = describeTruncated(discarded.head.toString('utf8'), discarded.tail.toString('utf8'));
    const limit = this.#limits.maxBytes;
    const why =
      discarded.reason === 'too_large'
        ? `larger than the proxy's --max-message-bytes limit of ${limit} bytes`
        : `over the proxy's memory budget (--max-buffered-bytes ${this.#limits.pool.capacity} bytes) at the time`;
    const attributed = shape.kind !== 'unknown' && shape.id !== undefined;
    this.#metrics.messageDropped(discarded.reason, attributed);
    this.#log.warn('stdio server wrote a message too large to hold; discarded', {
      bytes: discarded.bytes,
      reason: discarded.reason,
      limitBytes: limit,
      kind: shape.kind,
      id: shape.kind === 'unknown' ? undefined : shape.id,
    });
    if (!attributed) return;
    const message = `MCP message of ${discarded.bytes}+ bytes dropped: ${why}`;
    if (shape.kind === 'response') {
      // Delivered as if the server had answered with this error: it reaches the request's session.
      this.#events.onMessage({ jsonrpc: '2.0', id: shape.id, error: { code: UPSTREAM_ERROR, message } });
    } else if (shape.kind === 'request') {
      this.write({ jsonrpc: '2.0', id: shape.id, error: { code: UPSTREAM_ERROR, message: `request not delivered: ${message}` } });
    }
  }

  #line(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.#metrics.upstreamError('protocol');
      this.#log.warn('stdio server wrote a non-JSON line; ignored', { line: line.slice(0, 200) });
      return;
    }
    if (typeof message !== 'object' || message === null || (message as RpcMessage).jsonrpc !== '2.0') {
      this.#metrics.upstreamError('protocol');
      this.#log.warn('stdio server wrote a non-JSON-RPC message; ignored', { line: line.slice(0, 200) });
      return;
    }
    const relayed = relayable(message as RpcMessage);
    if (relayed !== message) {
      this.#metrics.upstreamError('protocol');
      this.#log.warn('stdio server wrote a message nested too deep; not relayed', { line: line.slice(0, 200) });
    }
    if (relayed) this.#events.onMessage(relayed);
  }
}
