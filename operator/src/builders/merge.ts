// A small strategic merge for pod templates (the semantics of `kubectl patch --type
// strategic` for the fields people override): maps merge recursively, null deletes a key,
// lists of containers/volumes/env/... merge element-wise by their merge key (an element
// with `$patch: delete` removes its match), and every other list is replaced.
import { isPlainObject } from './canonical.ts';

/** The merge key of each list field that merges rather than replaces (as in k8s.io/api). */
export const MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  hostAliases: 'ip',
  resourceClaims: 'name',
  schedulingGates: 'name',
  topologySpreadConstraints: 'topologyKey',
};

function clone<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}

/** Returns base with patch merged in; neither argument is modified. */
export function strategicMerge(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch) || !isPlainObject(base)) return clone(patch);
  const out: Record<string, unknown> = clone(base);
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch') continue;
    if (value === null) {
      delete out[key];
      continue;
    }
    const current = out[key];
    const mergeKey = MERGE_KEYS[key];
    if (mergeKey !== undefined && Array.isArray(value) && (Array.isArray(current) || current === undefined)) {
      out[key] = mergeList(current ?? [], value, mergeKey);
    } else if (isPlainObject(value) && isPlainObject(current)) {
      out[key] = strategicMerge(current, value);
    } else {
      out[key] = stripDirectives(clone(value));
    }
  }
  return out;
}

function mergeList(base: readonly unknown[], patch: readonly unknown[], mergeKey: string): unknown[] {
  const out = base.map((item) => clone(item));
  for (const item of patch) {
    const key = isPlainObject(item) ? item[mergeKey] : undefined;
    const index = key === undefined ? -1 : out.findIndex((b) => isPlainObject(b) && b[mergeKey] === key);
    const remove = isPlainObject(item) && item['$patch'] === 'delete';
    if (remove) {
      if (index >= 0) out.splice(index, 1);
    } else if (index >= 0) {
      out[index] = strategicMerge(out[index], item);
    } else {
      out.push(stripDirectives(clone(item)));
    }
  }
  return out;
}

/** Directive keys and null values have no meaning in a value that is added rather than merged. */
function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => !(isPlainObject(v) && v['$patch'] === 'delete')).map(stripDirectives);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === '$patch' || v === null) continue;
      out[k] = stripDirectives(v);
    }
    return out;
  }
  return value;
}
