// Node built-ins whose ES-module facade costs resident memory, taken without it.
// `import x from 'node:http'` (or `import { y } from ...`) builds a module namespace from every
// export, and reading them all runs the module's lazy getters, which load whole subsystems a
// process never uses:
//   http / https: WebSocket, CloseEvent, MessageEvent → Node's bundled undici, ~13 MiB RSS;
//   fs: promises, Utf8Stream, Dir, ReadStream … → fs/promises, readline, REPL history, ~3.3 MiB;
//   util: diff, MIMEType … → diff, colors, ~3.3 MiB (fs and util together ~4.2 MiB).
// Measured in bare node 24 (RSS after a full GC, median of three). process.getBuiltinModule
// returns the same module objects with the getters unread. The other built-ins we use cost
// nothing extra through `import` (crypto, net, stream, os, path, v8, perf_hooks: ≤ 0.2 MiB).
// https is loaded on first use (loadHttps below), not with this module.
// Invariant, kept by the lint config (no-restricted-imports): code under common/, proxyrunner/src
// and operator/src takes http, https, fs and util from here, never by a value `import ... from`.
import type * as Https from 'node:https';

export const http = process.getBuiltinModule('node:http');

let httpsModule: typeof Https | undefined;
/** https, loaded on first use: it brings tls and OpenSSL's contexts (~2.8 MiB RSS in a stdio
 * proxy), which a proxy whose upstream and peers are plain HTTP never needs. */
export const loadHttps = (): typeof Https => (httpsModule ??= process.getBuiltinModule('node:https'));
/** The client module for a target: https (loaded then) when `secure`, else http. */
export const httpClient = (secure: boolean): typeof http | typeof Https => (secure ? loadHttps() : http);
export const fs = process.getBuiltinModule('node:fs');
export const util = process.getBuiltinModule('node:util');
