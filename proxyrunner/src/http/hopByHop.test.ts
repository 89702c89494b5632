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
    for (const n of ['connection', 'keep-alive', 'te', 'upgrade']) expect(names.has(n)).toBe(true);
  });

  it('gives the fixed set alone when Connection names nothing more, and never grows it', () => {
    const common = hopByHopNames('keep-alive');
    expect([...common].sort()).toEqual([...hopByHopNames(undefined)].sort());
    expect(hopByHopNames(['Keep-Alive', ' Upgrade'])).toBe(common);
    expect(hopByHopNames('close').has('close')).toBe(true);
    expect(common.has('close')).toBe(false);
  });
});
