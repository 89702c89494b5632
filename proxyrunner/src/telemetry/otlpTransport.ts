// Sends encoded span batches (spanQueue.ts) to the OTLP endpoint through the official exporter
// plumbing of @opentelemetry/otlp-exporter-base (OTLP/HTTP) and otlp-grpc-exporter-base (gRPC),
// exactly as the SDK's OTLPTraceExporter classes build it: the same configuration (flags, then
// the standard OTEL_EXPORTER_OTLP_* variables), retries with backoff on retryable answers,
// export timeout, concurrency limit and partial-success handling. Only the serializer differs:
// the body is already encoded, so it passes through.
import { fs } from '../../../common/builtins.ts';
import tls from 'node:tls';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import type { ISerializer, IExportTraceServiceResponse } from '@opentelemetry/otlp-transformer';
import type { TelemetryConfig } from './config.ts';
import type { SpanTransport } from './spanQueue.ts';

/** One encoded export request and how many spans it carries (the exporter's own metrics count them). */
interface EncodedBatch {
  body: Uint8Array;
  spans: number;
}

const EXPORT_TIMEOUT_MS = 10_000;
const METRICS_HELPER = { name: 'span' as const, countItems: (batch: EncodedBatch) => batch.spans };

export async function createSpanTransport(config: TelemetryConfig): Promise<SpanTransport> {
  const transformer = await import('@opentelemetry/otlp-transformer');
  const ca = config.caFile ? fs.readFileSync(config.caFile, 'utf8') : undefined;
  const responses = config.protocol === 'http/json' ? transformer.JsonTraceSerializer : transformer.ProtobufTraceSerializer;
  const serializer: ISerializer<EncodedBatch, IExportTraceServiceResponse> = {
    serializeRequest: (batch) => batch.body,
    deserializeResponse: (data) => responses.deserializeResponse(data),
  };
  let delegate: IOtlpExportDelegate<EncodedBatch>;
  if (config.protocol === 'grpc') {
    const [base, grpc] = await Promise.all([import('@opentelemetry/otlp-grpc-exporter-base'), import('@grpc/grpc-js')]);
    const metadata = new grpc.Metadata();
    for (const [name, value] of Object.entries(config.headers)) metadata.set(name, value);
    const credentials =
      config.tracesUrl.protocol === 'https:'
        ? grpc.credentials.createSsl(ca ? Buffer.from([...tls.rootCertificates, ca].join('\n')) : null)
        : grpc.credentials.createInsecure();
    delegate = base.createOtlpGrpcExportDelegate(
      base.convertLegacyOtlpGrpcOptions({ url: config.tracesUrl.href, metadata, credentials, timeoutMillis: EXPORT_TIMEOUT_MS }, 'TRACES'),
      serializer,
      'otlp_grpc_span_exporter',
      METRICS_HELPER,
      undefined,
      'TraceExportService',
      '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    );
  } else {
    const base = await import('@opentelemetry/otlp-exporter-base/node-http');
    const contentType = config.protocol === 'http/json' ? 'application/json' : 'application/x-protobuf';
    delegate = base.createOtlpHttpExportDelegate(
      base.convertLegacyHttpOptions(
        {
          url: config.tracesUrl.href,
          headers: config.headers,
          timeoutMillis: EXPORT_TIMEOUT_MS,
          httpAgentOptions: { keepAlive: true, ...(ca ? { ca: [...tls.rootCertificates, ca] } : {}) },
        },
        'TRACES',
        'v1/traces',
        { 'Content-Type': contentType },
      ),
      serializer,
      config.protocol === 'http/json' ? 'otlp_http_json_span_exporter' : 'otlp_http_span_exporter',
      METRICS_HELPER,
      undefined,
    );
  }
  return {
    send: (body, spans, done) => delegate.export({ body, spans }, done),
    shutdown: () => delegate.shutdown(),
  };
}
