// Pure functions MCPServer -> the objects that run and front it. Output is deterministic
// (sorted keys at every depth, stable list order), so an unchanged spec yields
// byte-identical objects, the same applied-hash, and no write.
import type {
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1EnvVarSource,
  V1PodSecurityContext,
  V1PodTemplateSpec,
  V1ResourceRequirements,
  V1Role,
  V1RoleBinding,
  V1SecurityContext,
  V1Service,
  V1ServiceAccount,
  V1StatefulSet,
  V1Volume,
} from '@kubernetes/client-node';
import type { ProxyContribution } from '../configs/configKind.ts';
import {
  DEFAULT_AUTHZ_CONFIG_KEY,
  PROXY_DEFAULTS,
  PROXY_METRICS_PORT,
  resolveSpec,
  type InlineAuthzConfig,
  type MCPServer,
  type ProxyDefaults,
  type ResolvedSpec,
  type ResourceRequirements,
} from '../api/types.ts';
import { proxyrunnerCommandLine, type ProxyrunnerOptions } from '../../../common/contract/proxyrunner.ts';
import { DEPLOYMENT, ROLE, ROLEBINDING, SERVICE, SERVICEACCOUNT, STATEFULSET, type DesiredObject } from '../../../common/kube/kinds.ts';
import { canonicalize, isPlainObject, sha256, sha256Canonical } from './canonical.ts';
import { strategicMerge } from './merge.ts';
import {
  APPLIED_HASH_ANNOTATION,
  BACKEND_CONTAINER,
  CONFIG_HASH_ANNOTATION,
  PROXY_CONTAINER,
  childNames,
  labels,
  namespaceOf,
  ownerReference,
  selectorLabels,
  selectorString,
  type Component,
} from './meta.ts';

/** A typed child: the client-node model's fields, with JSON metadata (timestamps are strings). */
export type Desired<T> = DesiredObject & Omit<T, 'apiVersion' | 'kind' | 'metadata' | 'status'>;

export interface BuildOptions {
  /** The proxyrunner image (operator flag --proxyrunner-image). */
  proxyrunnerImage: string;
  /** Pull secrets for the proxyrunner image, by name (--proxyrunner-image-pull-secrets); each must exist in the MCPServer's namespace. */
  proxyrunnerImagePullSecrets?: readonly string[];
  /** Session settings for servers that leave them unset (--default-session-idle-timeout, --default-max-sessions). */
  proxyDefaults?: ProxyDefaults;
}

/** UID/GID the MCP server runs as unless podTemplateSpec says otherwise (as ToolHive does). */
export const BACKEND_UID = 1000;
/** The proxyrunner image's non-root user ("nonroot", 65532, as in the Dockerfile). */
export const PROXY_UID = 65532;

export const DEFAULT_PROXY_RESOURCES: ResourceRequirements = {
  requests: { cpu: '50m', memory: '64Mi' },
  limits: { memory: '256Mi' },
};

/** The pod-level securityContext of the restricted Pod Security Standard. */
function podSecurity(uid: number): V1PodSecurityContext {
  return { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } };
}

/** The container-level securityContext of the restricted Pod Security Standard. */
function containerSecurity(): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function resourceRequirements(r: ResourceRequirements | undefined): V1ResourceRequirements | undefined {
  if (r === undefined) return undefined;
  const list = (l: Record<string, string | number | undefined> | undefined): Record<string, string> | undefined => {
    if (l === undefined) return undefined;
    const out: Record<string, string> = {};
    for (const key of Object.keys(l).sort()) {
      const value = l[key];
      if (value !== undefined) out[key] = String(value);
    }
    return Object.keys(out).length > 0 ? out : undefined;
  };
  const limits = list(r.limits as Record<string, string | number | undefined> | undefined);
  const requests = list(r.requests as Record<string, string | number | undefined> | undefined);
  if (limits === undefined && requests === undefined) return undefined;
  return { ...(limits && { limits }), ...(requests && { requests }) };
}

/** The metadata of an object the MCPServer owns (also used by config kinds for the children they contribute). */
export function childMeta(mcp: MCPServer, name: string, component: Component): DesiredObject['metadata'] {
  return {
    name,
    namespace: namespaceOf(mcp),
    labels: labels(mcp.metadata.name, component),
    ownerReferences: [ownerReference(mcp)],
  };
}

/**
 * Adds the applied-hash annotation (over everything else) and sorts the object. Every desired
 * object ends here. The object is sorted once: its hash is taken over that sorted copy as it is
 * (sha256Canonical), and only the metadata, which gains the annotation, is sorted again.
 */
export function finish<T extends DesiredObject>(obj: T): T {
  const sorted = canonicalize(obj);
  const hash = sha256Canonical(sorted);
  sorted.metadata = canonicalize({ ...sorted.metadata, annotations: { ...sorted.metadata.annotations, [APPLIED_HASH_ANNOTATION]: hash } });
  return sorted;
}

/** Adds the config-hash annotation to a pod template, computed over the rest of it. */
function withConfigHash(template: V1PodTemplateSpec): V1PodTemplateSpec {
  const hash = sha256(template);
  return {
    ...template,
    metadata: { ...template.metadata, annotations: { ...template.metadata?.annotations, [CONFIG_HASH_ANNOTATION]: hash } },
  };
}

/** User env in the order given ($(VAR) references need earlier definitions), then secrets. */
function backendEnv(spec: ResolvedSpec): V1EnvVar[] {
  const env: V1EnvVar[] = (spec.env ?? []).map((e) => {
    const out: V1EnvVar = { name: e.name };
    if (e.value !== undefined) out.value = e.value;
    if (e.valueFrom !== undefined) out.valueFrom = structuredClone(e.valueFrom);
    return out;
  });
  for (const s of spec.secrets ?? []) {
    env.push({ name: s.targetEnvName ?? s.key, valueFrom: { secretKeyRef: { name: s.name, key: s.key } } });
  }
  return env;
}

export function backendStatefulSet(mcp: MCPServer): Desired<V1StatefulSet> {
  const spec = resolveSpec(mcp.spec);
  const names = childNames(mcp.metadata.name);
  const http = spec.transport !== 'stdio';
  const container: V1Container = {
    name: BACKEND_CONTAINER,
    image: spec.image,
    securityContext: containerSecurity(),
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
  if (spec.args !== undefined && spec.args.length > 0) container.args = [...spec.args];
  const env = backendEnv(spec);
  if (env.length > 0) container.env = env;
  const resources = resourceRequirements(spec.resources);
  if (resources !== undefined) container.resources = resources;
  if (http) {
    const port = spec.mcpPort as number; // required by the CRD for HTTP transports
    container.ports = [{ name: 'mcp', containerPort: port, protocol: 'TCP' }];
    container.readinessProbe = { tcpSocket: { port: 'mcp' }, periodSeconds: 10, failureThreshold: 3 };
  } else {
    // The proxyrunner attaches to this container's stdin/stdout through pods/attach.
    container.stdin = true;
    container.stdinOnce = false;
    container.tty = false;
  }

  let template: V1PodTemplateSpec = {
    metadata: {
      labels: labels(mcp.metadata.name, 'backend'),
      annotations: { 'kubectl.kubernetes.io/default-container': BACKEND_CONTAINER },
    },
    spec: {
      automountServiceAccountToken: spec.serviceAccount !== undefined,
      // Always named: an omitted serviceAccountName is refilled from the deprecated
      // serviceAccount field the apiserver mirrors, so removing one would not take effect.
      serviceAccountName: spec.serviceAccount ?? 'default',
      enableServiceLinks: false,
      securityContext: podSecurity(BACKEND_UID),
      containers: [container],
      volumes: [{ name: 'tmp', emptyDir: {} }],
    },
  };
  if (spec.podTemplateSpec !== undefined && isPlainObject(spec.podTemplateSpec)) {
    template = strategicMerge(template, spec.podTemplateSpec) as V1PodTemplateSpec;
    // The selector labels are not the user's to change.
    template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, ...selectorLabels(mcp.metadata.name, 'backend') } };
  }

  return finish({
    apiVersion: STATEFULSET.apiVersion,
    kind: STATEFULSET.kind,
    metadata: childMeta(mcp, names.backend, 'backend'),
    spec: {
      replicas: spec.replicas === 0 ? 0 : (spec.backendReplicas ?? 1),
      // Always the same name, so switching transport never touches this immutable field.
      serviceName: names.backend,
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate' },
      revisionHistoryLimit: 3,
      selector: { matchLabels: selectorLabels(mcp.metadata.name, 'backend') },
      template: withConfigHash(template),
    },
  });
}

export function backendService(mcp: MCPServer): Desired<V1Service> {
  const spec = resolveSpec(mcp.spec);
  const port = spec.mcpPort as number;
  return finish({
    apiVersion: SERVICE.apiVersion,
    kind: SERVICE.kind,
    metadata: childMeta(mcp, childNames(mcp.metadata.name).backend, 'backend'),
    spec: {
      // Headless: the StatefulSet's governing Service; its name resolves to the MCP server
      // pod itself. Only the proxy talks to it, so it needs no virtual IP (one per server
      // would exhaust small service ranges).
      type: 'ClusterIP',
      clusterIP: 'None',
      selector: selectorLabels(mcp.metadata.name, 'backend'),
      ports: [{ name: 'mcp', port, targetPort: 'mcp', protocol: 'TCP' }],
    },
  });
}

/**
 * How this server's proxyrunner is started, as the proxyrunner's own contract types it
 * (common/contract/proxyrunner.ts): stdio attaches to the backend pod instead of spawning a
 * command; the memory budget comes from the container's limit.
 */
export function proxyOptions(
  mcp: MCPServer,
  defaults: ProxyDefaults = PROXY_DEFAULTS,
  contributions: readonly ProxyContribution[] = [],
): ProxyrunnerOptions<V1EnvVarSource> {
  const spec = resolveSpec(mcp.spec);
  const authz = spec.authzConfig;
  const redis = spec.sessionStorage?.provider === 'redis' ? spec.sessionStorage : undefined;
  const own: ProxyrunnerOptions<V1EnvVarSource> = {
    transport: spec.transport,
    ...(spec.transport !== 'stdio' && {
      targetUrl: `http://${childNames(mcp.metadata.name).backend}:${spec.mcpPort}${spec.transport === 'sse' ? '/sse' : '/mcp'}`,
    }),
    ...(spec.transport === 'stdio' && {
      attach: {
        namespace: namespaceOf(mcp),
        selector: selectorString(selectorLabels(mcp.metadata.name, 'backend')),
        container: BACKEND_CONTAINER,
        // backendReplicas N: one attach per pod (at most N), sessions spread over them. Unset: no
        // flag, so a proxy without it keeps the pod template (and the rollout) it had.
        ...(spec.backendReplicas !== undefined && { maxPods: Math.max(1, spec.backendReplicas) }),
      },
    }),
    proxyMode: spec.proxyMode,
    port: spec.proxyPort,
    metricsPort: PROXY_METRICS_PORT,
    sessionIdleTimeout: spec.sessionIdleTimeout ?? defaults.sessionIdleTimeout,
    maxSessions: spec.maxSessions ?? defaults.maxSessions,
    memoryLimit: { valueFrom: { resourceFieldRef: { containerName: PROXY_CONTAINER, resource: 'limits.memory' } } },
    ...(authz && authz.type !== 'inline' && authz.configMap && { authzConfigFile: `${AUTHZ_MOUNT_PATH}/${authz.configMap.key ?? DEFAULT_AUTHZ_CONFIG_KEY}` }),
    // In the pod template: an edit changes the config hash and rolls the proxy.
    ...(authz?.type === 'inline' && authz.inline && { authzConfigInline: inlineAuthzConfig(authz.inline) }),
    ...(spec.audit?.enabled && { audit: { component: mcp.metadata.name } }),
    ...(discoversBackends(mcp) && {
      backends: {
        service: childNames(mcp.metadata.name).backend,
        namespace: namespaceOf(mcp),
        port: 'mcp',
        // Only Replay is written: None is the proxy's default, so the argv (and the pods) of servers without the field stay as they were.
        ...(spec.sessionRecovery === 'Replay' && { recovery: 'replay' as const }),
      },
    }),
    ...(redis && {
      redis: {
        address: redis.address as string, // required by the CRD with provider redis
        db: redis.db ?? 0,
        keyPrefix: redis.keyPrefix ?? defaultKeyPrefix(mcp),
        // The password reaches the proxy through its environment only: never in args, never logged.
        ...(redis.passwordRef && { password: { valueFrom: { secretKeyRef: { name: redis.passwordRef.name, key: redis.passwordRef.key } } } }),
      },
    }),
  };
  // What referenced config kinds set (each kind sets its own options, so none overwrites another's).
  return Object.assign(own, ...contributions.map((c) => c.options ?? {})) as ProxyrunnerOptions<V1EnvVarSource>;
}

/** backendReplicas set: the proxy finds the backend pods through the API (EndpointSlices), so it needs a token and a Role. */
export function discoversBackends(mcp: MCPServer): boolean {
  const spec = resolveSpec(mcp.spec);
  return spec.backendReplicas !== undefined && spec.transport === 'streamable-http' && spec.proxyMode === 'streamable-http';
}

/** One Redis may serve many MCPServers: each gets its own key space unless it names one. */
export function defaultKeyPrefix(mcp: MCPServer): string {
  return `mcpfleet:${namespaceOf(mcp)}:${mcp.metadata.name}`;
}

/** Where the authorization ConfigMap is mounted in the proxy (the whole map: kubelet's ..data swap reaches the file). */
export const AUTHZ_MOUNT_PATH = '/etc/mcpfleet/authz';
const AUTHZ_VOLUME = 'authz-config';

/** Inline policies in ToolHive's config file format, for --authz-config-inline (through the environment). */
export function inlineAuthzConfig(inline: InlineAuthzConfig): string {
  return JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies: inline.policies, entities_json: inline.entitiesJson ?? '[]' } });
}

/**
 * The proxyrunner's flags. Only flags: the image's entrypoint (tini, node, the program) runs
 * them, so the operator does not depend on where the image keeps its files, and tini stays PID 1.
 */
export function proxyArgs(mcp: MCPServer, defaults: ProxyDefaults = PROXY_DEFAULTS, contributions: readonly ProxyContribution[] = []): string[] {
  return proxyrunnerCommandLine(proxyOptions(mcp, defaults, contributions)).args;
}

export function proxyDeployment(mcp: MCPServer, opts: BuildOptions, contributions: readonly ProxyContribution[] = []): Desired<V1Deployment> {
  const spec = resolveSpec(mcp.spec);
  const names = childNames(mcp.metadata.name);
  const stdio = spec.transport === 'stdio';
  const commandLine = proxyrunnerCommandLine(proxyOptions(mcp, opts.proxyDefaults, contributions));
  const usesApi = stdio || discoversBackends(mcp);
  const container: V1Container = {
    name: PROXY_CONTAINER,
    image: opts.proxyrunnerImage,
    args: commandLine.args,
    env: commandLine.env,
    ports: [
      { name: 'mcp', containerPort: spec.proxyPort, protocol: 'TCP' },
      { name: 'metrics', containerPort: PROXY_METRICS_PORT, protocol: 'TCP' },
    ],
    readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' }, periodSeconds: 5, failureThreshold: 3 },
    livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 10, failureThreshold: 6 },
    resources: resourceRequirements(spec.proxyResources ?? DEFAULT_PROXY_RESOURCES),
    securityContext: containerSecurity(),
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
  const volumes: V1Volume[] = [{ name: 'tmp', emptyDir: {} }];
  const authz = spec.authzConfig;
  if (authz && authz.type !== 'inline' && authz.configMap) {
    // Only the ConfigMap's name is in the template: its content changes reach the proxy as
    // a file update (hot reload), not as a rollout.
    container.volumeMounts?.push({ name: AUTHZ_VOLUME, mountPath: AUTHZ_MOUNT_PATH, readOnly: true });
    volumes.push({ name: AUTHZ_VOLUME, configMap: { name: authz.configMap.name } });
  }
  const podAnnotations: Record<string, string> = {};
  for (const c of contributions) {
    container.volumeMounts?.push(...(c.volumeMounts ?? []));
    volumes.push(...(c.volumes ?? []));
    Object.assign(podAnnotations, c.podAnnotations);
  }
  const template: V1PodTemplateSpec = {
    metadata: { labels: labels(mcp.metadata.name, 'proxy'), ...(Object.keys(podAnnotations).length > 0 && { annotations: podAnnotations }) },
    spec: {
      // Only stdio proxies (pods/attach) and proxies of several backend pods (EndpointSlices)
      // talk to the API; the others get no token at all.
      automountServiceAccountToken: usesApi,
      serviceAccountName: usesApi ? names.proxy : 'default',
      enableServiceLinks: false,
      ...(opts.proxyrunnerImagePullSecrets?.length && {
        imagePullSecrets: [...new Set(opts.proxyrunnerImagePullSecrets)].sort().map((name) => ({ name })),
      }),
      securityContext: podSecurity(PROXY_UID),
      containers: [container],
      volumes,
    },
  };
  return finish({
    apiVersion: DEPLOYMENT.apiVersion,
    kind: DEPLOYMENT.kind,
    metadata: childMeta(mcp, names.proxy, 'proxy'),
    spec: {
      // Unset: not ours to assert (ToolHive's rule), so server-side apply leaves the field to
      // whoever scales the Deployment (an HPA) and the drift check never sees it.
      ...(spec.replicas !== undefined && { replicas: spec.replicas }),
      revisionHistoryLimit: 3,
      selector: { matchLabels: selectorLabels(mcp.metadata.name, 'proxy') },
      // A stdio server has one stdin: never two proxies attached at once.
      strategy: stdio ? { type: 'Recreate' } : { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: withConfigHash(template),
    },
  });
}

export function proxyService(mcp: MCPServer): Desired<V1Service> {
  const spec = resolveSpec(mcp.spec);
  return finish({
    apiVersion: SERVICE.apiVersion,
    kind: SERVICE.kind,
    metadata: childMeta(mcp, childNames(mcp.metadata.name).proxy, 'proxy'),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(mcp.metadata.name, 'proxy'),
      // ClientIP (the default): sessions living in one proxy replica's memory keep their client on it.
      sessionAffinity: spec.sessionAffinity,
      ports: [
        { name: 'mcp', port: spec.proxyPort, targetPort: 'mcp', protocol: 'TCP' },
        { name: 'metrics', port: PROXY_METRICS_PORT, targetPort: 'metrics', protocol: 'TCP' },
      ],
    },
  });
}

/**
 * What the proxyrunner may do in the API, nothing more: stdio, find the backend pods and attach
 * to them (the same rules for one pod or backendReplicas N); HTTP backendReplicas, read the
 * backend EndpointSlices (the Service's, in this namespace).
 */
export function proxyRbac(mcp: MCPServer): [Desired<V1ServiceAccount>, Desired<V1Role>, Desired<V1RoleBinding>] {
  const stdio = resolveSpec(mcp.spec).transport === 'stdio';
  const names = childNames(mcp.metadata.name);
  const sa = finish({
    apiVersion: SERVICEACCOUNT.apiVersion,
    kind: SERVICEACCOUNT.kind,
    metadata: childMeta(mcp, names.proxy, 'proxy'),
    automountServiceAccountToken: false, // the pod opts in explicitly
  });
  const role = finish({
    apiVersion: ROLE.apiVersion,
    kind: ROLE.kind,
    metadata: childMeta(mcp, names.proxy, 'proxy'),
    rules: stdio
      ? [
          { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
          // WebSocket attach is a GET upgrade; SPDY attach is a POST (create).
          { apiGroups: [''], resources: ['pods/attach'], verbs: ['create', 'get'] },
        ]
      : // list+watch by label selector: a Role cannot name slices (their names are generated).
        [{ apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] }],
  });
  const binding = finish({
    apiVersion: ROLEBINDING.apiVersion,
    kind: ROLEBINDING.kind,
    metadata: childMeta(mcp, names.proxy, 'proxy'),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: names.proxy },
    subjects: [{ kind: 'ServiceAccount', name: names.proxy, namespace: namespaceOf(mcp) }],
  });
  return [sa, role, binding];
}

/** Everything that should exist for this MCPServer, in apply order; contributions: from the config kinds it references. */
export function desiredObjects(mcp: MCPServer, opts: BuildOptions, contributions: readonly ProxyContribution[] = []): DesiredObject[] {
  const spec = resolveSpec(mcp.spec);
  const out: DesiredObject[] = [];
  if (spec.transport === 'stdio') out.push(...proxyRbac(mcp));
  else out.push(...(discoversBackends(mcp) ? proxyRbac(mcp) : []), backendService(mcp));
  out.push(...contributions.flatMap((c) => c.children ?? []));
  out.push(backendStatefulSet(mcp), proxyService(mcp), proxyDeployment(mcp, opts, contributions));
  return out;
}
