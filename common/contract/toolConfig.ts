// The tool config (--tool-config): which tools a client sees and under which name, in the
// shape of ToolHive's MCPToolConfig spec (v1beta1 field names), JSON or YAML:
//   toolsFilter: [fetch, search]            # allow list; empty or absent = every tool
//   toolsOverride:
//     fetch:                                # the upstream's (actual) name
//       name: web_fetch                     # the name clients see and call
//       description: Fetch a URL            # replaces the upstream's description
//       annotations: {title: Fetch, readOnlyHint: true, destructiveHint: false,
//                     idempotentHint: true, openWorldHint: true}   # merged field by field
// A whole MCPToolConfig resource (`kind: MCPToolConfig`, `spec: {...}`) is read too, so the
// object the operator renders and the one a user keeps in git are the same text.
//
// The filter lists names as the client sees them (ToolHive's rule); an upstream name is
// accepted as well (ToolHive's own examples filter by upstream names they rename), so a
// tool passes when either of its names is listed. Empty strings mean "not overridden",
// as in ToolHive; an override must change something. Parsing is pure and strict: an
// unknown field, a wrong type or two tools renamed to one name is an error naming it. It is
// part of the operator↔proxyrunner contract: the operator checks an MCPToolConfig with this
// parser before rendering it (toolConfigFile) for the proxies, which load the file with it.
import { parse as parseYaml } from 'yaml';

export interface AnnotationsOverride {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface ToolOverride {
  /** The name clients see; undefined = the upstream's name. */
  name: string | undefined;
  description: string | undefined;
  annotations: AnnotationsOverride | undefined;
}

export interface ToolConfig {
  /** Allowed names (client or upstream); undefined = every tool. */
  readonly filter: ReadonlySet<string> | undefined;
  /** Upstream name → its override. */
  readonly overrides: ReadonlyMap<string, ToolOverride>;
  /** Client-visible new name → upstream name (renamed tools only). */
  readonly upstreamNameOf: ReadonlyMap<string, string>;
}

export class ToolConfigError extends Error {}

const ANNOTATION_FIELDS = {
  title: 'string',
  readOnlyHint: 'boolean',
  destructiveHint: 'boolean',
  idempotentHint: 'boolean',
  openWorldHint: 'boolean',
} as const;
const SPEC_FIELDS = new Set(['toolsFilter', 'toolsOverride']);
const OVERRIDE_FIELDS = new Set(['name', 'description', 'annotations']);
/** ToolHive's CRD limits nothing here; these keep one config from costing more than a list response. */
const MAX_TOOLS = 10_000;
const MAX_NAME_LENGTH = 256;
const MAX_DESCRIPTION_LENGTH = 64 * 1024;

/** Parses the text of a tool config file (JSON is YAML, so one parser reads both). */
export function parseToolConfig(text: string): ToolConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new ToolConfigError(`not valid JSON or YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) throw new ToolConfigError('the config is empty (give toolsFilter and/or toolsOverride)');
  let spec = object(doc, 'the config');
  if (spec.kind !== undefined || spec.spec !== undefined) {
    if (spec.kind !== undefined && spec.kind !== 'MCPToolConfig') throw new ToolConfigError(`kind must be MCPToolConfig (got ${JSON.stringify(spec.kind)})`);
    spec = object(spec.spec ?? {}, 'spec');
  }
  for (const key of Object.keys(spec)) {
    if (!SPEC_FIELDS.has(key)) throw new ToolConfigError(`unknown field ${JSON.stringify(key)} (expected toolsFilter, toolsOverride)`);
  }
  const filter = parseFilter(spec.toolsFilter);
  const overrides = new Map<string, ToolOverride>();
  const upstreamNameOf = new Map<string, string>();
  if (spec.toolsOverride !== undefined && spec.toolsOverride !== null) {
    const entries = Object.entries(object(spec.toolsOverride, 'toolsOverride'));
    if (entries.length > MAX_TOOLS) throw new ToolConfigError(`toolsOverride holds at most ${MAX_TOOLS} tools`);
    for (const [upstreamName, value] of entries) {
      const where = `toolsOverride.${upstreamName}`;
      name(upstreamName, `${where} (the key)`);
      const override = parseOverride(value, where);
      overrides.set(upstreamName, override);
      if (override.name === undefined || override.name === upstreamName) continue;
      const other = upstreamNameOf.get(override.name);
      if (other !== undefined) throw new ToolConfigError(`toolsOverride: ${other} and ${upstreamName} are both renamed to ${JSON.stringify(override.name)}`);
      upstreamNameOf.set(override.name, upstreamName);
    }
  }
  return { filter, overrides, upstreamNameOf };
}

function parseFilter(value: unknown): ReadonlySet<string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new ToolConfigError('toolsFilter must be a list of tool names');
  if (value.length > MAX_TOOLS) throw new ToolConfigError(`toolsFilter holds at most ${MAX_TOOLS} names`);
  value.forEach((item, i) => name(item, `toolsFilter[${i}]`));
  return value.length === 0 ? undefined : new Set(value as string[]);
}

function parseOverride(value: unknown, where: string): ToolOverride {
  const entry = object(value, where);
  for (const key of Object.keys(entry)) {
    if (!OVERRIDE_FIELDS.has(key)) throw new ToolConfigError(`${where}: unknown field ${JSON.stringify(key)} (expected name, description, annotations)`);
  }
  const newName = optionalString(entry.name, `${where}.name`);
  if (newName) name(newName, `${where}.name`);
  const description = optionalString(entry.description, `${where}.description`);
  if (description !== undefined && description.length > MAX_DESCRIPTION_LENGTH)
    throw new ToolConfigError(`${where}.description is longer than ${MAX_DESCRIPTION_LENGTH} characters`);
  let annotations: AnnotationsOverride | undefined;
  if (entry.annotations !== undefined && entry.annotations !== null) {
    const given = object(entry.annotations, `${where}.annotations`);
    const parsed: Record<string, string | boolean> = {};
    for (const [key, v] of Object.entries(given)) {
      const type = ANNOTATION_FIELDS[key as keyof typeof ANNOTATION_FIELDS];
      if (!type)
        throw new ToolConfigError(`${where}.annotations: unknown field ${JSON.stringify(key)} (expected ${Object.keys(ANNOTATION_FIELDS).join(', ')})`);
      if (v === null || v === undefined) continue;
      if (typeof v !== type) throw new ToolConfigError(`${where}.annotations.${key} must be a ${type}`);
      parsed[key] = v as string | boolean;
    }
    if (Object.keys(parsed).length > 0) annotations = parsed;
  }
  const override: ToolOverride = { name: newName || undefined, description: description || undefined, annotations };
  if (!override.name && !override.description && !override.annotations) throw new ToolConfigError(`${where}: give a name, a description or annotations`);
  return override;
}

function name(value: unknown, what: string): void {
  if (typeof value !== 'string' || value === '') throw new ToolConfigError(`${what} must be a non-empty tool name`);
  if (value.length > MAX_NAME_LENGTH) throw new ToolConfigError(`${what} is longer than ${MAX_NAME_LENGTH} characters`);
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ToolConfigError(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ToolConfigError(`${what} must be a string`);
  return value;
}

/** One line for logs: how many tools are filtered and overridden. */
export function describeToolConfig(config: ToolConfig): Record<string, unknown> {
  return { toolsFilter: config.filter?.size ?? 0, toolsOverride: config.overrides.size, renamed: config.upstreamNameOf.size };
}

/** The spec as the file the operator renders for --tool-config (JSON; only the two spec fields). */
export function toolConfigFile(spec: { toolsFilter?: unknown; toolsOverride?: unknown }): string {
  const file: Record<string, unknown> = {};
  if (spec.toolsFilter !== undefined) file.toolsFilter = spec.toolsFilter;
  if (spec.toolsOverride !== undefined) file.toolsOverride = spec.toolsOverride;
  return JSON.stringify(file);
}
