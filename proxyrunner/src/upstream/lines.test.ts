import { describe, expect, it } from '@jest/globals';
import { ByteBudget } from '../budget.ts';
import { LineSplitter, type Discarded } from './lines.ts';
import { describeTruncated } from './oversized.ts';

describe('LineSplitter', () => {
  const collect = (max = 1024) => {
    const lines: string[] = [];
    let overflows = 0;
    const splitter = new LineSplitter(
      max,
      (l) => lines.push(l),
      () => overflows++,
    );
    return { splitter, lines, overflows: () => overflows };
  };

  it('frames lines across chunk boundaries and strips CR', () => {
    const { splitter, lines } = collect();
    splitter.push(Buffer.from('{"a":1}\n{"b"'));
    splitter.push(Buffer.from(':2}\r\n\n{"c":3}'));
    splitter.push(Buffer.from('\n'));
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('keeps multi-byte characters split across chunks intact', () => {
    const { splitter, lines } = collect();
    const bytes = Buffer.from('"héllo"\n');
    splitter.push(bytes.subarray(0, 3));
    splitter.push(bytes.subarray(3));
    expect(lines).toEqual(['"héllo"']);
  });

  it('discards a line over the limit as it streams and reports it once it ends', () => {
    const { splitter, lines, overflows } = collect(16);
    splitter.push(Buffer.from('x'.repeat(10)));
    splitter.push(Buffer.from('y'.repeat(10)));
    splitter.push(Buffer.from('z'.repeat(10)));
    expect(overflows()).toBe(0);
    splitter.push(Buffer.from('\n{"ok":1}\n'));
    expect(overflows()).toBe(1);
    expect(lines).toEqual(['{"ok":1}']);
  });

  it('keeps only the two ends of a discarded line, enough to find its id at either end', () => {
    const found: Discarded[] = [];
    const splitter = new LineSplitter(
      1024,
      () => {},
      (d) => found.push(d),
    );
    const big = 'a'.repeat(100_000);
    // The MCP TypeScript SDK puts the id last; others put it first.
    for (const line of [
      `{"result":{"content":[{"type":"text","text":"${big}"}]},"jsonrpc":"2.0","id":7}\n`,
      `{"jsonrpc":"2.0","id":"x-1","result":{"text":"${big}","id":99}}\n`,
    ]) {
      for (let i = 0; i < line.length; i += 7000) splitter.push(Buffer.from(line.slice(i, i + 7000)));
    }
    expect(found.map((d) => d.bytes > 100_000)).toEqual([true, true]);
    expect(found.every((d) => d.head.length <= 4096 && d.tail.length <= 4096)).toBe(true);
    expect(found.map((d) => describeTruncated(d.head.toString(), d.tail.toString()))).toEqual([
      { kind: 'response', id: 7 },
      { kind: 'response', id: 'x-1' },
    ]);
  });

  it('refuses to hold a line the shared budget cannot afford, and returns what it held', () => {
    const pool = new ByteBudget(100);
    const found: Discarded[] = [];
    const lines: string[] = [];
    const splitter = new LineSplitter(
      { maxBytes: 1000, pool },
      (l) => lines.push(l),
      (d) => found.push(d),
    );
    splitter.push(Buffer.from('{"n":"' + 'b'.repeat(200)));
    expect(pool.used).toBe(0);
    splitter.push(Buffer.from('"}\n{"n":1}\n{"n"'));
    expect(found.map((d) => d.reason)).toEqual(['over_budget']);
    expect(lines).toEqual(['{"n":1}']);
    expect(pool.used).toBe(4);
    splitter.close();
    expect(pool.used).toBe(0);
  });
});
