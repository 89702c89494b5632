import { describe, expect, it } from '@jest/globals';
import { LineSplitter } from './lines.ts';

describe('LineSplitter', () => {
  const collect = (max = 1024) => {
    const lines: string[] = [];
    let overflows = 0;
    const splitter = new LineSplitter(max, (l) => lines.push(l), () => overflows++);
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

  it('reports a line over the limit instead of buffering it', () => {
    const { splitter, lines, overflows } = collect(16);
    splitter.push(Buffer.from('x'.repeat(10)));
    splitter.push(Buffer.from('y'.repeat(10)));
    expect(overflows()).toBe(1);
    splitter.push(Buffer.from('\n{"ok":1}\n'));
    expect(lines).toEqual(['{"ok":1}']);
  });
});
