// The operator's flags (table and parsing in common/cli/flags.ts, shared with the
// proxyrunner), with the conventional WATCH_NAMESPACE, POD_NAMESPACE, POD_NAME fallbacks.
import os from 'node:os';
import { envName, helpText as renderHelp, parseFlags, UsageError, type FlagSpec } from '../../common/cli/flags.ts';
import type { LogLevel } from '../../common/log.ts';
import { formatBytes, formatDuration, parseDuration } from '../../common/quantity.ts';
import { PROXY_DEFAULTS, type ProxyDefaults } from './api/types.ts';
import { VERSION } from './version.ts';

export interface OperatorConfig {
  kubeconfig: string | undefined;
  /** undefined: every namespace. */
  watchNamespaces: string[] | undefined;
  proxyrunnerImage: string;
  proxyrunnerImagePullSecrets: string[];
  proxyDefaults: ProxyDefaults;
  metricsHost: string;
  metricsPort: number;
  concurrency: number;
  resyncPeriodMs: number;
  requeueBaseDelayMs: number;
  requeueMaxDelayMs: number;
  leaderElect: boolean;
  leaderElectionNamespace: string | undefined;
  leaderElectionId: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  identity: string;
  logLevel: LogLevel;
  shutdownTimeoutMs: number;
  /** Sizes the V8 heap; undefined: the cgroup limit, if any. */
  memoryLimitBytes: number | undefined;
}

export const DEFAULT_PROXYRUNNER_IMAGE = `ghcr.io/mcpfleet/proxyrunner:${VERSION}`;

const FLAGS: readonly FlagSpec[] = [
  {
    name: 'kubeconfig',
    kind: 'string',
    help: 'kubeconfig file (default: the first file in $KUBECONFIG, else the in-cluster ServiceAccount, else ~/.kube/config)',
  },
  { name: 'watch-namespace', kind: 'string', default: '', env: ['WATCH_NAMESPACE'], help: 'namespace(s) to watch, comma-separated; empty watches all' },
  { name: 'proxyrunner-image', kind: 'string', default: DEFAULT_PROXYRUNNER_IMAGE, help: 'image of the proxyrunner Deployments the operator creates' },
  {
    name: 'proxyrunner-image-pull-secrets',
    kind: 'string',
    default: '',
    help: "Secrets (comma-separated names) the proxyrunner pods pull their image with; each must exist in the MCPServer's namespace",
  },
  {
    name: 'default-session-idle-timeout',
    kind: 'duration',
    default: PROXY_DEFAULTS.sessionIdleTimeout,
    help: 'sessionIdleTimeout of MCPServers that do not set it',
  },
  { name: 'default-max-sessions', kind: 'int', default: String(PROXY_DEFAULTS.maxSessions), help: 'maxSessions of MCPServers that do not set it' },
  { name: 'metrics-host', kind: 'string', default: '0.0.0.0', help: 'address of the /metrics, /healthz and /readyz listener' },
  { name: 'metrics-port', kind: 'int', default: '9464', help: 'port of /metrics, /healthz and /readyz' },
  { name: 'concurrency', kind: 'int', default: '8', help: 'MCPServers reconciled at the same time' },
  { name: 'resync-period', kind: 'duration', default: '10m', help: 'reconcile every MCPServer at least this often (writes only on drift)' },
  { name: 'requeue-base-delay', kind: 'duration', default: '500ms', help: 'first retry delay of a failed reconcile; doubles per consecutive failure' },
  { name: 'requeue-max-delay', kind: 'duration', default: '5m', help: 'longest retry delay of a failed reconcile' },
  { name: 'leader-elect', kind: 'bool', default: 'true', help: 'hold a Lease so only one replica writes; --leader-elect=false for a single replica' },
  {
    name: 'leader-election-namespace',
    kind: 'string',
    env: ['POD_NAMESPACE'],
    help: "namespace of the Lease (default: the pod's, else the kubeconfig context's, else default)",
  },
  { name: 'leader-election-id', kind: 'string', default: 'mcpfleet-operator', help: 'name of the Lease' },
  { name: 'lease-duration', kind: 'duration', default: '15s', help: 'how long a Lease not renewed keeps others from taking over' },
  { name: 'renew-deadline', kind: 'duration', default: '10s', help: 'the leader stops writing when it could not renew for this long' },
  { name: 'retry-period', kind: 'duration', default: '2s', help: 'interval of Lease renewals and acquisition attempts' },
  { name: 'identity', kind: 'string', env: ['POD_NAME'], help: 'leader election identity (default: hostname_pid)' },
  { name: 'log-level', kind: 'string', default: 'info', choices: ['debug', 'info', 'warn', 'error'], help: 'least severe level logged' },
  { name: 'shutdown-timeout', kind: 'duration', default: '30s', help: 'on SIGTERM, time allowed for in-flight reconciles before exiting' },
  { name: 'memory-limit', kind: 'bytes', help: 'memory budget that caps the V8 heap (default: the cgroup limit, if any)' },
];

export { envName, UsageError };

export function helpText(): string {
  return renderHelp(FLAGS, {
    usage: 'mcpfleet-operator [flags]',
    about: [
      'Reconciles MCPServer resources (mcpfleet.dev/v1alpha1) into MCP servers running behind the',
      'mcpfleet proxyrunner: StatefulSet, Services, proxy Deployment and, for stdio, RBAC.',
    ],
    examples: ['mcpfleet-operator --kubeconfig ~/.kube/config --watch-namespace team-a,team-b --leader-elect=false'],
  });
}

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig | 'help' {
  const flags = parseFlags(FLAGS, argv, env);
  if (flags === 'help') return 'help';

  const namespaces = flags.list('watch-namespace');
  const config: OperatorConfig = {
    kubeconfig: flags.string('kubeconfig') || undefined,
    watchNamespaces: namespaces.length === 0 ? undefined : namespaces.sort(),
    proxyrunnerImage: (flags.string('proxyrunner-image') ?? '').trim(),
    proxyrunnerImagePullSecrets: flags.list('proxyrunner-image-pull-secrets').sort(),
    proxyDefaults: {
      // Passed on verbatim (the proxyrunner parses it again); parsed here only to fail early.
      sessionIdleTimeout: formatDuration(flags.duration('default-session-idle-timeout')),
      maxSessions: flags.int('default-max-sessions', 1, 10_000_000),
    },
    metricsHost: flags.string('metrics-host') as string,
    metricsPort: flags.int('metrics-port', 0, 65535),
    concurrency: flags.int('concurrency', 1, 256),
    resyncPeriodMs: flags.duration('resync-period'),
    requeueBaseDelayMs: flags.duration('requeue-base-delay'),
    requeueMaxDelayMs: flags.duration('requeue-max-delay'),
    leaderElect: flags.bool('leader-elect'),
    leaderElectionNamespace: flags.string('leader-election-namespace') || undefined,
    leaderElectionId: flags.string('leader-election-id') as string,
    leaseDurationMs: flags.duration('lease-duration'),
    renewDeadlineMs: flags.duration('renew-deadline'),
    retryPeriodMs: flags.duration('retry-period'),
    identity: flags.string('identity') || `${os.hostname()}_${process.pid}`,
    logLevel: flags.string('log-level') as LogLevel,
    shutdownTimeoutMs: flags.duration('shutdown-timeout'),
    memoryLimitBytes: flags.optionalBytes('memory-limit'),
  };
  if (config.proxyrunnerImage === '') throw new UsageError('--proxyrunner-image must not be empty');
  const badSecret = config.proxyrunnerImagePullSecrets.find((name) => !DNS_SUBDOMAIN.test(name));
  if (badSecret !== undefined) throw new UsageError(`--proxyrunner-image-pull-secrets: "${badSecret}" is not a valid Secret name`);
  if (config.leaderElect) {
    if (!(config.renewDeadlineMs < config.leaseDurationMs)) throw new UsageError('--renew-deadline must be shorter than --lease-duration');
    if (!(config.retryPeriodMs < config.renewDeadlineMs)) throw new UsageError('--retry-period must be shorter than --renew-deadline');
  }
  if (config.resyncPeriodMs <= 0) throw new UsageError('--resync-period must be positive');
  if (parseDuration(config.proxyDefaults.sessionIdleTimeout) <= 0) throw new UsageError('--default-session-idle-timeout must be positive');
  return config;
}

/** A Secret's name: an RFC 1123 DNS subdomain. */
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A flat, loggable view of the effective configuration. */
export function describeConfig(config: OperatorConfig): Record<string, unknown> {
  return {
    watchNamespaces: config.watchNamespaces?.join(',') ?? '*',
    proxyrunnerImage: config.proxyrunnerImage,
    proxyrunnerImagePullSecrets: config.proxyrunnerImagePullSecrets.join(',') || undefined,
    defaultSessionIdleTimeout: config.proxyDefaults.sessionIdleTimeout,
    defaultMaxSessions: config.proxyDefaults.maxSessions,
    concurrency: config.concurrency,
    resyncPeriod: formatDuration(config.resyncPeriodMs),
    memoryLimit: config.memoryLimitBytes === undefined ? 'none' : formatBytes(config.memoryLimitBytes),
    leaderElect: config.leaderElect,
    ...(config.leaderElect && {
      lease: `${config.leaderElectionNamespace ?? '(auto)'}/${config.leaderElectionId}`,
      leaseDuration: formatDuration(config.leaseDurationMs),
      renewDeadline: formatDuration(config.renewDeadlineMs),
      retryPeriod: formatDuration(config.retryPeriodMs),
      identity: config.identity,
    }),
  };
}
