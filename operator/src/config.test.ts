import { describe, expect, it } from '@jest/globals';
import { DEFAULT_PROXYRUNNER_IMAGE, envName, helpText, parseConfig, UsageError, type OperatorConfig } from './config.ts';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}): OperatorConfig => {
  const config = parseConfig(argv, env);
  if (config === 'help') throw new Error('unexpected help');
  return config;
};

describe('operator parseConfig', () => {
  it('has production defaults', () => {
    expect(parse([])).toMatchObject({
      kubeconfig: undefined,
      watchNamespaces: undefined,
      proxyrunnerImage: DEFAULT_PROXYRUNNER_IMAGE,
      metricsPort: 9464,
      concurrency: 8,
      resyncPeriodMs: 600_000,
      leaderElect: true,
      leaderElectionId: 'mcpfleet-operator',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      logLevel: 'info',
    });
  });

  it('reads MCPFLEET_* and the conventional variables; flags win', () => {
    const env = {
      WATCH_NAMESPACE: 'b, a,b',
      MCPFLEET_PROXYRUNNER_IMAGE: 'reg/proxy:2',
      MCPFLEET_CONCURRENCY: '3',
      POD_NAMESPACE: 'ops',
      POD_NAME: 'operator-0',
      MCPFLEET_LEADER_ELECT: 'false',
    };
    expect(parse([], env)).toMatchObject({
      watchNamespaces: ['a', 'b'],
      proxyrunnerImage: 'reg/proxy:2',
      concurrency: 3,
      leaderElectionNamespace: 'ops',
      identity: 'operator-0',
      leaderElect: false,
    });
    expect(parse(['--concurrency', '5', '--watch-namespace', 'x', '--leader-elect'], env)).toMatchObject({
      concurrency: 5,
      watchNamespaces: ['x'],
      leaderElect: true,
    });
    // WATCH_NAMESPACE comes before MCPFLEET_WATCH_NAMESPACE.
    expect(parse([], { WATCH_NAMESPACE: 'one', MCPFLEET_WATCH_NAMESPACE: 'two' }).watchNamespaces).toEqual(['one']);
  });

  it('accepts --flag=false, --no-flag and --flag for booleans', () => {
    expect(parse(['--leader-elect=false']).leaderElect).toBe(false);
    expect(parse(['--no-leader-elect']).leaderElect).toBe(false);
    expect(parse(['--leader-elect=true'], { MCPFLEET_LEADER_ELECT: 'false' }).leaderElect).toBe(true);
  });

  it('reads the proxyrunner defaults and pull secrets for every MCPServer', () => {
    expect(parse([])).toMatchObject({ proxyDefaults: { sessionIdleTimeout: '30m', maxSessions: 10_000 }, proxyrunnerImagePullSecrets: [] });
    const config = parseConfig(['--default-max-sessions', '500', '--proxyrunner-image-pull-secrets', 'regcred, b ,regcred'], {
      MCPFLEET_DEFAULT_SESSION_IDLE_TIMEOUT: '90s',
    });
    expect(config).toMatchObject({ proxyDefaults: { sessionIdleTimeout: '90s', maxSessions: 500 }, proxyrunnerImagePullSecrets: ['b', 'regcred'] });
  });

  it('parses durations', () => {
    expect(parse(['--resync-period', '90s', '--lease-duration', '6s', '--renew-deadline', '4s', '--retry-period', '1s'])).toMatchObject({
      resyncPeriodMs: 90_000,
      leaseDurationMs: 6_000,
      renewDeadlineMs: 4_000,
      retryPeriodMs: 1_000,
    });
  });

  it('rejects bad input with a usage error', () => {
    const bad: [string[], RegExp][] = [
      [['--concurrency', '0'], /--concurrency must be an integer from 1 to 256/],
      [['--log-level', 'loud'], /--log-level must be one of/],
      [['--resync-period', 'often'], /--resync-period: invalid duration/],
      [['--renew-deadline', '20s'], /--renew-deadline must be shorter than --lease-duration/],
      [['--retry-period', '10s'], /--retry-period must be shorter than --renew-deadline/],
      [['--unknown'], /Unknown option/],
      [['positional'], /Unexpected argument/],
      [['--default-max-sessions', '0'], /--default-max-sessions must be an integer from 1/],
      [['--default-session-idle-timeout', '0s'], /--default-session-idle-timeout must be positive/],
      [['--proxyrunner-image-pull-secrets', 'ok,Not_A_Name'], /"Not_A_Name" is not a valid Secret name/],
    ];
    for (const [argv, message] of bad) {
      expect(() => parse(argv)).toThrow(UsageError);
      expect(() => parse(argv)).toThrow(message);
    }
    // Leader election timings only matter with leader election.
    expect(parse(['--leader-elect=false', '--renew-deadline', '20s']).leaderElect).toBe(false);
  });

  it('--help lists every flag with its environment variables', () => {
    expect(parseConfig(['--help'])).toBe('help');
    const text = helpText();
    for (const flag of ['kubeconfig', 'watch-namespace', 'proxyrunner-image', 'metrics-port', 'leader-elect', 'lease-duration']) {
      expect(text).toContain(`--${flag}`);
      expect(text).toContain(envName(flag));
    }
    expect(text).toContain('WATCH_NAMESPACE');
    expect(envName('proxyrunner-image')).toBe('MCPFLEET_PROXYRUNNER_IMAGE');
  });
});
