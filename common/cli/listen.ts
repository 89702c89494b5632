// Binding a listener, with the one failure a newcomer meets first explained in one line: the
// port is taken (or not ours to take, or the address is not local). The error names the flag
// and the environment variable that change it; the program's entry (entry.ts) prints it as
// one line and exits 1, without a stack trace, because nothing in the code is wrong.
import type { Server } from 'node:net';
import { envName } from './flags.ts';

/** A start-up failure the user fixes by configuration: printed as one line, no stack. */
export class StartupError extends Error {}

export interface ListenTarget {
  host: string;
  port: number;
  /** The flags that set them, e.g. 'port' and 'host', or 'metrics-port' and 'metrics-host'. */
  portFlag: string;
  hostFlag: string;
  /** What listens there, for the message ("MCP listener"). */
  what: string;
}

const flagAndEnv = (flag: string): string => `--${flag} (or ${envName(flag)})`;

/** The one-line explanation of a listen error, or undefined when it is not a configuration problem. */
export function explainListenError(err: NodeJS.ErrnoException, t: ListenTarget): string | undefined {
  const where = `${t.host}:${t.port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return `${t.what}: ${where} is already in use by another process; choose another port with ${flagAndEnv(t.portFlag)}`;
    case 'EACCES':
      return `${t.what}: not allowed to listen on ${where} (ports below 1024 need privileges); choose another with ${flagAndEnv(t.portFlag)}`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${t.what}: cannot listen on ${t.host}: not an address of this machine; set ${flagAndEnv(t.hostFlag)}`;
    default:
      return undefined;
  }
}

/** server.listen as a promise; configuration problems reject with a StartupError naming the flag. */
export function listen(server: Server, target: ListenTarget): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const explained = explainListenError(err, target);
      reject(explained === undefined ? err : new StartupError(explained, { cause: err }));
    };
    server.once('error', onError);
    server.listen(target.port, target.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
