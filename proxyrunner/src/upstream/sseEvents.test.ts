import { describe, expect, it } from '@jest/globals';
import { ByteBudget, UNLIMITED } from '../budget.ts';
import type { Discarded } from './lines.ts';
import { SseEventSplitter } from './sseEvents.ts';

function split(chunks: string[], maxBytes = 1024, pool = UNLIMITED): { events: string[]; discarded: Discarded[] } {
  const events: string[] = [];
  const discarded: Discarded[] = [];
  const splitter = new SseEventSplitter(
    { maxBytes, pool },
    (e) => events.push(e.toString()),
    (d) => discarded.push(d),
  );
  for (const chunk of chunks) splitter.push(Buffer.from(chunk));
  return { events, discarded };
}

describe('SseEventSplitter', () => {
  it('frames events on blank lines with LF, CRLF and CR line ends, across chunks', () => {
    const { events } = split(['event: a\ndata: 1\n', '\ndata: 2\r', '\n\r', '\ndata: 3\r\rdata: 4\n\n']);
    // A CRLF split across chunks: its LF opens the next frame (an empty line, which dispatches nothing).
    expect(events).toEqual(['event: a\ndata: 1\n\n', 'data: 2\r\n\r', '\ndata: 3\r\r', 'data: 4\n\n']);
  });

  it('discards an event over the limit as it streams, then frames the next', () => {
    const big = 'x'.repeat(5000);
    const { events, discarded } = split(['data: {"jsonrpc":"2.0","id":1,"result":"', big, big, '"}\n\ndata: ok\n\n'], 1024);
    expect(events).toEqual(['data: ok\n\n']);
    expect(discarded).toHaveLength(1);
    expect(discarded[0]?.reason).toBe('too_large');
    expect(discarded[0]?.bytes).toBeGreaterThan(10_000);
  });

  it('charges a partial event to the budget and frees it', () => {
    const pool = new ByteBudget(1 << 20);
    const events: string[] = [];
    const splitter = new SseEventSplitter(
      { maxBytes: 1024, pool },
      (e) => events.push(e.toString()),
      () => {},
    );
    splitter.push(Buffer.from('data: part'));
    expect(pool.used).toBe(10);
    splitter.push(Buffer.from('ial\n\n'));
    expect(events).toEqual(['data: partial\n\n']);
    expect(pool.used).toBe(0);
  });
});
