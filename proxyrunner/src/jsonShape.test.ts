import { describe, expect, it } from '@jest/globals';
import { jsonShapeProblem, valueDeeperThan } from './jsonShape.ts';

const limits = { maxDepth: 4, uniqueMessageKeys: true };

describe('jsonShapeProblem', () => {
  it('accepts nesting up to the limit and rejects one level more', () => {
    expect(jsonShapeProblem('[[[[1]]]]', limits)).toBeUndefined();
    expect(jsonShapeProblem('[[[[[1]]]]]', limits)).toMatch(/deeper than 4 levels/);
    expect(jsonShapeProblem('{"a":{"b":{"c":{"d":{}}}}}', limits)).toMatch(/deeper than 4/);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(jsonShapeProblem('{"a":"[[[[[[[[{{{{", "b":"\\"[[[[[[["}', limits)).toBeUndefined();
  });

  it('ends a string at a quote after an even run of backslashes, not an odd one', () => {
    expect(jsonShapeProblem('{"a":"x\\\\","b":[[[[[1]]]]]}', limits)).toMatch(/deeper than 4/);
    expect(jsonShapeProblem('{"a":"x\\"[[[[[[","b":1}', limits)).toBeUndefined();
    // The same past the JS walk, where the rest of the string is searched natively.
    const long = 'y'.repeat(100);
    expect(jsonShapeProblem(`{"a":"${long}\\\\","b":[[[[[1]]]]]}`, limits)).toMatch(/deeper than 4/);
    expect(jsonShapeProblem(`{"a":"${long}\\"[[[[[[","b":1}`, limits)).toBeUndefined();
  });

  it('scans a million levels without recursing and stops at the limit', () => {
    const deep = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    expect(jsonShapeProblem(deep, { maxDepth: 64, uniqueMessageKeys: false })).toMatch(/deeper than 64/);
  });

  it('rejects duplicate members of a message, escaped spellings included', () => {
    expect(jsonShapeProblem('{"method":"ping","method":"initialize"}', limits)).toMatch(/duplicate member "method"/);
    expect(jsonShapeProblem('{"method":"ping","\\u006dethod":"initialize"}', limits)).toMatch(/duplicate member "method"/);
    expect(jsonShapeProblem('[{"id":1},{"id":2,"id":3}]', limits)).toMatch(/duplicate member "id"/);
  });

  it('allows the same name in different messages and in nested objects', () => {
    expect(jsonShapeProblem('[{"id":1,"method":"a"},{"id":2,"method":"b"}]', limits)).toBeUndefined();
    expect(jsonShapeProblem('{"id":1,"params":{"id":2,"x":{"id":3}}}', limits)).toBeUndefined();
    expect(jsonShapeProblem('{"a":["id","id"],"b":1}', limits)).toBeUndefined();
  });

  it('rejects a member named __proto__ at any depth, however it is spelled', () => {
    expect(jsonShapeProblem('{"__proto__":{}}', limits)).toMatch(/__proto__/);
    expect(jsonShapeProblem('{"a":[{"b":{"__proto__":1}}]}', { maxDepth: 10, uniqueMessageKeys: false })).toMatch(/__proto__/);
    expect(jsonShapeProblem('{"a":{"\\u005f_proto__":1}}', limits)).toMatch(/__proto__/);
    expect(jsonShapeProblem('{"a":"__proto__","constructor":{"prototype":1}}', limits)).toBeUndefined();
  });

  it('leaves syntax errors to JSON.parse', () => {
    expect(jsonShapeProblem('{"a":', limits)).toBeUndefined();
    expect(jsonShapeProblem(']]]]', limits)).toBeUndefined();
  });
});

describe('jsonShapeProblem agrees with the parsed value (seeded property test)', () => {
  it('finds a value too deep exactly when it is, whatever its strings hold', () => {
    let seed = 42;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const int = (n: number): number => Math.floor(random() * n);
    // Strings of every length around the JS/native switch, full of quotes and backslashes.
    const alphabet = ['"', '\\', 'x', '\u00e9', '{', '}', '[', ']', ',', ':', ' '];
    const text = (): string => Array.from({ length: int(140) }, () => alphabet[int(alphabet.length)]).join('');
    const value = (depth: number): unknown => {
      if (depth <= 0 || random() < 0.3) return random() < 0.5 ? text() : int(1000);
      if (random() < 0.5) return Array.from({ length: int(4) }, () => value(depth - 1));
      return Object.fromEntries(Array.from({ length: int(4) }, (_, i) => [`${text()}${i}`, value(depth - 1)]));
    };
    for (let run = 0; run < 2_000; run++) {
      const v = value(1 + int(12));
      const maxDepth = 1 + int(10);
      const problem = jsonShapeProblem(JSON.stringify(v), { maxDepth, uniqueMessageKeys: false });
      expect([run, problem !== undefined]).toEqual([run, valueDeeperThan(v, maxDepth)]);
    }
  });
});

describe('valueDeeperThan', () => {
  it('measures built values iteratively', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(valueDeeperThan(deep, 64)).toBe(true);
    expect(valueDeeperThan({ a: [{ b: 1 }] }, 3)).toBe(false);
    expect(valueDeeperThan({ a: [{ b: {} }] }, 3)).toBe(true);
    expect(valueDeeperThan('text', 0)).toBe(false);
  });
});
