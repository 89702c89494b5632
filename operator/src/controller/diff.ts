// Does a desired child need a write? Server-side apply asserts only the fields the operator
// sets, so this checks exactly that, and nothing else:
//   - the object exists,
//   - its applied-hash annotation is the desired one (a spec change always writes; this
//     also covers fields the operator stopped setting, which only an apply removes),
//   - every field of the desired object has the same value in the observed one (an edit of
//     an operator-owned field by someone else writes again: drift is healed).
// Fields others add (defaults, status, annotations, extra containers) are ignored, as SSA
// would keep them anyway. Values the apiserver normalises are compared semantically.
import { APPLIED_HASH_ANNOTATION } from '../builders/meta.ts';
import { isPlainObject } from '../builders/canonical.ts';
import type { DesiredObject, KubeObject } from '../../../common/kube/kinds.ts';

export type ApplyDecision = { apply: false } | { apply: true; reason: string };

export function needsApply(desired: DesiredObject, observed: KubeObject | undefined): ApplyDecision {
  if (observed === undefined) return { apply: true, reason: 'missing' };
  const want = desired.metadata.annotations?.[APPLIED_HASH_ANNOTATION];
  const have = observed.metadata.annotations?.[APPLIED_HASH_ANNOTATION];
  if (want !== have) return { apply: true, reason: 'changed' };
  const drift = firstDifference(desired, observed, '');
  if (drift !== undefined) return { apply: true, reason: `drifted at ${drift}` };
  return { apply: false };
}

/** The path of the first desired field the observed object does not match, or undefined. */
export function firstDifference(desired: unknown, observed: unknown, path: string): string | undefined {
  if (isPlainObject(desired)) {
    if (observed === undefined && Object.keys(desired).length === 0) return undefined;
    if (!isPlainObject(observed)) return path || '.';
    for (const [key, value] of Object.entries(desired)) {
      const diff = firstDifference(value, observed[key], `${path}.${key}`);
      if (diff !== undefined) return diff;
    }
    return undefined;
  }
  if (Array.isArray(desired)) {
    if (desired.length === 0) return observed === undefined || (Array.isArray(observed) && observed.length === 0) ? undefined : path;
    if (!Array.isArray(observed)) return path;
    const byName = namedElements(desired);
    if (byName) {
      // Lists keyed by name merge under SSA: others may add elements; ours must match.
      for (const [name, element] of byName) {
        const match: unknown = observed.find((o) => isPlainObject(o) && o['name'] === name);
        if (match === undefined) return `${path}[name=${name}]`;
        const diff = firstDifference(element, match, `${path}[name=${name}]`);
        if (diff !== undefined) return diff;
      }
      return undefined;
    }
    if (observed.length !== desired.length) return path;
    for (let i = 0; i < desired.length; i++) {
      const diff = firstDifference(desired[i], observed[i], `${path}[${i}]`);
      if (diff !== undefined) return diff;
    }
    return undefined;
  }
  return scalarEqual(desired, observed, path) ? undefined : path;
}

/** Elements by their `name` when every element has a distinct string name. */
function namedElements(list: readonly unknown[]): Map<string, unknown> | undefined {
  const map = new Map<string, unknown>();
  for (const element of list) {
    if (!isPlainObject(element) || typeof element['name'] !== 'string' || map.has(element['name'])) return undefined;
    map.set(element['name'], element);
  }
  return map;
}

const RESOURCE_PATH = /\.resources\.(limits|requests)\.[^.]+$/;

function scalarEqual(desired: unknown, observed: unknown, path: string): boolean {
  if (desired === observed) return true;
  // Go's omitempty drops false, 0 and "" from what the apiserver returns.
  if (observed === undefined && (desired === false || desired === 0 || desired === '')) return true;
  if (RESOURCE_PATH.test(path) && (typeof desired === 'string' || typeof desired === 'number')) {
    const a = parseQuantity(String(desired));
    const b = typeof observed === 'string' || typeof observed === 'number' ? parseQuantity(String(observed)) : undefined;
    return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-12;
  }
  return false;
}

const SUFFIX: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The numeric value of a Kubernetes quantity ("500m" -> 0.5, "1Gi" -> 1073741824, "1e3" -> 1000). */
export function parseQuantity(text: string): number | undefined {
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|([KMGTPE]i|[numkMGTPE])?)$/.exec(text.trim());
  if (!match) return undefined;
  const base = Number(match[1]);
  if (match[2] !== undefined) return Number(`${match[1]}${match[2]}`);
  const factor = SUFFIX[match[3] ?? ''];
  return factor === undefined ? undefined : base * factor;
}

/**
 * `base` with every field of `desired` written over it: maps merge, lists of named elements
 * merge by name (elements others added stay), other lists and scalars take the desired value.
 * Used to repair an object in place when server-side apply cannot.
 */
export function overlay(base: unknown, desired: unknown): unknown {
  if (isPlainObject(desired)) {
    const out: Record<string, unknown> = isPlainObject(base) ? { ...base } : {};
    for (const [key, value] of Object.entries(desired)) out[key] = overlay(out[key], value);
    return out;
  }
  if (Array.isArray(desired)) {
    const named = namedElements(desired);
    if (named === undefined || !Array.isArray(base)) return structuredClone(desired);
    const out: unknown[] = base.map((element: unknown) => {
      const name = isPlainObject(element) ? element['name'] : undefined;
      return typeof name === 'string' && named.has(name) ? overlay(element, named.get(name)) : element;
    });
    for (const [name, element] of named) {
      if (!base.some((b) => isPlainObject(b) && b['name'] === name)) out.push(structuredClone(element));
    }
    return out;
  }
  return desired;
}
