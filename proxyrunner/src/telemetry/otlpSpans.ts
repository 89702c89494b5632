// OTLP encoding of ended spans, one span at a time, into the body of one export request.
//
// Why not the SDK's BatchSpanProcessor and its exporters' serializers: they hold every ended
// span object until the batch is exported (up to a second), then walk them twice (a size
// estimate, then the write). Measured in the proxy (bench:proxy --tracing), holding and
// encoding were about a third of what tracing cost per request, and the held spans reached the
// old generation of the heap at the proxy's request rates, so the garbage collector paid again.
// Here a span is encoded the moment it ends (spanQueue.ts) and only its bytes wait: the span
// object dies young, and the bytes are what the queue's bound counts.
//
// The output is the same, byte for byte, as the SDK's own serializers (@opentelemetry/otlp-transformer
// ProtobufTraceSerializer and JsonTraceSerializer) for the same spans: fields, order, defaults
// (otlpSpans.test.ts checks it against them). One resource and one instrumentation scope per
// encoder: the proxy's tracer provider has exactly one of each.
import type { Attributes, HrTime, SpanContext } from '@opentelemetry/api';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { LEN, tag, varintSize, Writer } from './protobufWriter.ts';

/** What the encoders read of a span: the SDK's ReadableSpan has it, and so has recorder.ts's RecordedSpan. */
export type EncodableSpan = Pick<
  ReadableSpan,
  | 'name'
  | 'kind'
  | 'spanContext'
  | 'parentSpanContext'
  | 'startTime'
  | 'endTime'
  | 'attributes'
  | 'droppedAttributesCount'
  | 'events'
  | 'droppedEventsCount'
  | 'links'
  | 'droppedLinksCount'
  | 'status'
> & {
  /** Attributes every span of its kind carries alike, encoded once (sharedAttributes); written after the span's own. */
  readonly sharedAttributes?: SharedAttributes | undefined;
};

/** Attributes shared by many spans, with their encodings, made once. */
export interface SharedAttributes {
  readonly attributes: Readonly<Attributes>;
  readonly count: number;
  /** The span's KeyValue fields (Span field 9), protobuf. */
  readonly protobuf: Uint8Array;
}

export function sharedAttributes(attrs: Attributes): SharedAttributes {
  const w = new Writer(1024);
  attributes(w, 9, attrs);
  return { attributes: Object.freeze({ ...attrs }), count: Object.keys(attrs).length, protobuf: Buffer.from(w.take()) };
}

/** What the spans of one export share. */
export interface SpanSource {
  resource: { attributes: Attributes; schemaUrl?: string | undefined };
  scope: { name: string; version?: string | undefined; schemaUrl?: string | undefined };
}

/** Encodes ended spans into one export request body at a time. */
export interface SpanBatchEncoder {
  /** Spans added since the last take(). */
  readonly count: number;
  /** Bytes they take, encoded. */
  readonly byteLength: number;
  /** Encodes the span now; returns its encoded size. */
  add(span: EncodableSpan): number;
  /** The ExportTraceServiceRequest of the spans added since the last take(); the next batch starts empty. */
  take(): Uint8Array;
}

export type SpanEncoding = 'protobuf' | 'json';

export function spanBatchEncoder(encoding: SpanEncoding, source: SpanSource): SpanBatchEncoder {
  return encoding === 'protobuf' ? new ProtobufSpans(source) : new JsonSpans(source);
}

// ---------------------------------------------------------------- protobuf

const INT64_MIN = -(2 ** 63);
const INT64_LIMIT = 2 ** 63;

function anyValue(w: Writer, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.string(1, value);
      return;
    case 'boolean':
      w.uint(2, value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= INT64_MIN && value < INT64_LIMIT) w.uint(3, value);
      else w.double(4, value);
      return;
  }
  if (value instanceof Uint8Array) w.bytes(7, value);
  else if (Array.isArray(value)) {
    const array = w.open(5);
    for (const item of value as unknown[]) {
      const entry = w.open(1);
      anyValue(w, item);
      w.close(entry);
    }
    w.close(array);
  } else if (typeof value === 'object' && value !== null) {
    const list = w.open(6);
    for (const [key, item] of Object.entries(value)) {
      const entry = w.open(1);
      keyValue(w, key, item);
      w.close(entry);
    }
    w.close(list);
  }
}

function keyValue(w: Writer, key: string, value: unknown): void {
  w.raw(keyField(key));
  const any = w.open(2);
  anyValue(w, value);
  w.close(any);
}

/** The KeyValue.key field of a key, encoded once per key. */
function keyField(key: string): Uint8Array {
  let field = KEY_FIELDS.get(key);
  if (field === undefined) {
    const one = new Writer(key.length * 3 + 6);
    one.string(1, key);
    field = Buffer.from(one.take());
    // Attribute keys come from the code, a few dozen at most; the bound keeps a stray set of keys from growing it.
    if (KEY_FIELDS.size < MAX_KEY_FIELDS) KEY_FIELDS.set(key, field);
  }
  return field;
}

const KEY_FIELDS = new Map<string, Uint8Array>();
const MAX_KEY_FIELDS = 256;

function attributes(w: Writer, field: number, attrs: Attributes | undefined): void {
  if (!attrs) return;
  for (const key in attrs) {
    if (!Object.hasOwn(attrs, key)) continue;
    const value = attrs[key];
    if (typeof value === 'string' && value.length <= SHORT && shortTextAttribute(w, field, keyField(key), value)) continue;
    const entry = w.open(field);
    keyValue(w, key, value);
    w.close(entry);
  }
}

/** Text short enough that every length in its KeyValue fits one byte (with keys of up to 60 bytes). */
const SHORT = 60;

/**
 * The common attribute, short ASCII text, written in one pass: field tag, KeyValue length, the
 * cached key field, then AnyValue{string_value}. False (nothing written) if the text is not ASCII.
 */
function shortTextAttribute(w: Writer, field: number, key: Uint8Array, value: string): boolean {
  const chars = value.length;
  const entryLength = key.length + 4 + chars;
  if (entryLength > 127) return false;
  w.ensure(entryLength + 2);
  const buf = w.buf;
  const start = w.pos;
  let pos = start;
  buf[pos++] = tag(field, LEN);
  buf[pos++] = entryLength;
  for (let i = 0; i < key.length; i++) buf[pos++] = key[i]!;
  buf[pos++] = tag(2, LEN); // KeyValue.value
  buf[pos++] = chars + 2;
  buf[pos++] = tag(1, LEN); // AnyValue.string_value
  buf[pos++] = chars;
  for (let i = 0; i < chars; i++) {
    const code = value.charCodeAt(i);
    if (code > 127) return false;
    buf[pos++] = code;
  }
  w.pos = pos;
  return true;
}

// The flags of a span and a link: W3C trace flags, and whether the parent was remote (OTLP 1.1 bits).
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;
const spanFlags = (traceFlags: number, isRemote: boolean | undefined): number => (traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0);

function event(w: Writer, e: TimedEvent): void {
  const at = w.open(11);
  w.time(1, e.time);
  w.string(2, e.name);
  attributes(w, 3, e.attributes);
  w.uint(4, e.droppedAttributesCount ?? 0);
  w.close(at);
}

function link(w: Writer, l: ReadableSpan['links'][number]): void {
  const at = w.open(13);
  w.hex(1, l.context.traceId);
  w.hex(2, l.context.spanId);
  const state = l.context.traceState?.serialize();
  if (state) w.string(3, state);
  attributes(w, 4, l.attributes);
  w.uint(5, l.droppedAttributesCount ?? 0);
  w.fixed32(6, spanFlags(l.context.traceFlags, l.context.isRemote));
  w.close(at);
}

/** One Span message, as ScopeSpans field 2. */
function span(w: Writer, s: EncodableSpan): void {
  const at = w.open(2);
  const context: SpanContext = s.spanContext();
  w.hex(1, context.traceId);
  w.hex(2, context.spanId);
  const state = context.traceState?.serialize();
  if (state) w.string(3, state);
  const parent = s.parentSpanContext;
  if (parent?.spanId) w.hex(4, parent.spanId);
  w.string(5, s.name);
  const kind = s.kind + 1; // the API's INTERNAL is 0; OTLP keeps 0 for unspecified
  w.uint(6, kind);
  w.time(7, s.startTime);
  w.time(8, s.endTime);
  attributes(w, 9, s.attributes);
  if (s.sharedAttributes) w.raw(s.sharedAttributes.protobuf);
  w.uint(10, s.droppedAttributesCount);
  for (const e of s.events) event(w, e);
  w.uint(12, s.droppedEventsCount);
  for (const l of s.links) link(w, l);
  w.uint(14, s.droppedLinksCount);
  const status = w.open(15);
  if (s.status.message) w.string(2, s.status.message);
  w.uint(3, s.status.code);
  w.close(status);
  w.fixed32(16, spanFlags(context.traceFlags, parent?.isRemote));
  w.close(at);
}

class ProtobufSpans implements SpanBatchEncoder {
  #w = new Writer(64 * 1024);
  #count = 0;
  /** ResourceSpans field 1 (the resource), ScopeSpans field 1 (the scope), and their schema URLs. */
  #resource: Buffer;
  #resourceSchema: Buffer;
  #scope: Buffer;
  #scopeSchema: Buffer;

  constructor({ resource, scope }: SpanSource) {
    const w = new Writer(1024);
    const r = w.open(1);
    attributes(w, 1, resource.attributes);
    w.uint(2, 0);
    w.close(r);
    this.#resource = Buffer.from(w.take());
    this.#resourceSchema = schemaField(resource.schemaUrl);
    w.pos = 0;
    const s = w.open(1);
    w.string(1, scope.name);
    if (scope.version) w.string(2, scope.version);
    w.close(s);
    this.#scope = Buffer.from(w.take());
    this.#scopeSchema = schemaField(scope.schemaUrl);
  }

  get count(): number {
    return this.#count;
  }

  get byteLength(): number {
    return this.#w.pos;
  }

  add(s: EncodableSpan): number {
    const before = this.#w.pos;
    span(this.#w, s);
    this.#count += 1;
    return this.#w.pos - before;
  }

  take(): Uint8Array {
    const spans = this.#w.take();
    const scopeSpansLength = this.#scope.length + spans.length + this.#scopeSchema.length;
    const resourceSpansLength = this.#resource.length + 1 + varintSize(scopeSpansLength) + scopeSpansLength + this.#resourceSchema.length;
    const out = new Writer(1 + varintSize(resourceSpansLength) + resourceSpansLength);
    out.buf[out.pos++] = tag(1, LEN); // ExportTraceServiceRequest.resource_spans
    out.varint(resourceSpansLength);
    out.pos += this.#resource.copy(out.buf, out.pos);
    out.buf[out.pos++] = tag(2, LEN); // ResourceSpans.scope_spans
    out.varint(scopeSpansLength);
    out.pos += this.#scope.copy(out.buf, out.pos);
    out.pos += spans.copy(out.buf, out.pos);
    out.pos += this.#scopeSchema.copy(out.buf, out.pos);
    out.pos += this.#resourceSchema.copy(out.buf, out.pos);
    this.#w = new Writer(Math.max(4096, spans.length + (spans.length >>> 2)));
    this.#count = 0;
    return out.take();
  }
}

/** The schema_url field (3 in ResourceSpans and ScopeSpans), or nothing. */
function schemaField(url: string | undefined): Buffer {
  if (!url) return Buffer.alloc(0);
  const w = new Writer(url.length * 3 + 8);
  w.string(3, url);
  return Buffer.from(w.take());
}

// ---------------------------------------------------------------- JSON

// OTLP/JSON as the SDK writes it: ids in hex, times as decimal strings of nanoseconds.

type JsonValue = { stringValue: string } | { boolValue: boolean } | { intValue: number } | { doubleValue: number } | { bytesValue: string } | object;

function jsonValue(value: unknown): JsonValue {
  switch (typeof value) {
    case 'string':
      return { stringValue: value };
    case 'boolean':
      return { boolValue: value };
    case 'number':
      return Number.isInteger(value) ? { intValue: value } : { doubleValue: value };
  }
  if (value instanceof Uint8Array) return { bytesValue: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return { arrayValue: { values: (value as unknown[]).map(jsonValue) } };
  if (typeof value === 'object' && value !== null) return { kvlistValue: { values: Object.entries(value).map(([key, v]) => ({ key, value: jsonValue(v) })) } };
  return {};
}

const jsonAttributes = (attrs: Attributes | undefined): { key: string; value: JsonValue }[] =>
  attrs ? Object.keys(attrs).map((key) => ({ key, value: jsonValue(attrs[key]) })) : [];

const nanos = ([seconds, ns]: HrTime): string => (BigInt(Math.trunc(seconds)) * 1_000_000_000n + BigInt(Math.trunc(ns))).toString();

function jsonSpan(s: EncodableSpan): object {
  const context = s.spanContext();
  const parent = s.parentSpanContext;
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: parent?.spanId ? parent.spanId : undefined,
    traceState: context.traceState?.serialize(),
    name: s.name,
    kind: s.kind + 1,
    startTimeUnixNano: nanos(s.startTime),
    endTimeUnixNano: nanos(s.endTime),
    attributes: s.sharedAttributes ? [...jsonAttributes(s.attributes), ...jsonAttributes(s.sharedAttributes.attributes)] : jsonAttributes(s.attributes),
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.events.map((e) => ({
      attributes: jsonAttributes(e.attributes),
      name: e.name,
      timeUnixNano: nanos(e.time),
      droppedAttributesCount: e.droppedAttributesCount ?? 0,
    })),
    droppedEventsCount: s.droppedEventsCount,
    status: { code: s.status.code, message: s.status.message },
    links: s.links.map((l) => ({
      attributes: jsonAttributes(l.attributes),
      spanId: l.context.spanId,
      traceId: l.context.traceId,
      traceState: l.context.traceState?.serialize(),
      droppedAttributesCount: l.droppedAttributesCount ?? 0,
      flags: spanFlags(l.context.traceFlags, l.context.isRemote),
    })),
    droppedLinksCount: s.droppedLinksCount,
    flags: spanFlags(context.traceFlags, parent?.isRemote),
  };
}

class JsonSpans implements SpanBatchEncoder {
  #spans: string[] = [];
  #bytes = 0;
  #prefix: string;
  #suffix: string;

  constructor({ resource, scope }: SpanSource) {
    const resourceJson: Record<string, unknown> = { attributes: jsonAttributes(resource.attributes), droppedAttributesCount: 0 };
    if (resource.schemaUrl) resourceJson['schemaUrl'] = resource.schemaUrl;
    // The request around the spans, split where they go.
    const token = '\u0000spans\u0000';
    const marker = JSON.stringify(token);
    const request = JSON.stringify({
      resourceSpans: [
        {
          resource: resourceJson,
          scopeSpans: [{ scope: { name: scope.name, version: scope.version }, spans: [token], schemaUrl: scope.schemaUrl }],
          schemaUrl: resource.schemaUrl || undefined,
        },
      ],
    });
    const at = request.indexOf(marker);
    this.#prefix = request.slice(0, at);
    this.#suffix = request.slice(at + marker.length);
  }

  get count(): number {
    return this.#spans.length;
  }

  get byteLength(): number {
    return this.#bytes;
  }

  add(s: EncodableSpan): number {
    const json = JSON.stringify(jsonSpan(s));
    this.#spans.push(json);
    const size = Buffer.byteLength(json) + 1;
    this.#bytes += size;
    return size;
  }

  take(): Uint8Array {
    const body = Buffer.from(this.#prefix + this.#spans.join(',') + this.#suffix);
    this.#spans = [];
    this.#bytes = 0;
    return body;
  }
}
