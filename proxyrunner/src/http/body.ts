// Reads a request body into memory, never past the limit and never past the buffer
// budget. MCP messages are small and the proxy must see them whole (to validate JSON-RPC
// and spot initialize), so a bounded buffer is the simplest correct shape. The bytes stay
// charged to the budget until the response closes (the body is replayed upstream).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UNLIMITED, type ByteBudget } from '../budget.ts';

export type BodyResult = { kind: 'ok'; body: Buffer } | { kind: 'too_large' } | { kind: 'over_budget' } | { kind: 'aborted' };

export function readBody(req: IncomingMessage, limit: number, resolve: (result: BodyResult) => void, pool: ByteBudget = UNLIMITED, res?: ServerResponse): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    resolve({ kind: 'too_large' });
    return;
  }
  const account = pool.account();
  if (res) res.once('close', () => account.close());
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const settle = (result: BodyResult): void => {
    if (settled) return;
    settled = true;
    req.off('data', onData).off('end', onEnd).off('close', onClose).off('error', onClose);
    if (result.kind !== 'ok' || !res) account.close();
    resolve(result);
  };
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size > limit) {
      chunks.length = 0;
      settle({ kind: 'too_large' });
      return;
    }
    if (!account.resize(size)) {
      chunks.length = 0;
      settle({ kind: 'over_budget' });
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = (): void => settle({ kind: 'ok', body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
  const onClose = (): void => settle({ kind: 'aborted' });
  req.on('data', onData).on('end', onEnd).on('close', onClose).on('error', onClose);
}
