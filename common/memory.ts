// Sizing the V8 heap from a memory limit. V8's defaults assume a roomy machine: its
// young generation alone may take 32+ MiB of semi-spaces and the old generation grows
// lazily toward gigabytes, so a proxy that keeps nothing still climbs in RSS under churn.
// Sizing both from the container limit keeps the process flat and inside its cgroup.
import { fs } from './builtins.ts';

const MiB = 2 ** 20;

/** The cgroup (v2, else v1) memory limit of this process, or undefined when unlimited. */
export function cgroupMemoryLimit(read: (path: string) => string = (p) => fs.readFileSync(p, 'utf8')): number | undefined {
  for (const path of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    let text: string;
    try {
      text = read(path).trim();
    } catch {
      continue;
    }
    if (text === 'max') return undefined;
    const bytes = Number(text);
    // cgroup v1 reports "unlimited" as a huge page-aligned number.
    if (Number.isFinite(bytes) && bytes > 0 && bytes < 2 ** 60) return bytes;
  }
  return undefined;
}

export interface HeapSizing {
  maxOldSpaceMiB: number;
  maxSemiSpaceMiB: number;
}

/**
 * Heap sizes for a process that must live within `limitBytes` of RSS. What is not heap
 * (code, native buffers, socket memory, the runtime itself) needs roughly 40 MiB, so the
 * old generation gets 40% of the rest (a lower ceiling makes V8 collect before it grows), and semi-spaces stay small: scavenges get
 * more frequent but each is cheap because a proxy's objects die young. Measured with
 * bench:churn at 128Mi: 2 MiB semi-spaces hold peak RSS under 100 MiB in every mode
 * (4 MiB semi-spaces and a 44 MiB old space peaked at 106 MiB with 10k sessions held).
 */
export function heapSizing(limitBytes: number): HeapSizing {
  const limitMiB = Math.floor(limitBytes / MiB);
  const maxOldSpaceMiB = Math.max(16, Math.floor((limitMiB - 40) * 0.4));
  const maxSemiSpaceMiB = limitMiB <= 256 ? 2 : limitMiB <= 1024 ? 8 : 16;
  return { maxOldSpaceMiB, maxSemiSpaceMiB };
}

export function heapFlags(sizing: HeapSizing): string[] {
  return [`--max-old-space-size=${sizing.maxOldSpaceMiB}`, `--max-semi-space-size=${sizing.maxSemiSpaceMiB}`];
}
