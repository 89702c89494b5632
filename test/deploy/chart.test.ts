// The Helm chart without a cluster: helm lint, what values.schema.json refuses (and how it says
// so), what the templates render for the values that change their shape, and that deploy/ is
// what scripts/gen-deploy.ts makes of the chart.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { cp as copy, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { ensureBinaries } from '../control-plane/controlPlane.ts';
import { CHART, exec, find, helm, renderChart } from '../support/helm.ts';
import type { Obj } from '../support/kube.ts';
import { ROOT } from '../support/processes.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const TIMEOUT_MS = 60_000;

let binDir: string;

interface Container {
  name: string;
  image: string;
  command?: string[];
  args: string[];
  env: { name: string; valueFrom?: unknown }[];
  securityContext: Record<string, unknown>;
  resources: { limits: Record<string, string> };
}
const operatorContainer = (objs: Obj[]): Container => {
  const [deployment] = find(objs, 'Deployment');
  const spec = deployment?.spec as { template: { spec: { containers: Container[] } } };
  return spec.template.spec.containers[0] as Container;
};
const rulesOf = (objs: Obj[]): { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[] =>
  objs.flatMap((o) => (o.rules as never[] | undefined) ?? []);

describe('charts/mcpfleet', () => {
  beforeAll(async () => {
    binDir = await ensureBinaries();
  }, BUILD_TIMEOUT_MS);

  it(
    'passes helm lint --strict with the defaults and with every optional part on',
    async () => {
      for (const set of [
        [],
        [
          'watchNamespaces={team-a,team-b}',
          'monitoring.serviceMonitor.enabled=true',
          'monitoring.podMonitor.enabled=true',
          'monitoring.prometheusRule.enabled=true',
          'monitoring.dashboard.enabled=true',
          'proxyrunner.maxSessions=500',
          'proxyrunner.sessionIdleTimeout=1h',
          'proxyrunner.imagePullSecrets={regcred}',
        ],
      ]) {
        const res = await helm(binDir, ['lint', '--strict', CHART, ...set.flatMap((s) => ['--set', s])]);
        expect(`${res.stdout}${res.stderr}`).toContain('1 chart(s) linted, 0 chart(s) failed');
        expect(res.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
        expect(res.code).toBe(0);
      }
    },
    TIMEOUT_MS,
  );

  it(
    'refuses a value of the wrong type, an unknown key and a bad enum or duration, naming the value',
    async () => {
      const cases: [string[], RegExp][] = [
        [['replicaCount=abc'], /at '\/replicaCount': got string, want integer/],
        [['replicaCuont=3'], /additional properties 'replicaCuont' not allowed/],
        [['monitoring.podMonitor.enabeld=true'], /at '\/monitoring\/podMonitor': additional properties 'enabeld' not allowed/],
        [['logLevel=verbose'], /at '\/logLevel': value must be one of 'debug', 'info', 'warn', 'error'/],
        [['proxyrunner.sessionIdleTimeout=half-an-hour'], /at '\/proxyrunner\/sessionIdleTimeout'/],
        [['proxyrunner.maxSessions=0'], /at '\/proxyrunner\/maxSessions': minimum: got 0, want 1/],
        [['watchNamespaces={Team_A}'], /at '\/watchNamespaces\/0'/],
      ];
      for (const [set, message] of cases) {
        const res = await helm(binDir, ['template', 'x', CHART, ...set.flatMap((s) => ['--set', s])]);
        expect(res.code).not.toBe(0);
        expect(res.stderr).toContain("values don't meet the specifications of the schema");
        expect(res.stderr).toMatch(message);
      }
      // And the templates' own guard: several replicas without leader election would all write.
      const res = await helm(binDir, ['template', 'x', CHART, '--set', 'leaderElection.enabled=false']);
      expect(res.code).not.toBe(0);
      expect(res.stderr).toContain('replicaCount > 1 needs leaderElection.enabled');
      const single = await renderChart(binDir, ['leaderElection.enabled=false', 'replicaCount=1']);
      expect(operatorContainer(single).args).toContain('--leader-elect=false');
      expect(find(single, 'Role')).toEqual([]);
      expect(find(single, 'PodDisruptionBudget')).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it(
    'renders the operator Deployment from values: images, flags, env, probes, restricted security',
    async () => {
      const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
      const chart = parse(await readFile(path.join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
      expect(chart.appVersion).toBe(pkg.version);

      const defaults = operatorContainer(await renderChart(binDir));
      expect(defaults.image).toBe(`ghcr.io/mcpfleet/operator:${pkg.version}`);
      // The image's entrypoint (tini, then node dist/operator/src/main.js) runs; only flags here.
      expect(defaults.command).toBeUndefined();
      expect(defaults.args).toEqual([
        `--proxyrunner-image=ghcr.io/mcpfleet/proxyrunner:${pkg.version}`,
        '--leader-elect=true',
        '--leader-election-id=mcpfleet-operator',
        '--log-level=info',
        '--metrics-port=9464',
        '--concurrency=8',
        '--resync-period=10m',
      ]);
      expect(defaults.env.map((e) => e.name)).toEqual(['POD_NAMESPACE', 'POD_NAME', 'MCPFLEET_MEMORY_LIMIT']);
      expect(defaults.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });

      const objs = await renderChart(binDir, [
        'image.tag=1.2.3',
        'proxyrunner.image.digest=sha256:' + 'a'.repeat(64),
        'watchNamespaces={team-b,team-a,team-b}',
        'logLevel=debug',
        'proxyrunner.sessionIdleTimeout=1h30m',
        'proxyrunner.maxSessions=500',
        'proxyrunner.imagePullSecrets={regcred,mirror}',
        'extraArgs={--requeue-max-delay=2m}',
        'replicaCount=3',
      ]);
      const c = operatorContainer(objs);
      expect(c.image).toBe('ghcr.io/mcpfleet/operator:1.2.3');
      expect(c.args).toEqual([
        `--proxyrunner-image=ghcr.io/mcpfleet/proxyrunner@sha256:${'a'.repeat(64)}`,
        '--watch-namespace=team-a,team-b',
        '--leader-elect=true',
        '--leader-election-id=mcpfleet-operator',
        '--log-level=debug',
        '--metrics-port=9464',
        '--concurrency=8',
        '--resync-period=10m',
        '--default-session-idle-timeout=1h30m',
        '--default-max-sessions=500',
        '--proxyrunner-image-pull-secrets=regcred,mirror',
        '--requeue-max-delay=2m',
      ]);
      expect((find(objs, 'Deployment')[0]?.spec as { replicas: number }).replicas).toBe(3);
    },
    TIMEOUT_MS,
  );

  it(
    'grants cluster-wide with no watchNamespaces, else a Role per watched namespace; leader election only in the release namespace',
    async () => {
      const all = await renderChart(binDir);
      expect(find(all, 'ClusterRole').map((o) => o.metadata.name)).toEqual(['mcpfleet-operator']);
      expect(find(all, 'ClusterRoleBinding').map((o) => o.metadata.name)).toEqual(['mcpfleet-operator']);
      expect(find(all, 'Role').map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['mcpfleet-system/mcpfleet-operator-leader-election']);
      const clusterRules = rulesOf(find(all, 'ClusterRole'));
      expect(clusterRules.some((r) => r.resources.includes('secrets') || r.resources.includes('*') || r.verbs.includes('*'))).toBe(false);
      // ConfigMaps: the authz file rendered from an MCPAuthzConfig, and the referenced ones watched (authzConfig, caBundleRef).
      expect(clusterRules.find((r) => r.resources.includes('configmaps'))?.verbs).toEqual(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']);
      expect(clusterRules.find((r) => r.resources.includes('pods/attach'))?.verbs).toEqual(['create', 'get']);

      const some = await renderChart(binDir, ['watchNamespaces={team-b,team-a}']);
      expect(find(some, 'ClusterRole')).toEqual([]);
      expect(find(some, 'ClusterRoleBinding')).toEqual([]);
      expect(
        find(some, 'Role')
          .map((o) => `${o.metadata.namespace}/${o.metadata.name}`)
          .sort(),
      ).toEqual(['mcpfleet-system/mcpfleet-operator-leader-election', 'team-a/mcpfleet-operator', 'team-b/mcpfleet-operator']);
      expect(rulesOf(find(some, 'Role', 'mcpfleet-operator', 'team-a'))).toEqual(clusterRules);
      for (const binding of find(some, 'RoleBinding')) {
        expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'mcpfleet-operator', namespace: 'mcpfleet-system' }]);
      }
      const lease = rulesOf(find(some, 'Role', 'mcpfleet-operator-leader-election')).filter((r) => r.resources.includes('leases'));
      expect(lease).toEqual([
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['mcpfleet-operator'], verbs: ['get', 'list', 'watch', 'update'] },
      ]);
    },
    TIMEOUT_MS,
  );

  it(
    'renders the monitoring objects only when asked: ServiceMonitor, PodMonitor, PrometheusRule, dashboard ConfigMap',
    async () => {
      const kinds = (objs: Obj[]): string[] =>
        objs.map((o) => o.kind).filter((k) => ['ServiceMonitor', 'PodMonitor', 'PrometheusRule', 'ConfigMap'].includes(k));
      expect(kinds(await renderChart(binDir))).toEqual([]);

      const objs = await renderChart(binDir, [
        'monitoring.serviceMonitor.enabled=true',
        'monitoring.serviceMonitor.labels.release=prom',
        'monitoring.podMonitor.enabled=true',
        'monitoring.prometheusRule.enabled=true',
        'monitoring.dashboard.enabled=true',
        'monitoring.dashboard.namespace=grafana',
        'monitoring.dashboard.labelKey=dashboards',
        'monitoring.dashboard.labelValue=mcp',
      ]);
      expect(kinds(objs).sort()).toEqual(['ConfigMap', 'PodMonitor', 'PrometheusRule', 'ServiceMonitor']);

      const [sm] = find(objs, 'ServiceMonitor');
      expect(sm?.metadata.labels?.['release']).toBe('prom');
      const [service] = find(objs, 'Service');
      expect((sm?.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels).toEqual(
        (service?.spec as { selector: unknown }).selector,
      );
      // The per-MCPServer gauges carry the MCPServer's namespace, which the alerts group by.
      expect((sm?.spec as { endpoints: { port: string; honorLabels: boolean }[] }).endpoints).toMatchObject([{ port: 'metrics', honorLabels: true }]);

      const [pm] = find(objs, 'PodMonitor');
      expect(pm?.spec).toMatchObject({
        selector: { matchLabels: { 'app.kubernetes.io/component': 'proxy', 'app.kubernetes.io/managed-by': 'mcpfleet-operator' } },
        namespaceSelector: { any: true },
        podMetricsEndpoints: [
          { port: 'metrics', relabelings: [{ sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_instance'], targetLabel: 'mcpserver' }] },
        ],
      });

      const [rule] = find(objs, 'PrometheusRule');
      const ruleFile = parse(await readFile(path.join(CHART, 'files/prometheus-rules.yaml'), 'utf8')) as { groups: unknown[] };
      expect(ruleFile.groups.length).toBeGreaterThan(0);
      expect(rule?.spec).toEqual({ groups: ruleFile.groups });

      const [dashboard] = find(objs, 'ConfigMap');
      expect(dashboard?.metadata.namespace).toBe('grafana');
      expect(dashboard?.metadata.labels?.['dashboards']).toBe('mcp');
      const json = await readFile(path.join(CHART, 'files/dashboard.json'), 'utf8');
      expect(JSON.parse((dashboard?.data as Record<string, string>)['mcpfleet.json'] as string)).toEqual(JSON.parse(json));

      const scoped = await renderChart(binDir, ['monitoring.podMonitor.enabled=true', 'watchNamespaces={team-a}']);
      expect((find(scoped, 'PodMonitor')[0]?.spec as { namespaceSelector: unknown }).namespaceSelector).toEqual({ matchNames: ['team-a'] });
    },
    TIMEOUT_MS,
  );

  it(
    'keeps deploy/ generated from the chart: npm run deploy:check passes, and fails once the chart changes',
    async () => {
      const env = { HELM: path.join(binDir, 'helm') };
      const ok = await exec(process.execPath, [path.join(ROOT, 'scripts/gen-deploy.ts'), '--check'], { env });
      expect(`${ok.stderr}${ok.stdout}`).toContain('up to date');
      expect(ok.code).toBe(0);

      // The chart's crds/ is a copy of deploy/crd/.
      expect(await readFile(path.join(CHART, 'crds/mcpfleet.dev_mcpservers.yaml'), 'utf8')).toBe(
        await readFile(path.join(ROOT, 'deploy/crd/mcpfleet.dev_mcpservers.yaml'), 'utf8'),
      );

      // A copy of the tree whose chart says 3 replicas: its deploy/ is now stale.
      const tmp = await mkdtemp(path.join(os.tmpdir(), 'mcpfleet-gen-'));
      try {
        await copy(path.join(ROOT, 'charts'), path.join(tmp, 'charts'), { recursive: true });
        await copy(path.join(ROOT, 'deploy'), path.join(tmp, 'deploy'), { recursive: true });
        const values = path.join(tmp, 'charts/mcpfleet/values.yaml');
        await writeFile(values, (await readFile(values, 'utf8')).replace(/^replicaCount: 2$/m, 'replicaCount: 3'));
        const stale = await exec(process.execPath, [path.join(ROOT, 'scripts/gen-deploy.ts'), '--check', '--root', tmp], { env });
        expect(stale.code).toBe(1);
        expect(stale.stderr).toMatch(
          /deploy\/install\.yaml is out of date with the chart: differs from line \d+: has " {2}replicas: 2", generated " {2}replicas: 3"/,
        );
        const tmpDir = /generated files are in (\S+) for a diff/.exec(stale.stderr)?.[1];
        if (tmpDir !== undefined) await rm(tmpDir, { recursive: true, force: true });
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    },
    TIMEOUT_MS,
  );
});
