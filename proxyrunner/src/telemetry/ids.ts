// Trace and span ids for the proxy's tracer provider. The SDK's RandomIdGenerator draws each id
// from Math.random into a shared buffer and hex-encodes it, one call into the runtime per id
// (three per traced request: a trace id and two span ids). Here ids are cut from a pool of hex
// text filled from the system's CSPRNG 4 KiB at a time: one hex encoding per 256 span ids, and
// ids no one can predict from earlier ones.
import { randomFillSync } from 'node:crypto';
import type { IdGenerator } from '@opentelemetry/sdk-trace';

const POOL_BYTES = 4096;

export class PooledIdGenerator implements IdGenerator {
  #bytes = Buffer.allocUnsafe(POOL_BYTES);
  #hex = '';
  #at = 0;

  generateTraceId(): string {
    return this.#next(32);
  }

  generateSpanId(): string {
    return this.#next(16);
  }

  #next(chars: number): string {
    for (;;) {
      if (this.#at + chars > this.#hex.length) {
        this.#hex = randomFillSync(this.#bytes).toString('hex');
        this.#at = 0;
      }
      const id = this.#hex.slice(this.#at, this.#at + chars);
      this.#at += chars;
      // All zeros is the invalid id (W3C trace context): draw again (one chance in 2^64 or 2^128).
      if (id.charCodeAt(0) !== ZERO || !ALL_ZERO.test(id)) return id;
    }
  }
}

const ZERO = 0x30;
const ALL_ZERO = /^0+$/;
