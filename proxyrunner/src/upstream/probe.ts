// Upstream reachability for /readyz and mcpfleet_proxy_upstream_up: a TCP connect to
// the target every few seconds, cached, so probes cost the upstream nothing.
import net from 'node:net';
import type { Readiness } from '../../../common/diagnostics.ts';

export interface TcpProbe {
  readonly state: Readiness;
  check(): Promise<Readiness>;
  stop(): void;
}

export function startTcpProbe(target: URL, intervalMs: number, timeoutMs: number, onChange: (up: boolean) => void): TcpProbe {
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  const host = target.hostname.replace(/^\[|\]$/g, '');
  let state: Readiness = { ready: false, detail: `not checked yet (${host}:${port})` };
  const check = (): Promise<Readiness> =>
    new Promise((resolve) => {
      const socket = net.connect({ host, port });
      const done = (ready: boolean, detail: string): void => {
        socket.destroy();
        clearTimeout(timer);
        if (ready !== state.ready) onChange(ready);
        state = { ready, detail };
        resolve(state);
      };
      const timer = setTimeout(() => done(false, `connect to ${host}:${port} timed out`), timeoutMs);
      socket.once('connect', () => done(true, `${host}:${port} reachable`));
      socket.once('error', (err) => done(false, `connect to ${host}:${port} failed: ${err.message}`));
    });
  onChange(false);
  void check();
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return {
    get state() {
      return state;
    },
    check,
    stop: () => clearInterval(timer),
  };
}
