import { describe, expect, it } from '@jest/globals';
import { startBufferCollector } from './overload.ts';

describe('buffer collector', () => {
  it('collects when ArrayBuffer memory grows past what the last collection left, no more often than allowed', () => {
    let buffers = 10;
    let live = 20;
    const collector = startBufferCollector({ thresholdBytes: 100, arrayBuffers: () => buffers, gc: () => void (buffers = live), sampleEveryMs: 3_600_000 });
    try {
      collector.check(0);
      expect(collector.collections).toBe(0);
      buffers = 150;
      collector.check(1_000);
      expect([collector.collections, buffers]).toEqual([1, 20]);
      buffers = 150;
      collector.check(1_100); // too soon
      expect(collector.collections).toBe(1);
      collector.check(1_300);
      expect(collector.collections).toBe(2);
      // Live buffers survive a collection; only growth beyond them triggers the next one.
      live = 90;
      buffers = 150;
      collector.check(2_000);
      expect([collector.collections, buffers]).toEqual([3, 90]);
      buffers = 150;
      collector.check(3_000);
      expect(collector.collections).toBe(3);
      buffers = 200;
      collector.check(4_000);
      expect(collector.collections).toBe(4);
    } finally {
      collector.stop();
    }
  });

  it('does nothing without a collector (no --expose-gc)', () => {
    const collector = startBufferCollector({ thresholdBytes: 0, arrayBuffers: () => 1e9, gc: undefined, sampleEveryMs: 3_600_000 });
    collector.check(0);
    expect(collector.collections).toBe(0);
    collector.stop();
  });
});
