import { describe, expect, it } from '@jest/globals';
import { operatorHeapFlags } from './memory.ts';

describe('operatorHeapFlags', () => {
  it('always keeps the young generation small', () => {
    expect(operatorHeapFlags(undefined)).toEqual(['--max-semi-space-size=2']);
  });

  it('caps the old generation below a memory limit, leaving room for what is not heap', () => {
    expect(operatorHeapFlags(256 * 2 ** 20)).toEqual(['--max-semi-space-size=2', '--max-old-space-size=156']);
    expect(operatorHeapFlags(1024 * 2 ** 20)).toEqual(['--max-semi-space-size=2', '--max-old-space-size=732']);
    expect(operatorHeapFlags(64 * 2 ** 20)).toEqual(['--max-semi-space-size=2', '--max-old-space-size=64']);
  });
});
