// Protobuf's wire format, written straight into a growable buffer: what the OTLP span encoder
// (otlpSpans.ts) needs and no more (varints, fixed32/64, doubles, length-delimited fields whose
// length is filled in when they close). Text and ids take fast paths for the short ASCII and hex
// that make up nearly all of a span.

import type { HrTime } from '@opentelemetry/api';

/** Wire type of length-delimited fields; a field's tag is its number and wire type (field << 3 | wire). */
export const LEN = 2;
export const tag = (field: number, wire: number): number => (field << 3) | wire;

/** A growable byte buffer with protobuf's wire primitives. */
export class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(more: number): void {
    if (this.pos + more <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + more));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(value: number): void {
    this.ensure(10);
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 127) {
        this.buf[this.pos++] = (v & 127) | 128;
        v >>>= 7;
      }
      this.buf[this.pos++] = v;
      return;
    }
    // int64 as protobuf writes it: two's complement, ten bytes when negative.
    let low: number;
    let high: number;
    const abs = Math.abs(value);
    low = abs >>> 0;
    high = Math.floor(abs / 4294967296) >>> 0;
    if (value < 0) {
      low = ~low >>> 0;
      high = ~high >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 127) {
      this.buf[this.pos++] = (low & 127) | 128;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    this.buf[this.pos++] = low & 127;
  }

  /** Opens a length-delimited field: one byte is kept for its length, more are made room for at the end if needed. */
  open(field: number): number {
    this.ensure(2);
    this.buf[this.pos++] = tag(field, LEN);
    return this.pos++;
  }

  close(at: number): void {
    const length = this.pos - at - 1;
    const size = varintSize(length);
    if (size > 1) {
      this.ensure(size - 1);
      this.buf.copyWithin(at + size, at + 1, this.pos);
      this.pos += size - 1;
    }
    let v = length;
    let p = at;
    while (v > 127) {
      this.buf[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buf[p] = v;
  }

  string(field: number, value: string): void {
    const chars = value.length;
    this.ensure(chars * 3 + 6);
    this.buf[this.pos++] = tag(field, LEN);
    if (chars < 128) {
      // Short ASCII (nearly every attribute): its length is one byte, and a JS loop beats a
      // call into the runtime for a few dozen bytes.
      const buf = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < chars; i++) {
        const code = value.charCodeAt(i);
        if (code > 127) break;
        buf[start + i] = code;
      }
      if (i === chars) {
        buf[this.pos] = chars;
        this.pos = start + chars;
        return;
      }
    }
    const length = Buffer.byteLength(value);
    this.varint(length);
    this.pos += this.buf.write(value, this.pos, length, 'utf8');
  }

  /** Bytes encoded once (a cached field), copied in. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < bytes.length; i++) buf[pos++] = bytes[i]!;
    this.pos = pos;
  }

  /** A trace or span id: lowercase hex by the API's contract; were it not, its bytes stay zero (an invalid id). */
  hex(field: number, value: string): void {
    const length = value.length >>> 1;
    this.ensure(length + 2);
    const buf = this.buf;
    buf[this.pos++] = tag(field, LEN);
    buf[this.pos++] = length;
    for (let i = 0; i < length; i++) buf[this.pos++] = (nibble(value.charCodeAt(2 * i)) << 4) | nibble(value.charCodeAt(2 * i + 1));
  }

  uint(field: number, value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = tag(field, 0);
    this.varint(value);
  }

  fixed32(field: number, value: number): void {
    this.ensure(7);
    this.varint(tag(field, 5));
    this.buf.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  /** An HrTime [seconds, nanoseconds] as fixed64 nanoseconds, exactly (the product passes 2^53, so it is taken in parts). */
  time(field: number, [seconds, nanos]: HrTime): void {
    this.ensure(9);
    this.buf[this.pos++] = tag(field, 1);
    const lowSeconds = (seconds % 65536) * 1e9; // < 2^46: exact
    const highSeconds = Math.floor(seconds / 65536) * 1e9; // times 2^16, < 2^46: exact
    const spill = highSeconds % 65536;
    let low = (lowSeconds % 4294967296) + spill * 65536 + nanos;
    const high = Math.floor(lowSeconds / 4294967296) + (highSeconds - spill) / 65536 + Math.floor(low / 4294967296);
    low %= 4294967296;
    this.buf.writeUInt32LE(low, this.pos);
    this.buf.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  double(field: number, value: number): void {
    this.ensure(9);
    this.buf[this.pos++] = tag(field, 1);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  bytes(field: number, value: Uint8Array): void {
    this.ensure(value.length + 6);
    this.buf[this.pos++] = tag(field, LEN);
    this.varint(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  take(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** The value of one hex digit (0 for anything else). */
function nibble(code: number): number {
  return code < 128 ? NIBBLES[code]! : 0;
}

const NIBBLES = new Uint8Array(128);
for (let i = 0; i < 16; i++) {
  NIBBLES[i.toString(16).charCodeAt(0)] = i;
  NIBBLES[i.toString(16).toUpperCase().charCodeAt(0)] = i;
}

export function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}
