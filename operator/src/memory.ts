// V8 heap sizing for the operator. Its garbage is short-lived (one reconcile's desired
// objects, one watch event) and its live heap small (the caches: about 50 MiB for 1,000
// MCPServers), but V8's default young generation (16 MiB semi-spaces) lets resident memory
// climb far above that: measured with 1,000 MCPServers, peak RSS 176-239 MiB with the
// defaults and 126 MiB with 2 MiB semi-spaces, for the same CPU time. With a memory limit
// (the container's, or --memory-limit), the old generation is capped below it as well.
const MiB = 2 ** 20;

export const SEMI_SPACE_MIB = 2;

export function operatorHeapFlags(limitBytes: number | undefined): string[] {
  const flags = [`--max-semi-space-size=${SEMI_SPACE_MIB}`];
  if (limitBytes !== undefined) {
    // What is not heap (code, buffers, sockets, the runtime) needs about 48 MiB.
    const oldSpace = Math.max(64, Math.floor((limitBytes / MiB - 48) * 0.75));
    flags.push(`--max-old-space-size=${oldSpace}`);
  }
  return flags;
}
