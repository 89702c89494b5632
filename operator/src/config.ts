// Command-line flags of the operator, each with an MCPFLEET_* environment fallback (and the
// conventional KUBECONFIG, WATCH_NAMESPACE, POD_NAMESPACE, POD_NAME), and the --help text
// generated from the same table so the two cannot disagree.
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { LogLevel } from '../../proxyrunner/src/log.ts';
import { formatBytes, formatDuration, parseBytes, parseDuration } from '../../proxyrunner/src/quantity.ts';
import { VERSION } from './version.ts';

export interface OperatorConfig {
  kubeconfig: string | undefined;
  /** undefined: every namespace. */
  watchNamespaces: string[] | undefined;
  proxyrunnerImage: string;
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

type Kind = 'string' | 'int' | 'duration' | 'bool' | 'bytes';

interface FlagSpec {
  name: string;
  kind: Kind;
  default?: string;
  choices?: readonly string[];
  /** Conventional environment variables read before MCPFLEET_*. */
  env?: readonly string[];
  help: string;
}

export const DEFAULT_PROXYRUNNER_IMAGE = `ghcr.io/mcpfleet/proxyrunner:${VERSION}`;

const FLAGS: readonly FlagSpec[] = [
  { name: 'kubeconfig', kind: 'string', help: 'kubeconfig file (default: the first file in $KUBECONFIG, else the in-cluster ServiceAccount, else ~/.kube/config)' },
  { name: 'watch-namespace', kind: 'string', default: '', env: ['WATCH_NAMESPACE'], help: 'namespace(s) to watch, comma-separated; empty watches all' },
  { name: 'proxyrunner-image', kind: 'string', default: DEFAULT_PROXYRUNNER_IMAGE, help: 'image of the proxyrunner Deployments the operator creates' },
  { name: 'metrics-host', kind: 'string', default: '0.0.0.0', help: 'address of the /metrics, /healthz and /readyz listener' },
  { name: 'metrics-port', kind: 'int', default: '9464', help: 'port of /metrics, /healthz and /readyz' },
  { name: 'concurrency', kind: 'int', default: '8', help: 'MCPServers reconciled at the same time' },
  { name: 'resync-period', kind: 'duration', default: '10m', help: 'reconcile every MCPServer at least this often (writes only on drift)' },
  { name: 'requeue-base-delay', kind: 'duration', default: '500ms', help: 'first retry delay of a failed reconcile; doubles per consecutive failure' },
  { name: 'requeue-max-delay', kind: 'duration', default: '5m', help: 'longest retry delay of a failed reconcile' },
  { name: 'leader-elect', kind: 'bool', default: 'true', help: 'hold a Lease so only one replica writes; --leader-elect=false for a single replica' },
  { name: 'leader-election-namespace', kind: 'string', env: ['POD_NAMESPACE'], help: 'namespace of the Lease (default: the pod\'s, else the kubeconfig context\'s, else default)' },
  { name: 'leader-election-id', kind: 'string', default: 'mcpfleet-operator', help: 'name of the Lease' },
  { name: 'lease-duration', kind: 'duration', default: '15s', help: 'how long a Lease not renewed keeps others from taking over' },
  { name: 'renew-deadline', kind: 'duration', default: '10s', help: 'the leader stops writing when it could not renew for this long' },
  { name: 'retry-period', kind: 'duration', default: '2s', help: 'interval of Lease renewals and acquisition attempts' },
  { name: 'identity', kind: 'string', env: ['POD_NAME'], help: 'leader election identity (default: hostname_pid)' },
  { name: 'log-level', kind: 'string', default: 'info', choices: ['debug', 'info', 'warn', 'error'], help: 'least severe level logged' },
  { name: 'shutdown-timeout', kind: 'duration', default: '30s', help: 'on SIGTERM, time allowed for in-flight reconciles before exiting' },
  { name: 'memory-limit', kind: 'bytes', help: 'memory budget that caps the V8 heap (default: the cgroup limit, if any)' },
];

export const envName = (flag: string): string => `MCPFLEET_${flag.toUpperCase().replaceAll('-', '_')}`;

export class UsageError extends Error {}

export function helpText(): string {
  const lines = [
    'Usage: mcpfleet-operator [flags]',
    '',
    'Reconciles MCPServer resources (mcpfleet.dev/v1alpha1) into MCP servers running behind the',
    'mcpfleet proxyrunner: StatefulSet, Services, proxy Deployment and, for stdio, RBAC.',
    '',
    'Flags (each also read from the environment variables shown, in that order):',
  ];
  for (const flag of FLAGS) {
    const meta = flag.choices ? flag.choices.join('|') : flag.kind === 'bool' ? '[=true|false]' : flag.kind.toUpperCase();
    const head = `  --${flag.name}${flag.kind === 'bool' ? meta : ' ' + meta}`;
    const def = flag.default !== undefined && flag.default !== '' ? ` (default ${flag.default})` : '';
    const envs = [...(flag.env ?? []), envName(flag.name)].join(', ');
    lines.push(head, `      ${flag.help}${def} [${envs}]`);
  }
  lines.push('  -h, --help', '      show this help', '');
  lines.push('Examples:', '  mcpfleet-operator --kubeconfig ~/.kube/config --watch-namespace team-a,team-b --leader-elect=false');
  return lines.join('\n') + '\n';
}

/** Boolean flags accept --flag, --flag=true|false, and --no-flag. */
function normalizeBools(argv: readonly string[]): string[] {
  const bools = new Set(FLAGS.filter((f) => f.kind === 'bool').map((f) => f.name));
  return argv.map((arg) => {
    const m = /^--([a-z-]+)=(true|false|1|0)$/.exec(arg);
    if (m && bools.has(m[1] as string)) return m[2] === 'true' || m[2] === '1' ? `--${m[1]}` : `--no-${m[1]}`;
    return arg;
  });
}

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig | 'help' {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: normalizeBools(argv),
      allowPositionals: false,
      allowNegative: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(FLAGS.map((f) => [f.name, { type: f.kind === 'bool' ? 'boolean' : 'string' } as const])),
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.values['help']) return 'help';

  const get = (name: string): string | undefined => {
    const flag = FLAGS.find((f) => f.name === name) as FlagSpec;
    const fromFlag = parsed.values[name];
    let value: string | undefined;
    if (fromFlag !== undefined) value = String(fromFlag);
    else {
      for (const e of [...(flag.env ?? []), envName(name)]) {
        if (env[e] !== undefined && env[e] !== '') {
          value = env[e];
          break;
        }
      }
      value ??= flag.default;
    }
    if (value !== undefined && flag.choices && !flag.choices.includes(value)) {
      throw new UsageError(`--${name} must be one of ${flag.choices.join(', ')} (got "${value}")`);
    }
    return value;
  };
  const duration = (name: string): number => {
    try {
      return parseDuration(get(name) as string);
    } catch (err) {
      throw new UsageError(`--${name}: ${(err as Error).message}`);
    }
  };
  const bytes = (name: string): number | undefined => {
    const text = get(name);
    if (text === undefined || text === '') return undefined;
    try {
      return parseBytes(text);
    } catch (err) {
      throw new UsageError(`--${name}: ${(err as Error).message}`);
    }
  };
  const int = (name: string, min: number, max: number): number => {
    const text = get(name) as string;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got "${text}")`);
    return n;
  };
  const bool = (name: string): boolean => {
    const value = get(name);
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    throw new UsageError(`--${name} must be true or false (got "${value}")`);
  };

  const ns = (get('watch-namespace') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const config: OperatorConfig = {
    kubeconfig: get('kubeconfig') || undefined,
    watchNamespaces: ns.length === 0 ? undefined : [...new Set(ns)].sort(),
    proxyrunnerImage: get('proxyrunner-image') as string,
    metricsHost: get('metrics-host') as string,
    metricsPort: int('metrics-port', 0, 65535),
    concurrency: int('concurrency', 1, 256),
    resyncPeriodMs: duration('resync-period'),
    requeueBaseDelayMs: duration('requeue-base-delay'),
    requeueMaxDelayMs: duration('requeue-max-delay'),
    leaderElect: bool('leader-elect'),
    leaderElectionNamespace: get('leader-election-namespace') || undefined,
    leaderElectionId: get('leader-election-id') as string,
    leaseDurationMs: duration('lease-duration'),
    renewDeadlineMs: duration('renew-deadline'),
    retryPeriodMs: duration('retry-period'),
    identity: get('identity') || `${os.hostname()}_${process.pid}`,
    logLevel: get('log-level') as LogLevel,
    shutdownTimeoutMs: duration('shutdown-timeout'),
    memoryLimitBytes: bytes('memory-limit'),
  };
  if (config.proxyrunnerImage.trim() === '') throw new UsageError('--proxyrunner-image must not be empty');
  if (config.leaderElect) {
    if (!(config.renewDeadlineMs < config.leaseDurationMs)) throw new UsageError('--renew-deadline must be shorter than --lease-duration');
    if (!(config.retryPeriodMs < config.renewDeadlineMs)) throw new UsageError('--retry-period must be shorter than --renew-deadline');
  }
  if (config.resyncPeriodMs <= 0) throw new UsageError('--resync-period must be positive');
  return config;
}

/** A flat, loggable view of the effective configuration. */
export function describeConfig(c: OperatorConfig): Record<string, unknown> {
  return {
    watchNamespaces: c.watchNamespaces?.join(',') ?? '*',
    proxyrunnerImage: c.proxyrunnerImage,
    concurrency: c.concurrency,
    resyncPeriod: formatDuration(c.resyncPeriodMs),
    memoryLimit: c.memoryLimitBytes === undefined ? 'none' : formatBytes(c.memoryLimitBytes),
    leaderElect: c.leaderElect,
    ...(c.leaderElect && {
      lease: `${c.leaderElectionNamespace ?? '(auto)'}/${c.leaderElectionId}`,
      leaseDuration: formatDuration(c.leaseDurationMs),
      renewDeadline: formatDuration(c.renewDeadlineMs),
      retryPeriod: formatDuration(c.retryPeriodMs),
      identity: c.identity,
    }),
  };
}
