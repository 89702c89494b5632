// What the proxyrunner's listeners need from an upstream kind, whichever it is (transparent
// streamable HTTP, or message-based stdio/SSE/HTTP): the MCP routes, readiness for /readyz,
// the live session count, and a close. app.ts starts listeners on whatever compose/ builds.
import type { Readiness } from '../../../common/diagnostics.ts';
import type { Routes } from '../http/pipeline.ts';

export interface Upstream {
  routes: Routes;
  readiness(): Readiness;
  sessionCount(): number;
  close(): Promise<void>;
}
