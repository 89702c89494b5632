import { describe, expect, it } from '@jest/globals';
import { hopByHopNames } from './hopByHop.ts';

describe('hopByHopNames', () => {
  it('always includes the RFC 9110 set plus Proxy-Connection', () => {
    expect([...hopByHopNames(undefined)].sort()).toEqual(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
  });

  it('adds every header the Connection field names, case-folded, across repeats', () => {
    const names = hopByHopNames(['close, X-Secret', ' Foo ,,bar']);
    for (const n of ['x-secret', 'foo', 'bar', 'close']) expect(names.has(n)).toBe(true);
    expect(names.has('')).toBe(false);
  });
});
