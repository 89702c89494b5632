// JSON (token claims, tool arguments) → Cedar's JSON value format, safely:
//   - integers become Long, other finite numbers `decimal` (Cedar has no floats), out of
//     range ones are dropped;
//   - arrays become sets, objects records, nesting deeper than MAX_DEPTH is dropped;
//   - null and unsupported values are dropped (Cedar has no null);
//   - record keys `__entity`, `__extn` and `__expr` are dropped: in Cedar's JSON format they
//     are escapes, so a claim holding one could otherwise smuggle an entity reference in.
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';

export const MAX_DEPTH = 10;
const ESCAPES = new Set(['__entity', '__extn', '__expr']);
/** Cedar decimals have four fractional digits and a 64-bit range. */
const DECIMAL_LIMIT = 922_337_203_685_477;

export function toCedarValue(value: unknown, depth = 0): CedarValueJson | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isSafeInteger(value)) return value;
      if (Number.isFinite(value) && Math.abs(value) < DECIMAL_LIMIT) return { __extn: { fn: 'decimal', arg: value.toFixed(4) } };
      return undefined;
    case 'object': {
      if (value === null || depth >= MAX_DEPTH) return undefined;
      if (Array.isArray(value)) {
        const set: CedarValueJson[] = [];
        for (const item of value) {
          const converted = toCedarValue(item, depth + 1);
          if (converted !== undefined) set.push(converted);
        }
        return set;
      }
      return toCedarRecord(value as Record<string, unknown>, depth + 1);
    }
    default:
      return undefined;
  }
}

export function toCedarRecord(value: Readonly<Record<string, unknown>>, depth = 0, prefix = ''): Record<string, CedarValueJson> {
  const out: Record<string, CedarValueJson> = {};
  for (const key of Object.keys(value)) {
    if (ESCAPES.has(key)) continue;
    const converted = toCedarValue(value[key], depth);
    if (converted !== undefined) out[prefix + key] = converted;
  }
  return out;
}

/**
 * Tool/prompt arguments as ToolHive exposes them: scalars as `arg_<name>`, anything
 * structured only as `arg_<name>_present: true` (policies test presence, not content).
 */
export function argumentAttributes(args: Readonly<Record<string, unknown>> | undefined): Record<string, CedarValueJson> {
  const out: Record<string, CedarValueJson> = {};
  if (!args) return out;
  for (const key of Object.keys(args)) {
    if (ESCAPES.has(key)) continue;
    const value = args[key];
    if (value === null || value === undefined) continue;
    if (typeof value === 'object') {
      out[`arg_${key}_present`] = true;
      continue;
    }
    const converted = toCedarValue(value);
    if (converted !== undefined) out[`arg_${key}`] = converted;
  }
  return out;
}
