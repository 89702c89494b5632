// What an upstream message too large to hold was, told from a bounded window of its
// first and last bytes (the rest is discarded unread). The point is to answer the
// request it belonged to with an error instead of leaving it to time out. Writers put
// the "id" first (`{"jsonrpc":"2.0","id":1,"result":…}`) or last (the MCP TypeScript SDK
// serialises `{"result":…,"jsonrpc":"2.0","id":1}`), so both ends are read:
//   - the head is scanned as JSON from the start, tracking depth, so only the top-level
//     object's keys count (which of "method", "result", "error", "id" it has);
//   - the tail is trusted only for an "id" member closed by the line's final `}`, which
//     is necessarily a member of the outermost object.
// An id is only as trustworthy as the upstream that wrote it, exactly as for a message
// the proxy parses whole: it routes within the upstream's own id space.
import type { RpcId } from '../jsonrpc.ts';

export type MessageShape =
  { kind: 'response'; id: RpcId | undefined } | { kind: 'request'; id: RpcId | undefined; method: string | undefined } | { kind: 'unknown' };

/** Bytes kept from each end of a discarded message. */
export const WINDOW_BYTES = 4096;

interface HeadScan {
  keys: Set<string>;
  id: RpcId | undefined;
  method: string | undefined;
}

const ID_VALUE = /^(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*")/;
const TAIL_ID = /"id"\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*")\s*\}\s*$/;

function parseIdLiteral(literal: string): RpcId | undefined {
  try {
    const value: unknown = JSON.parse(literal);
    return typeof value === 'string' || typeof value === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Top-level keys of the JSON object that `head` begins, as far as the window reaches. */
export function scanHead(head: string): HeadScan {
  const scan: HeadScan = { keys: new Set(), id: undefined, method: undefined };
  let i = 0;
  const n = head.length;
  const ws = (): void => {
    while (i < n && (head[i] === ' ' || head[i] === '\t' || head[i] === '\n' || head[i] === '\r')) i++;
  };
  /** Index just past the string starting at i (a quote), or -1 if it runs out. */
  const stringEnd = (from: number): number => {
    for (let j = from + 1; j < n; j++) {
      if (head[j] === '\\') j++;
      else if (head[j] === '"') return j + 1;
    }
    return -1;
  };
  ws();
  if (head[i] !== '{') return scan;
  i++;
  for (;;) {
    ws();
    if (i >= n || head[i] !== '"') return scan;
    const keyEnd = stringEnd(i);
    if (keyEnd === -1) return scan;
    const key = parseIdLiteral(head.slice(i, keyEnd));
    i = keyEnd;
    ws();
    if (head[i] !== ':') return scan;
    i++;
    ws();
    if (typeof key === 'string') scan.keys.add(key);
    if (key === 'id' || key === 'method') {
      const literal = ID_VALUE.exec(head.slice(i, i + 600));
      if (literal && i + literal[0].length < n) {
        const value = parseIdLiteral(literal[0]);
        if (key === 'id') scan.id = value;
        else if (typeof value === 'string') scan.method = value;
      }
    }
    // Skip the value: strings whole, brackets by depth, scalars to the next delimiter.
    let depth = 0;
    for (;;) {
      if (i >= n) return scan;
      const c = head[i];
      if (c === '"') {
        const end = stringEnd(i);
        if (end === -1) return scan;
        i = end;
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        if (depth === 0) return scan; // the top-level object ended
        depth--;
      } else if (c === ',' && depth === 0) {
        i++;
        break;
      }
      i++;
    }
  }
}

/** The shape of a JSON-RPC message known only by its first and last bytes. */
export function describeTruncated(head: string, tail: string): MessageShape {
  const scan = scanHead(head);
  const tailMatch = TAIL_ID.exec(tail);
  const id = tailMatch ? parseIdLiteral(tailMatch[1] as string) : scan.id;
  if (scan.keys.has('method')) return { kind: 'request', id, method: scan.method };
  if (scan.keys.has('result') || scan.keys.has('error')) return { kind: 'response', id };
  return { kind: 'unknown' };
}

/** Keeps the last WINDOW_BYTES of `tail` followed by `piece`. */
export function keepTail(tail: Buffer, piece: Buffer): Buffer {
  if (piece.length >= WINDOW_BYTES) return Buffer.from(piece.subarray(piece.length - WINDOW_BYTES));
  const joined = Buffer.concat([tail, piece]);
  return joined.length > WINDOW_BYTES ? Buffer.from(joined.subarray(joined.length - WINDOW_BYTES)) : joined;
}

/** The first WINDOW_BYTES of parts followed by piece. */
export function keepHead(parts: readonly Buffer[], piece: Buffer): Buffer {
  const all = [...parts, piece];
  const total = all.reduce((sum, p) => sum + p.length, 0);
  return Buffer.concat(all, Math.min(total, WINDOW_BYTES));
}
