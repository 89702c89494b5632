// --stdio-isolation session: one stdio server process per MCP session, for servers whose
// state must not be shared between clients. Each open() spawns a process (through its
// own StdioMultiplexer with restarts off, so the same framing, id rewriting and
// server-request rules apply) and the link owns it: closing the link kills it, and its
// exit ends only that session (as upstream_closed).
//
// Capacity: at most `maxProcesses` (= --max-sessions) processes live at once, counting
// sessions still initializing. Beyond that open() fails with UpstreamAtCapacity, which
// the frontend answers 503 + Retry-After (requests_rejected_total{reason="overloaded"}),
// the way Envoy answers a circuit-breaker overflow: evicting a live session would kill a
// process that may be mid-call, so the newcomer waits instead.
import type { Readiness } from '../../../common/diagnostics.ts';
import type { Logger } from '../../../common/log.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { UpstreamAtCapacity, type Connector, type Link } from './link.ts';
import { StdioMultiplexer } from './multiplexer.ts';
import type { FrameLimits } from './lines.ts';
import type { StdioLauncher } from './stdio.ts';

export class PerSessionStdioConnector implements Connector {
  readonly #launch: StdioLauncher;
  readonly #log: Logger;
  readonly #metrics: ProxyMetrics;
  readonly #maxProcesses: number;
  readonly #responseTimeoutMs: number;
  readonly #limits: FrameLimits | undefined;
  readonly #live = new Set<StdioMultiplexer>();

  constructor(launch: StdioLauncher, log: Logger, metrics: ProxyMetrics, maxProcesses: number, responseTimeoutMs = 0, limits?: FrameLimits) {
    this.#limits = limits;
    this.#launch = launch;
    this.#responseTimeoutMs = responseTimeoutMs;
    this.#log = log;
    this.#maxProcesses = maxProcesses;
    // Processes come and go with sessions: "up" means the proxy can start them, and the
    // per-process up/down flips are not the upstream's health.
    this.#metrics = { ...metrics, setUpstreamUp: () => {} };
    metrics.setUpstreamUp(true);
  }

  /** Processes running or starting now. */
  get processCount(): number {
    return this.#live.size;
  }

  readiness(): Readiness {
    return { ready: true, detail: `one stdio server per session (${this.#live.size} running)` };
  }

  async open(): Promise<Link> {
    if (this.#live.size >= this.#maxProcesses) {
      throw new UpstreamAtCapacity(`all ${this.#maxProcesses} per-session stdio processes are in use (--max-sessions)`);
    }
    const mux = new StdioMultiplexer(this.#launch, this.#log, this.#metrics, {
      restart: false,
      responseTimeoutMs: this.#responseTimeoutMs,
      limits: this.#limits,
    });
    this.#live.add(mux);
    const stop = (): void => {
      if (!this.#live.delete(mux)) return;
      void mux.close();
    };
    let inner: Link;
    try {
      inner = await mux.open();
    } catch (err) {
      stop();
      throw err;
    }
    const link: Link = {
      onmessage: () => {},
      onclose: () => {},
      send: (message) => inner.send(message),
      close: () => {
        inner.close();
        stop();
      },
    };
    inner.onmessage = (message) => link.onmessage(message);
    inner.onclose = () => {
      stop();
      link.onclose();
    };
    return link;
  }

  async close(): Promise<void> {
    const all = [...this.#live];
    this.#live.clear();
    await Promise.all(all.map((mux) => mux.close()));
  }
}
