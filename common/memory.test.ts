import { describe, expect, it } from '@jest/globals';
import { cgroupMemoryLimit, heapFlags, heapSizing } from './memory.ts';

const files =
  (map: Record<string, string>) =>
  (path: string): string => {
    const text = map[path];
    if (text === undefined) throw new Error('ENOENT');
    return text;
  };

describe('cgroupMemoryLimit', () => {
  it('reads cgroup v2', () => {
    expect(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory.max': '134217728\n' }))).toBe(134_217_728);
  });
  it('treats "max" as unlimited', () => {
    expect(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory.max': 'max\n' }))).toBeUndefined();
  });
  it('falls back to cgroup v1 and ignores its "unlimited" sentinel', () => {
    expect(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '268435456' }))).toBe(268_435_456);
    expect(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712' }))).toBeUndefined();
  });
  it('is undefined without cgroup files', () => {
    expect(cgroupMemoryLimit(files({}))).toBeUndefined();
  });
});

describe('heapSizing', () => {
  it('keeps a 128Mi pod well inside its limit', () => {
    const sizing = heapSizing(128 * 2 ** 20);
    expect(sizing.maxOldSpaceMiB).toBe(35);
    expect(sizing.maxSemiSpaceMiB).toBeLessThanOrEqual(4);
    expect(heapFlags(sizing)).toEqual([`--max-old-space-size=35`, `--max-semi-space-size=${sizing.maxSemiSpaceMiB}`]);
  });
  it('never goes below a workable old space and grows with the limit', () => {
    expect(heapSizing(32 * 2 ** 20).maxOldSpaceMiB).toBe(16);
    expect(heapSizing(2 * 2 ** 30).maxOldSpaceMiB).toBeGreaterThan(heapSizing(512 * 2 ** 20).maxOldSpaceMiB);
    expect(heapSizing(4 * 2 ** 30).maxSemiSpaceMiB).toBe(16);
  });
});
