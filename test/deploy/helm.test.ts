// The chart on a real control plane: `helm install` into a namespace that enforces the restricted
// Pod Security Standard, the operator run from the installed Deployment (its args, its env, its
// ServiceAccount's token; kwok runs no containers), every sample reconciled into Ready, RBAC
// checked with `kubectl auth can-i` as the operator's and the proxyrunners' ServiceAccounts,
// `helm uninstall`; then the same for a release that watches a list of namespaces.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { ensureBinaries, startControlPlane, type ControlPlane } from '../control-plane/controlPlane.ts';
import {
  admissionFailures,
  canIList,
  CHART,
  helmOk,
  isGone,
  parseManifests,
  SAMPLES,
  startChartOperator,
  wrongAnswers,
  type ChartOperator,
  type Check,
  type Subject,
} from '../support/helm.ts';
import { eventually, Kube, sleep, waitReady, type McpStatus, type Obj } from '../support/kube.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const TEST_TIMEOUT_MS = 240_000;
const PROXY_IMAGE = 'ghcr.io/mcpfleet/proxyrunner:chart-test';

interface Sample {
  file: string;
  name: string;
  spec: { transport?: string; replicas?: number; sessionIdleTimeout?: string; maxSessions?: number };
}

let cp: ControlPlane | undefined;
let kube: Kube;
let binDir: string;
let samples: Sample[];
let running: ChartOperator | undefined;

// Names shared by the tests below, in the order they run.
let releaseNs: string;
let samplesNs: string;
const RELEASE = 'mcpfleet';
const OPERATOR = 'mcpfleet-operator';

const helmCp = (args: string[]): Promise<string> => helmOk(binDir, args, cp);

type Deployment = Obj & {
  spec: {
    replicas: number;
    template: {
      spec: {
        serviceAccountName: string;
        automountServiceAccountToken?: boolean;
        imagePullSecrets?: { name: string }[];
        containers: { image: string; args: string[] }[];
      };
    };
  };
};

function flagValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

/** The config kinds MCPServers reference. */
const CONFIG_RESOURCES = ['mcpoidcconfigs.mcpfleet.dev', 'mcpauthzconfigs.mcpfleet.dev'];

/** What the operator's code does, in one namespace (every verb its clients and informers use). */
function operatorNeeds(ns: string): Check[] {
  const all = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
  const owned = [
    'statefulsets.apps',
    'deployments.apps',
    'services',
    'serviceaccounts',
    // The authorization file rendered from an MCPAuthzConfig (one ConfigMap per MCPServer using it).
    'configmaps',
    'roles.rbac.authorization.k8s.io',
    'rolebindings.rbac.authorization.k8s.io',
  ];
  return [
    ...['get', 'list', 'watch'].map((verb) => ({ verb, resource: 'mcpservers.mcpfleet.dev', where: ns })),
    { verb: 'patch', resource: 'mcpservers.mcpfleet.dev', subresource: 'status', where: ns },
    // Config kinds: read, and their status written.
    ...CONFIG_RESOURCES.flatMap((resource) => [
      ...['get', 'list', 'watch'].map((verb) => ({ verb, resource, where: ns })),
      { verb: 'patch', resource, subresource: 'status', where: ns },
    ]),
    { verb: 'update', resource: 'mcpservers.mcpfleet.dev', subresource: 'finalizers', where: ns },
    ...owned.flatMap((resource) => all.map((verb) => ({ verb, resource, where: ns }))),
    ...['get', 'list', 'watch'].map((verb) => ({ verb, resource: 'pods', where: ns })),
    // What it grants the stdio proxies' Roles, which RBAC only lets it grant if it holds it.
    { verb: 'create', resource: 'pods', subresource: 'attach', where: ns },
    { verb: 'get', resource: 'pods', subresource: 'attach', where: ns },
    // ...and the Roles of proxies in front of several backend pods (backendReplicas).
    ...['get', 'list', 'watch'].map((verb) => ({ verb, resource: 'endpointslices.discovery.k8s.io', where: ns })),
  ];
}

/** The leader-election Role: its own Lease, in the release namespace only. */
function leaderElectionNeeds(ns: string, lease: string): Check[] {
  return [
    { verb: 'create', resource: 'leases.coordination.k8s.io', where: ns },
    // Candidates watch the one Lease (fieldSelector metadata.name=<lease>).
    ...['get', 'list', 'watch', 'update'].map((verb) => ({ verb, resource: `leases.coordination.k8s.io/${lease}`, where: ns })),
  ];
}

/** What the operator must never be able to do. */
function operatorMustNot(ns: string, releaseNamespace: string): Check[] {
  return [
    { verb: 'get', resource: 'secrets', where: ns },
    { verb: 'list', resource: 'secrets', where: '*' },
    { verb: 'watch', resource: 'secrets', where: '*' },
    { verb: 'create', resource: 'pods', where: ns },
    // Config kinds are the users': read-only to the operator (but their status).
    ...CONFIG_RESOURCES.flatMap((resource) => ['create', 'update', 'patch', 'delete'].map((verb) => ({ verb, resource, where: ns }))),
    ...CONFIG_RESOURCES.map((resource) => ({ verb: 'update', resource, subresource: 'finalizers', where: ns })),
    { verb: 'delete', resource: 'pods', where: ns },
    { verb: 'create', resource: 'pods', subresource: 'exec', where: ns },
    { verb: 'create', resource: 'pods', subresource: 'portforward', where: ns },
    { verb: 'create', resource: 'serviceaccounts', subresource: 'token', where: ns },
    { verb: 'create', resource: 'clusterroles.rbac.authorization.k8s.io', where: '*' },
    { verb: 'update', resource: 'clusterroles.rbac.authorization.k8s.io', where: '*' },
    { verb: 'escalate', resource: 'clusterroles.rbac.authorization.k8s.io', where: '*' },
    { verb: 'create', resource: 'clusterrolebindings.rbac.authorization.k8s.io', where: '*' },
    { verb: 'delete', resource: 'clusterrolebindings.rbac.authorization.k8s.io', where: '*' },
    { verb: 'bind', resource: 'roles.rbac.authorization.k8s.io', where: ns },
    { verb: 'escalate', resource: 'roles.rbac.authorization.k8s.io', where: ns },
    { verb: 'bind', resource: 'clusterroles.rbac.authorization.k8s.io', where: '*' },
    { verb: 'delete', resource: 'namespaces', where: '*' },
    { verb: 'create', resource: 'namespaces', where: '*' },
    { verb: 'create', resource: 'mcpservers.mcpfleet.dev', where: ns },
    { verb: 'update', resource: 'mcpservers.mcpfleet.dev', where: ns },
    { verb: 'delete', resource: 'mcpservers.mcpfleet.dev', where: ns },
    { verb: 'update', resource: 'customresourcedefinitions.apiextensions.k8s.io', where: '*' },
    { verb: 'list', resource: 'nodes', where: '*' },
    { verb: 'impersonate', resource: 'users', where: '*' },
    { verb: 'impersonate', resource: 'serviceaccounts', where: ns },
    { verb: 'get', resource: 'leases.coordination.k8s.io', where: ns },
    { verb: 'update', resource: 'leases.coordination.k8s.io/some-other-lease', where: releaseNamespace },
    { verb: 'delete', resource: 'leases.coordination.k8s.io', where: releaseNamespace },
    { verb: 'list', resource: 'leases.coordination.k8s.io', where: releaseNamespace },
    // It records no Events, so it may not write them anywhere.
    { verb: 'create', resource: 'events', where: ns },
    { verb: 'create', resource: 'events', where: releaseNamespace },
  ];
}

async function expectAllowed(sa: Subject, checks: Check[]): Promise<void> {
  expect(await wrongAnswers(kube, sa, checks, true)).toEqual([]);
}
async function expectDenied(sa: Subject, checks: Check[]): Promise<void> {
  expect(await wrongAnswers(kube, sa, checks, false)).toEqual([]);
}

async function stopRunning(): Promise<void> {
  const r = running;
  running = undefined;
  if (r !== undefined) {
    expect(await r.operator.stop()).toBe(0);
  }
}

/** Every object `helm get manifest` lists for the release: [kind, name, namespace?]. */
async function releaseObjects(release: string, namespace: string): Promise<[string, string, string | undefined][]> {
  const objs = parseManifests(await helmCp(['get', 'manifest', release, '-n', namespace]));
  return objs.map((o) => [o.kind, o.metadata.name, o.metadata.namespace]);
}

describe('helm install / operator from the chart / RBAC / helm uninstall', () => {
  beforeAll(async () => {
    binDir = await ensureBinaries();
    cp = await startControlPlane({ withControllers: true, withKwok: true, nodes: 1 });
    kube = new Kube(cp);
    samples = [];
    for (const file of (await readdir(SAMPLES)).filter((f) => f.endsWith('.yaml')).sort()) {
      const doc = parse(await readFile(path.join(SAMPLES, file), 'utf8')) as { metadata: { name: string }; spec: Sample['spec'] };
      samples.push({ file, name: doc.metadata.name, spec: doc.spec });
    }
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await running?.operator.stop();
    await cp?.stop();
  }, TEST_TIMEOUT_MS);

  it('has one sample per transport', () => {
    expect(samples.map((s) => s.spec.transport ?? 'stdio').sort()).toEqual(['sse', 'stdio', 'streamable-http']);
  });

  it(
    'helm install succeeds into a restricted namespace: CRD Established, operator pods admitted and Available',
    async () => {
      releaseNs = await kube.newNamespace('mcpfleet');
      const out = await helmCp([
        'install',
        RELEASE,
        CHART,
        '-n',
        releaseNs,
        '--wait',
        '--timeout',
        '120s',
        '--set',
        `proxyrunner.image.tag=chart-test`,
        '--set',
        'proxyrunner.sessionIdleTimeout=45m',
        '--set',
        'proxyrunner.maxSessions=777',
        '--set',
        'proxyrunner.imagePullSecrets={regcred}',
        // A core object among the optional monitoring ones: the dashboard ConfigMap.
        '--set',
        'monitoring.dashboard.enabled=true',
      ]);
      expect(out).toContain('STATUS: deployed');
      // NOTES.txt: what to do next.
      expect(out).toContain(`kubectl -n ${releaseNs} rollout status deployment/${OPERATOR}`);
      expect(out).toContain('kubectl get mcps -A');

      await kube.ok(['wait', '--for=condition=Established', 'crd/mcpservers.mcpfleet.dev', '--timeout=30s']);
      const deployment = (await kube.get('deployment', OPERATOR, releaseNs)) as Deployment;
      expect((deployment.status as { availableReplicas?: number }).availableReplicas).toBe(2);
      expect(await kube.list('pods', releaseNs, 'app.kubernetes.io/component=operator')).toHaveLength(2);
      expect(await admissionFailures(kube, releaseNs)).toEqual([]);
      const dashboard = await kube.get('configmap', 'mcpfleet-dashboard', releaseNs);
      expect(dashboard?.metadata.labels?.['grafana_dashboard']).toBe('1');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "runs the operator with the Deployment's args, env and ServiceAccount; it reconciles every sample into Ready under restricted",
    async () => {
      running = await startChartOperator(kube, releaseNs, OPERATOR);
      expect(running.serviceAccount).toEqual({ namespace: releaseNs, name: OPERATOR });
      expect(running.env).toEqual({ POD_NAMESPACE: releaseNs, POD_NAME: running.podName, MCPFLEET_MEMORY_LIMIT: String(256 * 2 ** 20) });
      expect(running.args).toContain(`--proxyrunner-image=${PROXY_IMAGE}`);

      samplesNs = await kube.newNamespace('samples');
      await kube.ok(['apply', '-n', samplesNs, '-f', SAMPLES]);
      for (const s of samples) await waitReady(kube, s.name, samplesNs, 120_000);

      for (const s of samples) {
        const proxy = (await kube.get('deployment', `mcp-${s.name}-proxy`, samplesNs)) as Deployment;
        const pod = proxy.spec.template.spec;
        // The chart's proxyrunner values reached every proxy, through the operator's flags.
        expect(pod.containers[0]?.image).toBe(PROXY_IMAGE);
        expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
        expect(flagValue(pod.containers[0]?.args ?? [], '--session-idle-timeout')).toBe(s.spec.sessionIdleTimeout ?? '45m');
        expect(flagValue(pod.containers[0]?.args ?? [], '--max-sessions')).toBe(String(s.spec.maxSessions ?? 777));
        // The pods exist: admitted under the restricted standard.
        const proxies = await kube.list('pods', samplesNs, `app.kubernetes.io/instance=${s.name},app.kubernetes.io/component=proxy`);
        const backends = await kube.list('pods', samplesNs, `app.kubernetes.io/instance=${s.name},app.kubernetes.io/component=backend`);
        expect(proxies).toHaveLength(s.spec.replicas ?? 1);
        expect(backends).toHaveLength(1);
      }
      expect(await admissionFailures(kube, samplesNs)).toEqual([]);

      const lease = await kube.get('lease', OPERATOR, releaseNs);
      expect((lease?.spec as { holderIdentity?: string }).holderIdentity).toBe(running.podName);
      expect(running.operator.logs()).not.toMatch(/forbidden/i);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "RBAC: the operator's ServiceAccount may do what its code does, everywhere, and nothing on the deny list",
    async () => {
      const sa = { namespace: releaseNs, name: OPERATOR };
      await expectAllowed(sa, [
        ...operatorNeeds(samplesNs),
        ...['list', 'watch'].map((verb) => ({ verb, resource: 'mcpservers.mcpfleet.dev', where: '*' })),
        ...['list', 'watch'].flatMap((verb) => CONFIG_RESOURCES.map((resource) => ({ verb, resource, where: '*' }))),
        ...['list', 'watch'].map((verb) => ({ verb, resource: 'deployments.apps', where: '*' })),
        ...['list', 'watch'].map((verb) => ({ verb, resource: 'pods', where: '*' })),
        ...leaderElectionNeeds(releaseNs, OPERATOR),
      ]);
      await expectDenied(sa, operatorMustNot(samplesNs, releaseNs));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'RBAC: a stdio proxyrunner may find and attach to pods in its namespace only; HTTP proxyrunners get nothing beyond the defaults',
    async () => {
      const stdio = samples.find((s) => (s.spec.transport ?? 'stdio') === 'stdio') as Sample;
      const proxyDeployment = (await kube.get('deployment', `mcp-${stdio.name}-proxy`, samplesNs)) as Deployment;
      const sa = { namespace: samplesNs, name: proxyDeployment.spec.template.spec.serviceAccountName };
      expect(sa.name).toBe(`mcp-${stdio.name}-proxy`);
      await expectAllowed(sa, [
        ...['get', 'list', 'watch'].map((verb) => ({ verb, resource: 'pods', where: samplesNs })),
        { verb: 'create', resource: 'pods', subresource: 'attach', where: samplesNs },
        { verb: 'get', resource: 'pods', subresource: 'attach', where: samplesNs },
      ]);
      await expectDenied(sa, [
        { verb: 'get', resource: 'secrets', where: samplesNs },
        { verb: 'list', resource: 'secrets', where: '*' },
        { verb: 'create', resource: 'pods', subresource: 'exec', where: samplesNs },
        { verb: 'create', resource: 'pods', subresource: 'portforward', where: samplesNs },
        { verb: 'create', resource: 'pods', where: samplesNs },
        { verb: 'delete', resource: 'pods', where: samplesNs },
        { verb: 'get', resource: 'pods', where: releaseNs },
        { verb: 'create', resource: 'pods', subresource: 'attach', where: releaseNs },
        { verb: 'list', resource: 'pods', where: '*' },
        { verb: 'get', resource: 'configmaps', where: samplesNs },
        { verb: 'patch', resource: 'deployments.apps', where: samplesNs },
        { verb: 'get', resource: 'mcpservers.mcpfleet.dev', where: samplesNs },
        ...CONFIG_RESOURCES.map((resource) => ({ verb: 'get', resource, where: samplesNs })),
        { verb: 'create', resource: 'serviceaccounts', subresource: 'token', where: samplesNs },
      ]);

      // HTTP transports: the proxy runs as the namespace's default ServiceAccount with no token,
      // and that account can do exactly what a default account in an untouched namespace can.
      const pristine = await kube.newNamespace('pristine');
      await eventually('the default ServiceAccount', 30_000, async () => (await kube.get('serviceaccount', 'default', pristine)) !== undefined);
      const baseline = await canIList(kube, { namespace: pristine, name: 'default' }, pristine);
      for (const s of samples.filter((x) => (x.spec.transport ?? 'stdio') !== 'stdio')) {
        const pod = ((await kube.get('deployment', `mcp-${s.name}-proxy`, samplesNs)) as Deployment).spec.template.spec;
        expect(pod.serviceAccountName).toBe('default');
        expect(pod.automountServiceAccountToken).toBe(false);
      }
      const httpSa = { namespace: samplesNs, name: 'default' };
      expect(await canIList(kube, httpSa, samplesNs)).toEqual(baseline);
      await expectDenied(httpSa, [
        { verb: 'get', resource: 'pods', where: samplesNs },
        { verb: 'create', resource: 'pods', subresource: 'attach', where: samplesNs },
        { verb: 'get', resource: 'secrets', where: samplesNs },
      ]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'helm uninstall removes every object of the release but keeps the CRD (and the MCPServers)',
    async () => {
      await stopRunning();
      const objects = await releaseObjects(RELEASE, releaseNs);
      expect(objects.map(([kind]) => kind).sort()).toEqual(
        ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount'].sort(),
      );
      await helmCp(['uninstall', RELEASE, '-n', releaseNs, '--wait', '--timeout', '120s']);
      for (const [kind, name, namespace] of objects) {
        await eventually(`${kind} ${name} to be deleted`, 60_000, () => isGone(kube, kind, name, namespace));
      }
      expect(await kube.list('pods', releaseNs, 'app.kubernetes.io/component=operator')).toEqual([]);
      expect(JSON.parse(await helmCp(['list', '-n', releaseNs, '-o', 'json']))).toEqual([]);
      // CRDs are never deleted by Helm: the MCPServers, and what runs them, stay.
      expect(await isGone(kube, 'crd', 'mcpservers.mcpfleet.dev')).toBe(false);
      expect((await kube.list('mcpservers', samplesNs)).map((m) => m.metadata.name).sort()).toEqual(samples.map((s) => s.name).sort());
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'watchNamespaces: a Role per listed namespace; the operator reconciles there and nowhere else',
    async () => {
      const [teamA, teamB, other, ns] = [
        await kube.newNamespace('team-a'),
        await kube.newNamespace('team-b'),
        await kube.newNamespace('other'),
        await kube.newNamespace('scoped'),
      ] as [string, string, string, string];
      const release = 'scoped';
      const name = 'scoped-mcpfleet-operator';
      // --skip-crds: the CRD is already there (and Helm would not touch it anyway).
      await helmCp([
        'install',
        release,
        CHART,
        '-n',
        ns,
        '--skip-crds',
        '--wait',
        '--timeout',
        '120s',
        '--set',
        `watchNamespaces={${teamA},${teamB}}`,
        '--set',
        'replicaCount=1',
      ]);
      const objects = await releaseObjects(release, ns);
      expect(
        objects
          .filter(([kind]) => kind === 'Role')
          .map(([, , namespace]) => namespace)
          .sort(),
      ).toEqual([ns, teamA, teamB].sort());
      expect(objects.filter(([kind]) => kind.startsWith('Cluster'))).toEqual([]);

      const sa = { namespace: ns, name };
      await expectAllowed(sa, [...operatorNeeds(teamA), ...operatorNeeds(teamB), ...leaderElectionNeeds(ns, name)]);
      await expectDenied(sa, [
        ...[other, samplesNs].flatMap((where) => [
          { verb: 'list', resource: 'mcpservers.mcpfleet.dev', where },
          ...CONFIG_RESOURCES.map((resource) => ({ verb: 'list', resource, where })),
          { verb: 'get', resource: 'configmaps', where },
          { verb: 'create', resource: 'deployments.apps', where },
          { verb: 'create', resource: 'roles.rbac.authorization.k8s.io', where },
          { verb: 'get', resource: 'pods', where },
          { verb: 'create', resource: 'pods', subresource: 'attach', where },
        ]),
        { verb: 'list', resource: 'mcpservers.mcpfleet.dev', where: '*' },
        { verb: 'list', resource: 'pods', where: '*' },
        ...operatorMustNot(teamA, ns),
      ]);

      running = await startChartOperator(kube, ns, name);
      expect(running.args).toContain(`--watch-namespace=${[teamA, teamB].sort().join(',')}`);
      const stdio = samples.find((s) => (s.spec.transport ?? 'stdio') === 'stdio') as Sample;
      const http = samples.find((s) => s.spec.transport === 'streamable-http') as Sample;
      await kube.ok(['apply', '-n', teamA, '-f', path.join(SAMPLES, stdio.file)]);
      await kube.ok(['apply', '-n', teamB, '-f', path.join(SAMPLES, http.file)]);
      await kube.ok(['apply', '-n', other, '-f', path.join(SAMPLES, stdio.file)]);
      await waitReady(kube, stdio.name, teamA, 120_000);
      await waitReady(kube, http.name, teamB, 120_000);
      await sleep(3_000);
      expect(((await kube.get('mcpserver', stdio.name, other))?.status as McpStatus | undefined)?.phase).toBeUndefined();
      expect(await kube.list('statefulsets,deployments', other)).toEqual([]);
      expect(await admissionFailures(kube, teamA)).toEqual([]);
      expect(await admissionFailures(kube, teamB)).toEqual([]);
      const lease = await kube.get('lease', name, ns);
      expect((lease?.spec as { holderIdentity?: string }).holderIdentity).toBe(running.podName);
      expect(running.operator.logs()).not.toMatch(/forbidden/i);

      await stopRunning();
      await helmCp(['uninstall', release, '-n', ns, '--wait', '--timeout', '120s']);
      for (const [kind, n, namespace] of objects) {
        await eventually(`${kind} ${n} to be deleted`, 60_000, () => isGone(kube, kind, n, namespace));
      }
    },
    TEST_TIMEOUT_MS,
  );
});
