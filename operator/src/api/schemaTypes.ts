// A small, typed subset of the Kubernetes structural OpenAPI v3 schema. SchemaFor<T> maps a
// TypeScript type to the schema node it needs, so that the schema literal in schema.ts
// must name every field of the API types (no more, no fewer), list exactly the required
// ones, give string unions an enum, and describe every node. Types and CRD cannot drift.

export type ValidationReason = 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueDuplicate';

/** An x-kubernetes-validations (CEL) rule. */
export interface Rule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: ValidationReason;
}

interface Base {
  /** Shown by `kubectl explain`; mandatory on every node. */
  description: string;
  'x-kubernetes-validations'?: readonly Rule[];
}

export type StringSchema<V extends string> = Base & {
  type: 'string';
  default?: V;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  format?: 'date-time';
} & (string extends V ? { enum?: never } : { enum: readonly V[] });

export interface IntegerSchema extends Base {
  type: 'integer';
  format: 'int32' | 'int64';
  minimum?: number;
  maximum?: number;
  default?: number;
}

export interface BooleanSchema extends Base {
  type: 'boolean';
  default?: boolean;
}

export interface IntOrStringSchema extends Base {
  anyOf: readonly [{ type: 'integer' }, { type: 'string' }];
  'x-kubernetes-int-or-string': true;
  pattern?: string;
}

export interface ArraySchema<E> extends Base {
  type: 'array';
  items: SchemaFor<E>;
  minItems?: number;
  maxItems?: number;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: readonly string[];
}

/** Keys of T that are not optional. */
export type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

export type ObjectSchema<T> = Base & {
  type: 'object';
  properties: { [K in keyof T]-?: SchemaFor<Exclude<T[K], undefined>> };
  maxProperties?: number;
} & ([RequiredKeys<T>] extends [never]
    ? { required?: never }
    : // An object rather than an array so the compiler can demand every required key.
      { required: { [K in RequiredKeys<T>]: true } });

/** An object whose content the apiserver keeps as given (podTemplateSpec). */
export interface FreeformSchema extends Base {
  type: 'object';
  'x-kubernetes-preserve-unknown-fields': true;
}

export type SchemaFor<V> = [V] extends [boolean]
  ? BooleanSchema
  : [V] extends [string]
    ? StringSchema<V>
    : [V] extends [number]
      ? IntegerSchema
      : [V] extends [string | number]
        ? IntOrStringSchema
        : [V] extends [readonly (infer E)[]]
          ? ArraySchema<E>
          : [V] extends [object]
            ? string extends keyof V
              ? FreeformSchema
              : ObjectSchema<V>
            : never;

/** Any node, for walking the tree. */
export interface AnySchema {
  description?: string;
  type?: string;
  properties?: Record<string, AnySchema>;
  items?: AnySchema;
  required?: Record<string, true> | readonly string[];
  enum?: readonly unknown[];
  default?: unknown;
  anyOf?: readonly unknown[];
  'x-kubernetes-validations'?: readonly Rule[];
  [key: string]: unknown;
}

/**
 * The JSON Schema the apiserver wants: `required` becomes a list (in declaration order of
 * the properties), everything else is copied as is.
 */
export function toOpenAPI(node: AnySchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (value === undefined) continue;
    if (key === 'properties') {
      const props: Record<string, unknown> = {};
      for (const [name, child] of Object.entries(value as Record<string, AnySchema>)) props[name] = toOpenAPI(child);
      out[key] = props;
    } else if (key === 'items') {
      out[key] = toOpenAPI(value as AnySchema);
    } else if (key === 'required') {
      const req = value as Record<string, true> | readonly string[];
      const names: string[] = Array.isArray(req) ? [...(req as readonly string[])] : Object.keys(req);
      const order = Object.keys(node.properties ?? {});
      out[key] = names.sort((a, b) => order.indexOf(a) - order.indexOf(b));
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Paths of nodes that lack a description (should be none). */
export function undocumented(node: AnySchema, path = ''): string[] {
  const missing: string[] = [];
  if (typeof node.description !== 'string' || node.description.trim() === '') missing.push(path || '.');
  for (const [name, child] of Object.entries(node.properties ?? {})) missing.push(...undocumented(child, `${path}.${name}`));
  if (node.items) missing.push(...undocumented(node.items, `${path}[]`));
  return missing;
}
