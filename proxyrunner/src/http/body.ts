// Reads a request body into memory, never past the limit. MCP messages are small and
// the proxy must see them whole (to validate JSON-RPC and spot initialize), so a
// bounded buffer is the simplest correct shape.
import type { IncomingMessage } from 'node:http';

export type BodyResult = { kind: 'ok'; body: Buffer } | { kind: 'too_large' } | { kind: 'aborted' };

export function readBody(req: IncomingMessage, limit: number, resolve: (result: BodyResult) => void): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    resolve({ kind: 'too_large' });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const settle = (result: BodyResult): void => {
    if (settled) return;
    settled = true;
    req.off('data', onData).off('end', onEnd).off('close', onClose).off('error', onClose);
    resolve(result);
  };
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size > limit) {
      chunks.length = 0;
      settle({ kind: 'too_large' });
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = (): void => settle({ kind: 'ok', body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
  const onClose = (): void => settle({ kind: 'aborted' });
  req.on('data', onData).on('end', onEnd).on('close', onClose).on('error', onClose);
}
