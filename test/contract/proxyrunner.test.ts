// The operator↔proxyrunner contract, end to end: the Deployment the operator builds for each
// transport, proxy mode and setting is read back by the proxyrunner's own parser (parseConfig),
// exactly as the container would start (args as given, env as the kubelet resolves it), and the
// proxyrunner must come up with the settings the MCPServer asked for. A flag renamed or dropped
// on either side, a default moved, or a port the probes do not point at fails here, not in a
// cluster.
import { describe, expect, it } from '@jest/globals';
import type { V1Container, V1Deployment, V1EnvVar } from '@kubernetes/client-node';
import { parseBytes } from '../../common/quantity.ts';
import { proxyrunnerCommandLine, PROXYRUNNER_METRICS_PORT } from '../../common/contract/proxyrunner.ts';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MCPServer, MCPServerSpec } from '../../operator/src/api/types.ts';
import type { MCPOIDCConfigSpec } from '../../operator/src/api/mcpoidcconfig/types.ts';
import type { ConfigObject } from '../../operator/src/configs/configKind.ts';
import { oidcContribution } from '../../operator/src/configs/oidc.ts';
import { proxyDeployment, type BuildOptions } from '../../operator/src/builders/desired.ts';
import { parseConfig, type ProxyConfig } from '../../proxyrunner/src/config.ts';
import { telemetryContribution } from '../../operator/src/configs/telemetry.ts';
import { httpSpec, sseSpec, stdioSpec, stored } from '../support/mcpServers.ts';

const opts: BuildOptions = { proxyrunnerImage: 'ghcr.io/mcpfleet/proxyrunner:test' };

function proxyContainer(deployment: V1Deployment): V1Container {
  const container = deployment.spec?.template.spec?.containers.find((c) => c.name === 'proxyrunner');
  if (container === undefined) throw new Error('no proxyrunner container');
  return container;
}

/** Secrets of the namespace, as the kubelet would read them for secretKeyRef. */
type Secrets = Record<string, Record<string, string>>;

/** The environment the container sees: values as written, valueFrom resolved as the kubelet does. */
function kubeletEnv(container: V1Container, secrets: Secrets = {}): NodeJS.ProcessEnv {
  const resolve = (e: V1EnvVar): string => {
    if (e.value !== undefined) return e.value;
    const secret = e.valueFrom?.secretKeyRef;
    if (secret !== undefined) {
      const value = secrets[secret.name ?? '']?.[secret.key];
      if (value === undefined) throw new Error(`no Secret key ${secret.name}/${secret.key}`);
      return value;
    }
    const field = e.valueFrom?.resourceFieldRef;
    if (field?.resource === 'limits.memory' && field.containerName === container.name) {
      // The kubelet writes the limit in bytes (divisor 1).
      return String(parseBytes(String(container.resources?.limits?.['memory'])));
    }
    throw new Error(`the contract test cannot resolve env ${e.name}: ${JSON.stringify(e.valueFrom)}`);
  };
  return Object.fromEntries((container.env ?? []).map((e) => [e.name, resolve(e)]));
}

/** What the proxyrunner in this Deployment would run with. */
function startedConfig(deployment: V1Deployment, secrets: Secrets = {}): ProxyConfig {
  const container = proxyContainer(deployment);
  // Flags only: the image's entrypoint is the program, so args are its whole argv.
  expect(container.command).toBeUndefined();
  const config = parseConfig(container.args ?? [], kubeletEnv(container, secrets));
  if (config === 'help') throw new Error('the operator asked for --help');
  return config;
}

const build = (spec: MCPServerSpec, name = 'web', buildOpts = opts): V1Deployment => proxyDeployment(stored(name, spec), buildOpts) as unknown as V1Deployment;

describe('operator → proxyrunner contract', () => {
  const cases: [string, MCPServerSpec, Partial<ProxyConfig>][] = [
    [
      'stdio (attach to the backend pod)',
      stdioSpec,
      {
        transport: 'stdio',
        targetUrl: undefined,
        command: [],
        attach: {
          namespace: 'team-a',
          selector: 'app.kubernetes.io/component=backend,app.kubernetes.io/instance=web,app.kubernetes.io/name=mcpserver',
          container: 'mcp',
          maxPods: 1,
        },
        proxyMode: 'streamable-http',
      },
    ],
    [
      'stdio with backendReplicas (the proxy attaches to every backend pod)',
      { ...stdioSpec, backendReplicas: 3 },
      {
        transport: 'stdio',
        attach: {
          namespace: 'team-a',
          selector: 'app.kubernetes.io/component=backend,app.kubernetes.io/instance=web,app.kubernetes.io/name=mcpserver',
          container: 'mcp',
          maxPods: 3,
        },
        backends: undefined,
      },
    ],
    ['stdio served as legacy SSE', { ...stdioSpec, proxyMode: 'sse' }, { transport: 'stdio', proxyMode: 'sse' }],
    [
      'streamable-http',
      httpSpec,
      { transport: 'streamable-http', targetUrl: new URL('http://mcp-web:3001/mcp'), attach: undefined, command: [], proxyMode: 'streamable-http' },
    ],
    ['streamable-http served as legacy SSE', { ...httpSpec, proxyMode: 'sse' }, { transport: 'streamable-http', proxyMode: 'sse' }],
    ['sse', sseSpec, { transport: 'sse', targetUrl: new URL('http://mcp-web:3001/sse'), attach: undefined, command: [], proxyMode: 'sse' }],
    [
      'streamable-http with backendReplicas (pods discovered through EndpointSlices)',
      { ...httpSpec, backendReplicas: 3 },
      {
        transport: 'streamable-http',
        targetUrl: new URL('http://mcp-web:3001/mcp'),
        backends: { service: 'mcp-web', namespace: 'team-a', port: { name: 'mcp' }, recovery: 'none' },
      },
    ],
    [
      'streamable-http with backendReplicas and sessionRecovery Replay',
      { ...httpSpec, backendReplicas: 3, sessionRecovery: 'Replay' },
      { backends: { service: 'mcp-web', namespace: 'team-a', port: { name: 'mcp' }, recovery: 'replay' } },
    ],
    [
      'streamable-http with backendReplicas and sessionRecovery None',
      { ...httpSpec, backendReplicas: 3, sessionRecovery: 'None' },
      { backends: { service: 'mcp-web', namespace: 'team-a', port: { name: 'mcp' }, recovery: 'none' } },
    ],
    ['streamable-http without backendReplicas: one backend, no discovery', httpSpec, { backends: undefined }],
    [
      'sse served as streamable HTTP',
      { ...sseSpec, proxyMode: 'streamable-http' },
      { transport: 'sse', targetUrl: new URL('http://mcp-web:3001/sse'), proxyMode: 'streamable-http' },
    ],
  ];

  it.each(cases)('%s: the proxyrunner parses what the operator wrote into what the MCPServer asked for', (_name, spec, expected) => {
    const deployment = build(spec);
    const config = startedConfig(deployment);
    expect(config).toMatchObject({
      ...expected,
      // Every listener reachable from the kubelet's probes and the Service.
      host: '0.0.0.0',
      port: 8080,
      metricsHost: '0.0.0.0',
      metricsPort: PROXYRUNNER_METRICS_PORT,
      sessionIdleTimeoutMs: 30 * 60_000,
      maxSessions: 10_000,
      memoryLimitBytes: parseBytes('256Mi'),
    });
    // The container's named ports (which the Service and probes use) are the ones it listens on.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- client-node's V1ContainerPort resolves loosely under the lint compiler (TypeScript 6); tsc 7 types this line fully
    const ports = Object.fromEntries((proxyContainer(deployment).ports ?? []).map((p): [string | undefined, number] => [p.name, p.containerPort]));
    expect(ports).toEqual({ mcp: config.port, metrics: config.metricsPort });
    expect(proxyContainer(deployment).readinessProbe?.httpGet?.port).toBe('metrics');
  });

  it('carries every setting the operator sets: ports, session settings, memory budget', () => {
    const config = startedConfig(
      build({ ...httpSpec, proxyPort: 9000, sessionIdleTimeout: '90s', maxSessions: 42, proxyResources: { limits: { memory: '128Mi' } } }),
    );
    expect(config).toMatchObject({ port: 9000, sessionIdleTimeoutMs: 90_000, maxSessions: 42, memoryLimitBytes: 128 * 2 ** 20 });
  });

  it('carries sessionStorage redis: address, db, key prefix, and the password from its Secret through the environment only', () => {
    const spec: MCPServerSpec = {
      ...httpSpec,
      sessionStorage: { provider: 'redis', address: 'redis.infra:6379', db: 3, passwordRef: { name: 'redis-auth', key: 'pw' } },
    };
    const deployment = build(spec);
    const config = startedConfig(deployment, { 'redis-auth': { pw: 's3cret' } });
    expect(config.sessionStorage).toEqual({
      provider: 'redis',
      address: 'redis.infra:6379',
      db: 3,
      keyPrefix: 'mcpfleet:team-a:web',
      passwordFile: undefined,
      password: 's3cret',
    });
    expect(JSON.stringify(proxyContainer(deployment).args)).not.toContain('s3cret');
    // Without sessionStorage the proxy keeps sessions in memory.
    expect(startedConfig(build(httpSpec)).sessionStorage).toEqual({ provider: 'memory' });
  });

  it('carries the operator defaults for servers that leave session settings unset', () => {
    const config = startedConfig(build(httpSpec, 'web', { ...opts, proxyDefaults: { sessionIdleTimeout: '2m', maxSessions: 77 } }));
    expect(config).toMatchObject({ sessionIdleTimeoutMs: 120_000, maxSessions: 77 });
  });

  it('carries an MCPTelemetryConfig: --otel-* flags, secret headers only through env from the Secret, the pod name', () => {
    const mcp = stored('web', { ...httpSpec, telemetryConfigRef: { name: 'otel', serviceName: 'web-svc' } });
    const config = {
      apiVersion: 'mcpfleet.dev/v1alpha1',
      kind: 'MCPTelemetryConfig',
      metadata: { name: 'otel', namespace: 'team-a', uid: 'u', generation: 1 },
      spec: {
        openTelemetry: {
          enabled: true,
          endpoint: 'collector.monitoring:4318',
          insecure: true,
          headers: { 'x-team': 'a,b=c' },
          sensitiveHeaders: [{ name: 'Authorization', secretKeyRef: { name: 'otel', key: 'token' } }],
          resourceAttributes: { 'deployment.environment.name': 'prod' },
          tracing: { enabled: true, samplingRate: '0.25' },
        },
      },
    };
    const deployment = proxyDeployment(mcp, opts, [telemetryContribution(config, mcp)]) as unknown as V1Deployment;
    const container = proxyContainer(deployment);
    expect(JSON.stringify(container.args)).not.toContain('token');
    expect(container.env).toContainEqual({ name: 'MCPFLEET_OTEL_HEADER_0', valueFrom: { secretKeyRef: { name: 'otel', key: 'token' } } });
    const env = Object.fromEntries((container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    const parsed = parseConfig(container.args ?? [], { ...env, MCPFLEET_OTEL_HEADER_0: 'Bearer s', POD_NAME: 'web-proxy-1' });
    if (parsed === 'help') throw new Error('unexpected help');
    expect(parsed.telemetry).toMatchObject({
      tracesUrl: new URL('http://collector.monitoring:4318/v1/traces'),
      samplingRate: 0.25,
      serviceName: 'web-svc',
      headers: { 'x-team': 'a,b=c', Authorization: 'Bearer s' },
      resourceAttributes: { 'deployment.environment.name': 'prod', 'k8s.namespace.name': 'team-a', 'k8s.pod.name': 'web-proxy-1' },
    });
    // Tracing off in the config: no flag at all (the proxy loads nothing of OpenTelemetry).
    const off = { ...config, spec: { openTelemetry: { ...config.spec.openTelemetry, tracing: { enabled: false } } } };
    expect(proxyContainer(proxyDeployment(mcp, opts, [telemetryContribution(off, mcp)]) as unknown as V1Deployment).args?.join(' ')).not.toContain('--otel');
  });

  it('carries openTelemetry.metrics.enabled as --otel-metrics-enabled, alone (tracing off) or with tracing', () => {
    const mcp = stored('web', { ...httpSpec, telemetryConfigRef: { name: 'otel' } });
    const withOtel = (otel: Record<string, unknown>) => ({
      apiVersion: 'mcpfleet.dev/v1alpha1',
      kind: 'MCPTelemetryConfig',
      metadata: { name: 'otel', namespace: 'team-a', uid: 'u', generation: 1 },
      spec: { openTelemetry: { enabled: true, endpoint: 'collector.monitoring:4318', insecure: true, ...otel } },
    });
    const parsedOf = (config: ReturnType<typeof withOtel>) => {
      const container = proxyContainer(proxyDeployment(mcp, opts, [telemetryContribution(config, mcp)]) as unknown as V1Deployment);
      const parsed = parseConfig(container.args ?? [], {});
      if (parsed === 'help') throw new Error('unexpected help');
      return parsed;
    };
    const metricsOnly = parsedOf(withOtel({ metrics: { enabled: true }, tracing: { enabled: false } }));
    expect(metricsOnly.telemetry).toBeUndefined();
    expect(metricsOnly.otlpMetrics).toMatchObject({
      metricsUrl: new URL('http://collector.monitoring:4318/v1/metrics'),
      intervalMs: 60_000,
      serviceName: 'web',
    });
    const both = parsedOf(withOtel({ metrics: { enabled: true }, tracing: { enabled: true } }));
    expect(both.telemetry?.tracesUrl).toEqual(new URL('http://collector.monitoring:4318/v1/traces'));
    expect(both.otlpMetrics?.metricsUrl).toEqual(new URL('http://collector.monitoring:4318/v1/metrics'));
    const tracingOnly = parsedOf(withOtel({ tracing: { enabled: true } }));
    expect(tracingOnly.telemetry).toBeDefined();
    expect(tracingOnly.otlpMetrics).toBeUndefined();
  });

  it('round-trips typed options outside Kubernetes too (memory limit as a value)', () => {
    const { args, env } = proxyrunnerCommandLine({
      transport: 'stdio',
      attach: { namespace: 'ns', selector: 'a=b', container: 'c' },
      proxyMode: 'sse',
      port: 1234,
      metricsPort: 5678,
      sessionIdleTimeout: '1h',
      maxSessions: 3,
      memoryLimit: '64Mi',
    });
    const parsed = parseConfig(args, Object.fromEntries(env.map((e) => [e.name, 'value' in e ? e.value : undefined])));
    expect(parsed).toMatchObject({
      transport: 'stdio',
      attach: { namespace: 'ns', selector: 'a=b', container: 'c' },
      proxyMode: 'sse',
      port: 1234,
      metricsPort: 5678,
      sessionIdleTimeoutMs: 3_600_000,
      maxSessions: 3,
      memoryLimitBytes: 64 * 2 ** 20,
    });
  });

  it('carries the tool config file an MCPToolConfig is rendered to', () => {
    const { args, env } = proxyrunnerCommandLine({
      transport: 'streamable-http',
      targetUrl: 'http://127.0.0.1:1/mcp',
      proxyMode: 'streamable-http',
      port: 1,
      metricsPort: 2,
      sessionIdleTimeout: '1m',
      maxSessions: 1,
      toolConfigFile: '/etc/mcpfleet/tool-config/tools.json',
    });
    const parsed = parseConfig(args, Object.fromEntries(env.map((e) => [e.name, 'value' in e ? e.value : undefined])));
    expect(parsed).toMatchObject({ tools: { file: '/etc/mcpfleet/tool-config/tools.json' } });
  });
});

// Authentication from an MCPOIDCConfig: the Deployment's args, env and volumes, read back by the
// proxyrunner's own parser. Files the args name are where the pod's volumes put them; here each
// mount is a temporary directory holding the files the kubelet would write.
describe('operator → proxyrunner contract: oidcConfigRef', () => {
  const SECRET = 'the-client-secret';

  /** Parses like startedConfig, with mounted paths redirected to files and Secrets resolved. */
  function startedWithMounts(deployment: V1Deployment): ProxyConfig {
    const container = proxyContainer(deployment);
    const root = mkdtempSync(path.join(tmpdir(), 'mounts-'));
    const mounts = (container.volumeMounts ?? []).map((m) => m.mountPath);
    const args = (container.args ?? []).map((a) => {
      const mount = mounts.find((m) => a.startsWith(`${m}/`));
      if (mount === undefined) return a;
      const file = path.join(root, a);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, 'mounted\n');
      return file;
    });
    const env = Object.fromEntries(
      (container.env ?? []).map((e): [string, string] => {
        if (e.valueFrom?.secretKeyRef !== undefined) return [e.name, SECRET];
        return [e.name, e.value ?? String(parseBytes(String(container.resources?.limits?.['memory'])))];
      }),
    );
    const config = parseConfig(args, env);
    if (config === 'help') throw new Error('the operator asked for --help');
    return config;
  }

  const server = (spec: Partial<MCPServerSpec>): MCPServer => stored('web', { ...httpSpec, ...spec });
  const oidcObject = (spec: MCPOIDCConfigSpec): ConfigObject<MCPOIDCConfigSpec> => ({
    apiVersion: 'mcpfleet.dev/v1alpha1',
    kind: 'MCPOIDCConfig',
    metadata: { name: 'idp', namespace: 'team-a', uid: 'u1', generation: 1 },
    spec,
  });
  const deploymentFor = (mcp: MCPServer, spec: MCPOIDCConfigSpec): V1Deployment =>
    proxyDeployment(mcp, opts, [oidcContribution(oidcObject(spec), mcp)]) as unknown as V1Deployment;

  it('inline: issuer, JWKS, introspection with the secret from the Secret, CA bundle, audience, scopes, resource URL', () => {
    const mcp = server({ oidcConfigRef: { name: 'idp', audience: 'web-aud', scopes: ['mcp:read', 'mcp:write'] } });
    const config = startedWithMounts(
      deploymentFor(mcp, {
        type: 'inline',
        inline: {
          issuer: 'https://idp.example.com',
          jwksUrl: 'https://idp.example.com/keys',
          introspectionUrl: 'https://idp.example.com/introspect',
          clientId: 'mcp-proxy',
          clientSecretRef: { name: 'idp-secret', key: 'secret' },
          caBundleRef: { configMapRef: { name: 'idp-ca' } },
        },
      }),
    );
    expect(config.authn).toMatchObject({
      type: 'inline',
      issuer: 'https://idp.example.com',
      audiences: ['web-aud'],
      resourceUrl: new URL('http://mcp-web-proxy.team-a.svc.cluster.local:8080/mcp'),
      jwksUrl: new URL('https://idp.example.com/keys'),
      introspection: { url: new URL('https://idp.example.com/introspect'), clientId: 'mcp-proxy', clientSecret: SECRET },
      caBundle: 'mounted\n',
      advertisedScopes: ['mcp:read', 'mcp:write'],
      kubernetes: undefined,
    });
  });

  it('kubernetesServiceAccount: the projected token and CA, the allowed account, default scopes, a given resource URL', () => {
    const mcp = server({ oidcConfigRef: { name: 'idp', audience: 'web', resourceUrl: 'https://mcp.example.com/web/mcp' } });
    const config = startedWithMounts(deploymentFor(mcp, { type: 'kubernetesServiceAccount', kubernetesServiceAccount: { serviceAccount: 'agent' } }));
    expect(config.authn).toMatchObject({
      type: 'kubernetesServiceAccount',
      issuer: undefined,
      audiences: ['web'],
      resourceUrl: new URL('https://mcp.example.com/web/mcp'),
      allowedServiceAccounts: ['team-a/agent'],
      advertisedScopes: ['openid'],
      caBundle: 'mounted\n',
    });
    expect(config.authn?.kubernetes?.tokenFile).toMatch(/\/var\/run\/secrets\/mcpfleet\/oidc\/token$/);
    expect(config.authn?.kubernetes?.apiServer.href).toBe('https://kubernetes.default.svc/');
  });

  it('the client secret is never a value in the Deployment', () => {
    const mcp = server({ oidcConfigRef: { name: 'idp', audience: 'web' } });
    const d = deploymentFor(mcp, {
      type: 'inline',
      inline: { issuer: 'https://idp.example.com', introspectionUrl: 'https://idp.example.com/i', clientId: 'c', clientSecretRef: { name: 's', key: 'k' } },
    });
    const env = proxyContainer(d).env ?? [];
    expect(env.find((e) => e.name === 'MCPFLEET_OIDC_CLIENT_SECRET')).toEqual({
      name: 'MCPFLEET_OIDC_CLIENT_SECRET',
      valueFrom: { secretKeyRef: { name: 's', key: 'k' } },
    });
    expect(proxyContainer(d).args?.join(' ')).not.toMatch(/secret/i);
  });
});
