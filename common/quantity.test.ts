import { describe, expect, it } from '@jest/globals';
import { formatBytes, formatDuration, parseBytes, parseDuration } from './quantity.ts';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['2', 2_000],
    ['0', 0],
    ['1.5s', 1_500],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 'abc', '5 minutes', '10x', 's5', '1h 30m', '-5s'])('rejects "%s" with examples', (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration .*examples/);
  });
});

describe('parseBytes', () => {
  it.each([
    ['128Mi', 128 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['4M', 4_000_000],
    ['1048576', 1_048_576],
    ['512Ki', 512 * 1024],
    ['1.5Gi', 1.5 * 2 ** 30],
  ])('%s is %d bytes', (text, bytes) => expect(parseBytes(text)).toBe(bytes));

  it.each(['', 'Mi', '128MB', '12 8Mi', '-1Mi', 'lots'])('rejects "%s"', (text) => {
    expect(() => parseBytes(text)).toThrow(/invalid byte quantity/);
  });
});

describe('formatting', () => {
  it('round-trips typical values', () => {
    expect(formatDuration(parseDuration('30m'))).toBe('30m');
    expect(formatDuration(1500)).toBe('1500ms');
    expect(formatBytes(parseBytes('4Mi'))).toBe('4Mi');
    expect(formatBytes(1000)).toBe('1000');
  });
});
