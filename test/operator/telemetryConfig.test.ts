// MCPTelemetryConfig on a real control plane: ToolHive's mcpserver_fetch_otel.yaml example
// (test/fixtures/toolhive/, apiVersion changed only) applies as it is, the operator validates the
// config (status Valid, the MCPServer's TelemetryConfigRefValidated condition) and gives the proxy
// the --otel-* flags, which the proxyrunner's own parser reads back into the intended settings; a
// sensitive header reaches the proxy from its Secret through an env variable, never an argument,
// and the change rolls the proxy (its template's config hash); an invalid config shows in both
// statuses and holds the proxy at its last good Deployment.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { eventually, RESTRICTED, TEST_PROXY_IMAGE, type Kube, type Obj } from '../support/kube.ts';
import { condition, flagValue, operatorArgs, operatorOnControlPlane, podTemplate, proxyContainer } from '../support/operatorHarness.ts';
import { ROOT } from '../support/processes.ts';
import { parseConfig } from '../../proxyrunner/src/config.ts';
import { TELEMETRY_HASH_ANNOTATION } from '../../operator/src/configs/telemetry.ts';

const TIMEOUT = 180_000;
const FIXTURE = path.join(ROOT, 'test/fixtures/toolhive/mcpserver_fetch_otel.yaml');
const NS = 'toolhive-system';

let kube: Kube;

describe('MCPTelemetryConfig: ToolHive example on a real control plane', () => {
  operatorOnControlPlane(operatorArgs(TEST_PROXY_IMAGE), async (k) => {
    kube = k;
    await kube.ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: RESTRICTED } }));
  });

  it(
    'applies unchanged but for apiVersion, and the proxy gets the --otel-* flags its parser reads back',
    async () => {
      await kube.ok(['apply', '--server-side', '--field-manager=test', '-f', FIXTURE]);
      const deploy = await eventually('the proxy Deployment with --otel-endpoint', 60_000, async () => {
        const d = await kube.get('deployment', 'mcp-fetch-proxy', NS);
        return d && flagValue(proxyContainer(d).args, '--otel-endpoint') !== undefined ? d : undefined;
      });
      const config = await eventually('the MCPTelemetryConfig Valid', 30_000, async () => {
        const c = await kube.get('mcptelemetryconfig', 'basic-telemetry', NS);
        return condition(c, 'Valid')?.status === 'True' ? c : undefined;
      });
      expect(config.status?.['configHash']).toMatch(/\S/);
      const mcp = await eventually('TelemetryConfigRefValidated', 30_000, async () => {
        const m = await kube.get('mcpserver', 'fetch', NS);
        return condition(m, 'TelemetryConfigRefValidated')?.status === 'True' ? m : undefined;
      });
      expect(condition(mcp, 'TelemetryConfigRefValidated')?.reason).toBe('TelemetryConfigRefValid');

      const proxy = proxyContainer(deploy);
      expect(proxy.env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } });
      expect((podTemplate(deploy).metadata.annotations ?? {})[TELEMETRY_HASH_ANNOTATION]).toMatch(/\S/);
      // The proxyrunner's own parser, with the env the pod would have.
      const parsed = parseConfig(proxy.args, { POD_NAME: 'mcp-fetch-proxy-abc', POD_NAMESPACE: NS });
      if (parsed === 'help') throw new Error('unexpected help');
      expect(parsed.telemetry).toMatchObject({
        tracesUrl: new URL('http://otel-collector-opentelemetry-collector.monitoring.svc.cluster.local:4318/v1/traces'),
        protocol: 'http/protobuf',
        samplingRate: 0.1,
        serviceName: 'mcp-fetch-server',
        resourceAttributes: { 'k8s.namespace.name': NS, 'k8s.pod.name': 'mcp-fetch-proxy-abc' },
      });
      // metrics.enabled: the Prometheus metrics mirrored over OTLP to the same collector.
      expect(parsed.otlpMetrics).toMatchObject({
        metricsUrl: new URL('http://otel-collector-opentelemetry-collector.monitoring.svc.cluster.local:4318/v1/metrics'),
        serviceName: 'mcp-fetch-server',
      });
    },
    TIMEOUT,
  );

  it(
    'takes a sensitive header from its Secret through the environment (never an argument) and rolls the proxy',
    async () => {
      const before = (await kube.get('deployment', 'mcp-fetch-proxy', NS)) as Obj;
      const hashBefore = (podTemplate(before).metadata.annotations ?? {})[TELEMETRY_HASH_ANNOTATION];
      await kube.ok([
        'patch',
        'mcptelemetryconfig',
        'basic-telemetry',
        '-n',
        NS,
        '--type=merge',
        '-p',
        JSON.stringify({
          spec: {
            openTelemetry: { headers: { 'x-team': 'a,b' }, sensitiveHeaders: [{ name: 'Authorization', secretKeyRef: { name: 'otel-auth', key: 'token' } }] },
          },
        }),
      ]);
      const after = await eventually('the rolled proxy Deployment', 60_000, async () => {
        const d = await kube.get('deployment', 'mcp-fetch-proxy', NS);
        return d && (podTemplate(d).metadata.annotations ?? {})[TELEMETRY_HASH_ANNOTATION] !== hashBefore ? d : undefined;
      });
      const proxy = proxyContainer(after);
      expect(flagValue(proxy.args, '--otel-headers-from-env')).toBe('Authorization=MCPFLEET_OTEL_HEADER_0');
      expect(proxy.env).toContainEqual({ name: 'MCPFLEET_OTEL_HEADER_0', valueFrom: { secretKeyRef: { name: 'otel-auth', key: 'token' } } });
      const parsed = parseConfig(proxy.args, { MCPFLEET_OTEL_HEADER_0: 'Bearer from-secret' });
      if (parsed === 'help') throw new Error('unexpected help');
      expect(parsed.telemetry?.headers).toEqual({ 'x-team': 'a,b', Authorization: 'Bearer from-secret' });
    },
    TIMEOUT,
  );

  it(
    'reports an invalid config in both statuses and keeps the proxy at its last good Deployment',
    async () => {
      const good = (await kube.get('deployment', 'mcp-fetch-proxy', NS)) as Obj;
      // Written around the CRD's pattern by a value the schema accepts but the proxy could not use.
      await kube.ok([
        'patch',
        'mcptelemetryconfig',
        'basic-telemetry',
        '-n',
        NS,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { openTelemetry: { headers: { 'bad header': 'x' } } } }),
      ]);
      await eventually('Valid=False', 30_000, async () => condition(await kube.get('mcptelemetryconfig', 'basic-telemetry', NS), 'Valid')?.status === 'False');
      const mcp = await eventually('TelemetryConfigRefValidated=False', 30_000, async () => {
        const m = await kube.get('mcpserver', 'fetch', NS);
        return condition(m, 'TelemetryConfigRefValidated')?.status === 'False' ? m : undefined;
      });
      expect(condition(mcp, 'TelemetryConfigRefValidated')?.message).toContain('bad header');
      const held = (await kube.get('deployment', 'mcp-fetch-proxy', NS)) as Obj;
      expect(proxyContainer(held).args).toEqual(proxyContainer(good).args);
    },
    TIMEOUT,
  );
});

// The fixture file itself: ToolHive's example, only apiVersion changed.
it('the fixture differs from ToolHive only in apiVersion', () => {
  const text = readFileSync(FIXTURE, 'utf8');
  expect(text).not.toMatch(/^apiVersion: toolhive/m);
  expect(text.match(/^apiVersion: mcpfleet\.dev\/v1alpha1$/gm)).toHaveLength(2);
});
