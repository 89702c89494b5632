import { describe, expect, it } from '@jest/globals';
import { WorkQueue } from './queue.ts';

/** A controllable piece of work: resolves or rejects when the test says so. */
function gate(): { promise: Promise<void>; open: () => void; fail: (e: Error) => void } {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('WorkQueue', () => {
  it('processes each key added several times while queued only once', async () => {
    const seen: string[] = [];
    const q = new WorkQueue({ concurrency: 1, process: async (k) => void seen.push(k) });
    for (const k of ['a', 'b', 'a', 'a', 'c', 'b']) q.add(k);
    expect(q.depth()).toBe(3);
    q.start();
    await q.drained();
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('takes high-lane keys first, moves a queued key up once, and never runs it twice', async () => {
    const seen: string[] = [];
    const q = new WorkQueue({ concurrency: 1, process: async (k) => void seen.push(k) });
    for (const k of ['new1', 'new2', 'new3', 'running1']) q.add(k);
    q.add('pods-ready', 'high');
    q.add('new3', 'high'); // its pods changed while it waited: moves up
    q.add('new3', 'normal'); // does not move back down
    q.add('pods-ready', 'high');
    expect(q.depth()).toBe(5);
    q.start();
    await q.drained();
    expect(seen).toEqual(['pods-ready', 'new3', 'new1', 'new2', 'running1']);
  });

  it('re-queues a key added while in flight in the higher of the lanes asked for', async () => {
    const seen: string[] = [];
    const first = gate();
    const q = new WorkQueue({
      concurrency: 1,
      process: async (k) => {
        seen.push(k);
        if (k === 'a' && seen.length === 1) await first.promise;
      },
    });
    q.add('a');
    q.add('b');
    q.start();
    await tick();
    q.add('a', 'high');
    q.add('a', 'normal');
    first.open();
    await q.drained();
    expect(seen).toEqual(['a', 'a', 'b']);
  });

  it('never runs one key twice at once; a key added while in flight runs once more afterwards', async () => {
    const gates = [gate(), gate()];
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const q = new WorkQueue({
      concurrency: 4,
      process: async () => {
        const g = gates[calls++] as ReturnType<typeof gate>;
        running++;
        maxRunning = Math.max(maxRunning, running);
        await g.promise;
        running--;
      },
    });
    q.start();
    q.add('k');
    await tick();
    q.add('k');
    q.add('k');
    await tick();
    expect(calls).toBe(1);
    gates[0]?.open();
    await tick();
    await tick();
    expect(calls).toBe(2);
    gates[1]?.open();
    await q.drained();
    expect(calls).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it('runs at most `concurrency` keys at a time', async () => {
    const gates = new Map<string, ReturnType<typeof gate>>();
    let running = 0;
    let maxRunning = 0;
    const q = new WorkQueue({
      concurrency: 3,
      process: async (k) => {
        const g = gate();
        gates.set(k, g);
        running++;
        maxRunning = Math.max(maxRunning, running);
        await g.promise;
        running--;
      },
    });
    q.start();
    for (let i = 0; i < 10; i++) q.add(`k${i}`);
    await tick();
    expect(q.inFlight()).toBe(3);
    expect(q.depth()).toBe(7);
    while (gates.size > 0) {
      for (const [k, g] of [...gates]) {
        gates.delete(k);
        g.open();
      }
      await tick();
      await tick();
    }
    await q.drained();
    expect(maxRunning).toBe(3);
  });

  it('retries a failing key with exponentially growing delays and resets after a success', async () => {
    let attempts = 0;
    const delays: number[] = [];
    const q = new WorkQueue({
      concurrency: 1,
      baseDelayMs: 1,
      maxDelayMs: 4,
      process: async () => {
        attempts++;
        if (attempts <= 4) throw new Error(`fail ${attempts}`);
      },
      onDone: (key, result) => {
        if (result === 'error') delays.push(q.failuresOf(key));
      },
    });
    q.start();
    q.add('k');
    while (attempts < 5) await new Promise((r) => setTimeout(r, 5));
    await q.drained();
    expect(delays).toEqual([1, 2, 3, 4]);
    expect(q.failuresOf('k')).toBe(0);
  });

  it('computes the per-key delays base * 2^(n-1), capped', () => {
    const q = new WorkQueue({ concurrency: 1, baseDelayMs: 100, maxDelayMs: 1000, process: async () => {} });
    expect([1, 2, 3, 4, 5, 6].map(() => q.addRateLimited('k'))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(q.addRateLimited('other')).toBe(100);
    q.forget('k');
    expect(q.addRateLimited('k')).toBe(100);
    void q.stop();
  });

  it('keeps only the earliest schedule of a key', async () => {
    const seen: string[] = [];
    const q = new WorkQueue({ concurrency: 1, process: async (k) => void seen.push(k) });
    q.start();
    q.addAfter('k', 60_000);
    q.addAfter('k', 1);
    q.addAfter('k', 30_000);
    expect(q.scheduled()).toBe(1);
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 2));
    expect(seen).toEqual(['k']);
    expect(q.scheduled()).toBe(0);
    await q.stop();
  });

  it('stop() waits for work in flight and takes no more keys', async () => {
    const g = gate();
    const seen: string[] = [];
    const q = new WorkQueue({
      concurrency: 1,
      process: async (k) => {
        seen.push(k);
        await g.promise;
      },
    });
    q.start();
    q.add('a');
    q.add('b');
    await tick();
    let stopped = false;
    const stopping = q.stop().then(() => {
      stopped = true;
    });
    await tick();
    expect(stopped).toBe(false);
    g.open();
    await stopping;
    expect(seen).toEqual(['a']);
    // Restartable (a replica that becomes leader again).
    q.start();
    await q.drained();
    expect(seen).toEqual(['a', 'b']);
  });

  it('typed keys: equal ids are one key (queued, failures, retries), and process gets the key object', async () => {
    type Key = { namespace: string; name: string };
    const seen: Key[] = [];
    const q = new WorkQueue<Key>({ concurrency: 1, keyId: (k) => `${k.namespace}/${k.name}`, process: async (k) => void seen.push(k) });
    q.add({ namespace: 'n', name: 'a' });
    q.add({ namespace: 'n', name: 'a' }, 'high');
    q.add({ namespace: 'm', name: 'a' });
    expect(q.depth()).toBe(2);
    q.addRateLimited({ namespace: 'n', name: 'b' });
    expect(q.failuresOf({ namespace: 'n', name: 'b' })).toBe(1);
    q.forget({ namespace: 'n', name: 'b' });
    expect(q.failuresOf({ namespace: 'n', name: 'b' })).toBe(0);
    expect(q.scheduled()).toBe(1);
    q.start();
    await q.drained();
    expect(seen).toEqual([
      { namespace: 'n', name: 'a' },
      { namespace: 'm', name: 'a' },
    ]);
    await q.stop();
  });
});
