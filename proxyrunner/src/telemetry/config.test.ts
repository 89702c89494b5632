import { describe, expect, it } from '@jest/globals';
import { parseConfig, UsageError, type ProxyConfig } from '../config.ts';
import { keyValues, tracesUrl } from './config.ts';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}): ProxyConfig => {
  const config = parseConfig([...argv, '--', 'server'], env);
  if (config === 'help') throw new Error('unexpected help');
  return config;
};

describe('telemetry flags', () => {
  it('leave tracing off without an endpoint, or with --otel-tracing-enabled=false', () => {
    expect(parse([]).telemetry).toBeUndefined();
    expect(parse(['--otel-endpoint', 'collector:4318', '--otel-tracing-enabled=false']).telemetry).toBeUndefined();
  });

  it('leave OTLP metrics off unless --otel-metrics-enabled with an endpoint; then /v1/metrics every 60s', () => {
    expect(parse(['--otel-endpoint', 'collector:4318']).otlpMetrics).toBeUndefined();
    expect(parse(['--otel-metrics-enabled']).otlpMetrics).toBeUndefined();
    const both = parse(['--otel-endpoint', 'collector:4318', '--otel-insecure', '--otel-metrics-enabled', '--otel-service-name', 'web']);
    expect(both.otlpMetrics).toMatchObject({ metricsUrl: new URL('http://collector:4318/v1/metrics'), intervalMs: 60_000, serviceName: 'web' });
    expect(both.telemetry).toBeDefined();
    const metricsOnly = parse([
      '--otel-endpoint',
      'https://otlp.example/base/v1/traces',
      '--otel-tracing-enabled=false',
      '--otel-metrics-enabled',
      '--otel-metrics-interval',
      '15s',
    ]);
    expect(metricsOnly.telemetry).toBeUndefined();
    expect(metricsOnly.otlpMetrics).toMatchObject({ metricsUrl: new URL('https://otlp.example/base/v1/metrics'), intervalMs: 15_000 });
  });

  it('refuse OTLP metrics over gRPC and an export interval under 1s', () => {
    expect(() => parse(['--otel-endpoint', 'collector:4317', '--otel-protocol', 'grpc', '--otel-metrics-enabled'])).toThrow(UsageError);
    expect(() => parse(['--otel-endpoint', 'collector:4318', '--otel-metrics-enabled', '--otel-metrics-interval', '500ms'])).toThrow(/at least 1s/);
  });

  it('take http/json from the flag or the standard OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL; metrics stay OTLP/HTTP protobuf beside it', () => {
    expect(parse(['--otel-endpoint', 'c:4318', '--otel-protocol', 'http/json']).telemetry?.protocol).toBe('http/json');
    expect(parse(['--otel-endpoint', 'c:4318'], { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).telemetry?.protocol).toBe('http/json');
    const both = { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' };
    expect(parse(['--otel-endpoint', 'c:4318'], both).telemetry?.protocol).toBe('http/json');
    expect(parse(['--otel-endpoint', 'c:4318', '--otel-protocol', 'http/protobuf'], both).telemetry?.protocol).toBe('http/protobuf');
    const metrics = parse(['--otel-endpoint', 'c:4318', '--otel-insecure', '--otel-protocol', 'http/json', '--otel-metrics-enabled']).otlpMetrics;
    expect(metrics?.metricsUrl.href).toBe('http://c:4318/v1/metrics');
  });

  it('turn tracing on with an endpoint, with ToolHive-like defaults', () => {
    expect(parse(['--otel-endpoint', 'collector:4318', '--otel-insecure']).telemetry).toMatchObject({
      tracesUrl: new URL('http://collector:4318/v1/traces'),
      protocol: 'http/protobuf',
      samplingRate: 0.1,
      serviceName: 'mcpfleet-proxyrunner',
      sessionId: 'hashed',
      headers: {},
    });
  });

  it('read secret header values from the environment variables named, never from argv', () => {
    const config = parse(['--otel-endpoint', 'https://otlp.example:443', '--otel-headers', 'x-team=a', '--otel-headers-from-env', 'authorization=OTEL_AUTH'], {
      OTEL_AUTH: 'Bearer s3cret',
    }).telemetry;
    expect(config?.headers).toEqual({ 'x-team': 'a', authorization: 'Bearer s3cret' });
    expect(() => parse(['--otel-endpoint', 'x:1', '--otel-headers-from-env', 'authorization=MISSING'])).toThrow(/MISSING, which is not set/);
  });

  it('take resource attributes from the flag, OTEL_RESOURCE_ATTRIBUTES and the pod (downward API)', () => {
    const config = parse(['--otel-endpoint', 'x:1'], { OTEL_RESOURCE_ATTRIBUTES: 'team=a%2Cb,tier=gold', POD_NAME: 'p-0', POD_NAMESPACE: 'ns' }).telemetry;
    expect(config?.resourceAttributes).toEqual({ team: 'a,b', tier: 'gold', 'k8s.pod.name': 'p-0', 'k8s.namespace.name': 'ns' });
    expect(parse(['--otel-endpoint', 'x:1'], { OTEL_SERVICE_NAME: 'fetch' }).telemetry?.serviceName).toBe('fetch');
  });

  it('refuse bad input with a clear error', () => {
    expect(() => parse(['--otel-endpoint', 'x:1', '--otel-sampling-rate', '1.5'])).toThrow(UsageError);
    expect(() => parse(['--otel-endpoint', 'x:1', '--otel-sampling-rate', 'half'])).toThrow(/0 to 1/);
    expect(() => parse(['--otel-endpoint', 'ftp://x:1'])).toThrow(/http or https/);
    expect(() => parse(['--otel-endpoint', 'x:1', '--otel-headers', 'novalue'])).toThrow(/key=value/);
    expect(() => parse(['--otel-endpoint', 'x:1', '--otel-headers', 'bad name=1'])).toThrow(/not a header name/);
    expect(() => parse(['--otel-endpoint', 'x:1', '--otel-protocol', 'thrift'])).toThrow(UsageError);
  });

  it('build the export URL per protocol', () => {
    expect(tracesUrl('collector:4317', 'grpc', true).href).toBe('http://collector:4317/');
    expect(tracesUrl('collector:4318', 'http/protobuf', false).href).toBe('https://collector:4318/v1/traces');
    expect(tracesUrl('http://c:4318/custom/path', 'http/protobuf', false).href).toBe('http://c:4318/custom/path');
    expect(tracesUrl('collector:4318', 'http/json', true).href).toBe('http://collector:4318/v1/traces');
    expect(keyValues('f', 'a=b=c, ,d=')).toEqual({ a: 'b=c', d: '' });
  });
});
