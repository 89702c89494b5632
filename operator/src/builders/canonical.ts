// Deterministic JSON: object keys sorted at every depth (lists keep their order), so the
// same input always yields byte-identical objects and the same sha256.
import { createHash } from 'node:crypto';

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A deep copy with every object's keys sorted and undefined values dropped. */
export function canonicalize<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => canonicalize(v)) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = value[key];
      if (v !== undefined) out[key] = canonicalize(v);
    }
    return out as T;
  }
  return value;
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonicalize(value));
}

export function sha256(value: unknown): string {
  return sha256Canonical(canonicalize(value));
}

/** sha256 of a value that is already canonical (canonicalize's output): the same hash as sha256, without sorting again. */
export function sha256Canonical(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
