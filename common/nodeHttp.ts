// Node's http and https modules without their ES-module facade. `import http from 'node:http'`
// builds a module namespace from every export, and reading them all runs http's lazy getters:
// WebSocket, CloseEvent and MessageEvent load Node's bundled undici, ~13 MiB of RSS (about 6
// anonymous, 7 of the node binary's pages) in a process that never uses them (measured with
// bench:footprint). process.getBuiltinModule returns the same module objects, getters unread.
// Invariant: the proxyrunner's modules take http/https from here, never by `import ... from`.
export const http = process.getBuiltinModule('node:http');
export const https = process.getBuiltinModule('node:https');
