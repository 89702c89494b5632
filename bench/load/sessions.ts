// The session churn load shared by bench:churn and bench:peers (the reference write-up's,
// ToolHive PR 4079): `concurrency` keep-alive workers run `total` MCP sessions through one
// URL, in one of three modes:
//   delete     initialize → DELETE
//   lifecycle  initialize → initialized → tools/list → tools/call ×2 → DELETE
//   abandon    initialize → initialized, then walk away (no DELETE)
// Sampling is the caller's: `onProgress` is told each time `every` more sessions are done.
import http from 'node:http';
import { INIT_BODY, McpHttpClient, toolCall } from '../../test/support/mcpHttp.ts';

export type ChurnMode = 'delete' | 'lifecycle' | 'abandon';
export const CHURN_MODES: readonly ChurnMode[] = ['delete', 'lifecycle', 'abandon'];

export interface ChurnOptions {
  url: string;
  mode: ChurnMode;
  total: number;
  concurrency: number;
  /** Called (awaited in order, off the workers' path) after every `every` sessions. */
  onProgress?: (done: number) => Promise<void>;
  every?: number;
}

export interface ChurnResult {
  sessions: number;
  /** Requests that failed or answered other than expected. */
  errors: number;
  seconds: number;
}

export async function churnSessions(options: ChurnOptions): Promise<ChurnResult> {
  const { mode, total, concurrency } = options;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const client = new McpHttpClient(options.url, agent);
  const every = options.every ?? Infinity;
  let begun = 0;
  let done = 0;
  let errors = 0;
  let nextProgress = every;
  let progress: Promise<void> = Promise.resolve();
  const expect = (ok: boolean): void => {
    if (!ok) errors++;
  };
  const one = async (): Promise<void> => {
    const init = await client.request('POST', INIT_BODY);
    expect(init.status === 200 && init.sessionId !== undefined);
    const id = init.sessionId;
    if (!id) return;
    if (mode !== 'delete') expect((await client.request('POST', '{"jsonrpc":"2.0","method":"notifications/initialized"}', id)).status === 202);
    if (mode === 'lifecycle') {
      expect((await client.request('POST', '{"jsonrpc":"2.0","id":2,"method":"tools/list"}', id)).status === 200);
      expect((await client.request('POST', toolCall(3, 'echo', { message: 'one' }), id)).status === 200);
      expect((await client.request('POST', toolCall(4, 'echo', { message: 'two' }), id)).status === 200);
    }
    if (mode !== 'abandon') expect((await client.request('DELETE', undefined, id)).status === 200);
  };
  const worker = async (): Promise<void> => {
    while (begun < total) {
      begun++;
      try {
        await one();
      } catch {
        errors++;
      }
      done++;
      if (done >= nextProgress && options.onProgress) {
        const at = nextProgress;
        nextProgress += every;
        const report = options.onProgress;
        progress = progress.then(() => report(at));
      }
    }
  };
  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
    await progress;
  } finally {
    agent.destroy();
  }
  return { sessions: done, errors, seconds: (performance.now() - started) / 1000 };
}
