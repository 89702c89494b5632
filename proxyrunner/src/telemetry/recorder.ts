// The spans of traced requests: ids, times, attributes under limits, status, and the sampling
// decision, recorded for the encoder (otlpSpans.ts) and nothing more.
//
// Why not the SDK's TracerProvider and Span: measured in the proxy (bench:proxy --tracing,
// variants that skipped one part at a time), the SDK's span path alone, before any export, added
// about 18% CPU per proxied request, the whole budget for tracing: per span it builds a context,
// self-observability metric records, option objects and attribute copies, for features this
// proxy never uses (active context, span processors chains, events and links from
// instrumentation libraries). The proxy makes exactly two spans per request, so this keeps what
// they need and takes the rest from the official packages: the sampler (sdk-trace's
// ParentBasedSampler / TraceIdRatioBasedSampler, decided once per request at the server span;
// the client span follows its parent, as ParentBasedSampler decides for a local parent), the W3C
// propagator (core), the resource (resources) and the OTLP export plumbing (otlpTransport.ts).
// The spans it records encode to the same OTLP as the SDK's (otlpSpans.test.ts).
import {
  SpanKind,
  SpanStatusCode,
  trace,
  type AttributeValue,
  type Attributes,
  type Context,
  type HrTime,
  type SpanContext,
  type SpanStatus,
} from '@opentelemetry/api';
import { SamplingDecision, type IdGenerator, type Sampler } from '@opentelemetry/sdk-trace';
import type { EncodableSpan, SharedAttributes } from './otlpSpans.ts';

export interface RecorderLimits {
  attributeCountLimit: number;
  attributeValueLengthLimit: number;
}

const SAMPLED = 1;
const NOT_SAMPLED = 0;

/** A span of one traced request. Only sampled spans are recorded; the others carry a context to propagate and nothing else. */
export class RecordedSpan implements EncodableSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  readonly attributes: Attributes = {};
  droppedAttributesCount = 0;
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  startTime: HrTime;
  endTime: HrTime = [0, 0];
  readonly events = NO_EVENTS;
  readonly droppedEventsCount = 0;
  readonly links = NO_LINKS;
  readonly droppedLinksCount = 0;
  readonly sharedAttributes: SharedAttributes | undefined;
  readonly #context: SpanContext;
  readonly #recorder: SpanRecorder;
  readonly #startMs: number;
  #attributeCount = 0;
  #ended = false;

  constructor(
    recorder: SpanRecorder,
    name: string,
    kind: SpanKind,
    context: SpanContext,
    parent: SpanContext | undefined,
    shared: SharedAttributes | undefined,
  ) {
    this.#recorder = recorder;
    this.sharedAttributes = shared;
    this.#attributeCount = shared?.count ?? 0;
    this.name = name;
    this.kind = kind;
    this.#context = context;
    this.parentSpanContext = parent;
    this.#startMs = performance.now();
    this.startTime = hrTime(this.#startMs);
  }

  spanContext(): SpanContext {
    return this.#context;
  }

  /** Sampled: recorded and exported when it ends. */
  get recording(): boolean {
    return (this.#context.traceFlags & SAMPLED) !== 0;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (value === undefined || this.#ended || !this.recording) return this;
    const limits = this.#recorder.limits;
    if (this.sharedAttributes && Object.hasOwn(this.sharedAttributes.attributes, key)) return this; // set once for all spans
    if (!Object.hasOwn(this.attributes, key)) {
      if (this.#attributeCount >= limits.attributeCountLimit) {
        this.droppedAttributesCount += 1;
        return this;
      }
      this.#attributeCount += 1;
    }
    this.attributes[key] =
      typeof value === 'string' && value.length > limits.attributeValueLengthLimit ? value.slice(0, limits.attributeValueLengthLimit) : value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) if (Object.hasOwn(attributes, key)) this.setAttribute(key, attributes[key]);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (!this.#ended) this.status = status;
    return this;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.endTime = hrTime(performance.now());
    if (this.recording) this.#recorder.ended(this);
  }
}

const NO_EVENTS: [] = [];
const NO_LINKS: [] = [];

/** Epoch time from the monotonic clock (as the SDK takes it: timeOrigin + now), as [seconds, nanoseconds]. */
function hrTime(monotonicMs: number): HrTime {
  const ms = performance.timeOrigin + monotonicMs;
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6));
  return [seconds, nanos];
}

export class SpanRecorder {
  readonly limits: RecorderLimits;
  readonly #sampler: Sampler;
  readonly #ids: IdGenerator;
  readonly #onEnd: (span: RecordedSpan) => void;

  constructor(sampler: Sampler, ids: IdGenerator, limits: RecorderLimits, onEnd: (span: RecordedSpan) => void) {
    this.#sampler = sampler;
    this.#ids = ids;
    this.limits = limits;
    this.#onEnd = onEnd;
  }

  /** The span of a request arriving: a child of the trace context in `parent` (extracted from the client), else a new trace. The sampler decides. */
  startServer(name: string, parent: Context, shared?: SharedAttributes): RecordedSpan {
    const remote = trace.getSpanContext(parent);
    const valid = remote !== undefined && trace.isSpanContextValid(remote);
    const traceId = valid ? remote.traceId : this.#ids.generateTraceId();
    const result = this.#sampler.shouldSample(parent, traceId, name, SpanKind.SERVER, NO_ATTRIBUTES, NO_LINKS);
    const context: SpanContext = {
      traceId,
      spanId: this.#ids.generateSpanId(),
      traceFlags: result.decision === SamplingDecision.RECORD_AND_SAMPLED ? SAMPLED : NOT_SAMPLED,
      traceState: result.traceState ?? (valid ? remote.traceState : undefined),
    };
    const span = new RecordedSpan(this, name, SpanKind.SERVER, context, valid ? remote : undefined, shared);
    if (result.attributes) span.setAttributes(result.attributes);
    return span;
  }

  /** A span inside `parent` (same trace, sampled as the parent is: a local parent's decision holds for its children). */
  startChild(name: string, kind: SpanKind, parent: RecordedSpan, shared?: SharedAttributes): RecordedSpan {
    const of = parent.spanContext();
    const context: SpanContext = { traceId: of.traceId, spanId: this.#ids.generateSpanId(), traceFlags: of.traceFlags, traceState: of.traceState };
    return new RecordedSpan(this, name, kind, context, of, shared);
  }

  /** Called by a sampled span as it ends. */
  ended(span: RecordedSpan): void {
    this.#onEnd(span);
  }
}

const NO_ATTRIBUTES: Attributes = Object.freeze({});
