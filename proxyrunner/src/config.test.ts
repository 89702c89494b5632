import { describe, expect, it } from '@jest/globals';
import { describeConfig, envName, helpText, parseConfig, UsageError, type ProxyConfig } from './config.ts';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}): ProxyConfig => {
  const config = parseConfig(argv, env);
  if (config === 'help') throw new Error('unexpected help');
  return config;
};

describe('parseConfig', () => {
  it('has production defaults', () => {
    const config = parse(['--', 'server', '--flag']);
    expect(config).toMatchObject({
      transport: 'stdio',
      command: ['server', '--flag'],
      proxyMode: 'streamable-http',
      port: 8080,
      metricsPort: 9464,
      sessionIdleTimeoutMs: 30 * 60_000,
      maxSessions: 10_000,
      limits: { maxBodyBytes: undefined, maxMessageBytes: undefined, maxConnections: undefined, maxStreams: undefined, bufferBytes: undefined },
      memoryLimitBytes: undefined,
      enableDebug: false,
    });
  });

  it('reads every flag from MCPFLEET_* when the flag is absent, and flags win', () => {
    const env = {
      MCPFLEET_TRANSPORT: 'streamable-http',
      MCPFLEET_TARGET_URL: 'http://upstream:3001/mcp',
      MCPFLEET_PORT: '9000',
      MCPFLEET_SESSION_IDLE_TIMEOUT: '5m',
      MCPFLEET_MAX_SESSIONS: '50',
      MCPFLEET_MEMORY_LIMIT: '128Mi',
      MCPFLEET_ENABLE_DEBUG: 'true',
    };
    const config = parse(['--port', '9100'], env);
    expect(config.transport).toBe('streamable-http');
    expect(config.targetUrl?.href).toBe('http://upstream:3001/mcp');
    expect(config.port).toBe(9100);
    expect(config.sessionIdleTimeoutMs).toBe(300_000);
    expect(config.maxSessions).toBe(50);
    expect(config.memoryLimitBytes).toBe(128 * 2 ** 20);
    expect(config.enableDebug).toBe(true);
  });

  it('takes the stdio command from MCPFLEET_COMMAND as JSON or words', () => {
    expect(parse([], { MCPFLEET_COMMAND: '["node","server.js","a b"]' }).command).toEqual(['node', 'server.js', 'a b']);
    expect(parse([], { MCPFLEET_COMMAND: 'node server.js' }).command).toEqual(['node', 'server.js']);
  });

  it.each([
    [['--transport', 'sse'], /--target-url is required with --transport sse/],
    [['--transport', 'grpc'], /--transport must be one of stdio, sse, streamable-http/],
    [[], /needs the server command after "--"/],
    [['--attach-selector', 'app=x', '--', 'node', 's.js'], /exclude each other/],
    [['--transport', 'streamable-http', '--target-url', 'ftp://x/'], /must be http or https/],
    [['--transport', 'streamable-http', '--target-url', 'not a url'], /is not a URL/],
    [['--port', '70000', '--', 'x'], /--port must be an integer from 0 to 65535/],
    [['--max-sessions', '0', '--', 'x'], /--max-sessions must be an integer from 1/],
    [['--session-idle-timeout', 'forever', '--', 'x'], /--session-idle-timeout: invalid duration/],
    [['--memory-limit', 'lots', '--', 'x'], /--memory-limit: invalid byte quantity/],
    [['--no-such-flag'], /Unknown option '--no-such-flag'/],
  ])('rejects %j with a clear message', (argv, message) => {
    expect(() => parseConfig(argv, {})).toThrow(UsageError);
    expect(() => parseConfig(argv, {})).toThrow(message);
  });

  it('attaches to a pod for stdio when given a selector', () => {
    const config = parse(['--attach-selector', 'app.kubernetes.io/instance=demo'], { POD_NAMESPACE: 'tools' });
    expect(config.attach).toEqual({ selector: 'app.kubernetes.io/instance=demo', namespace: 'tools', container: 'mcp', maxPods: 1 });
    expect(config.command).toEqual([]);
    expect(parse(['--attach-selector', 'a=b', '--attach-namespace', 'ns', '--attach-container', 'srv', '--attach-max-pods', '3']).attach).toEqual({
      selector: 'a=b',
      namespace: 'ns',
      container: 'srv',
      maxPods: 3,
    });
    expect(parse(['--attach-selector', 'a=b'], { MCPFLEET_ATTACH_MAX_PODS: '5' }).attach?.maxPods).toBe(5);
    expect(() => parse(['--attach-selector', 'a=b', '--attach-max-pods', '0'])).toThrow(/attach-max-pods/);
    expect(() => parse(['--attach-selector', 'a=b', '--attach-max-pods', '101'])).toThrow(/attach-max-pods/);
    // One stdio proxy holds its sessions' pods: a shared session table across replicas is refused.
    expect(() => parse(['--attach-selector', 'a=b', '--session-storage', 'redis', '--redis-address', '127.0.0.1:6379'])).toThrow(
      /--session-storage redis is supported with --transport streamable-http/,
    );
  });

  it('isolates stdio per session only where a process is spawned', () => {
    expect(parse(['--', 'server']).stdioIsolation).toBe('shared');
    expect(parse(['--stdio-isolation', 'session', '--', 'server']).stdioIsolation).toBe('session');
    expect(parse(['--', 'server'], { MCPFLEET_STDIO_ISOLATION: 'session' }).stdioIsolation).toBe('session');
    expect(() => parse(['--stdio-isolation', 'session', '--attach-selector', 'app=x'])).toThrow(/cannot attach to a pod/);
    expect(() => parse(['--stdio-isolation', 'session', '--transport', 'sse', '--target-url', 'http://127.0.0.1:1/sse'])).toThrow(/--transport stdio only/);
    expect(() => parse(['--stdio-isolation', 'process', '--', 'server'])).toThrow(UsageError);
  });

  it('returns help for -h and --help', () => {
    expect(parseConfig(['-h'], {})).toBe('help');
    expect(parseConfig(['--help'], {})).toBe('help');
  });
});

describe('helpText', () => {
  it('documents every flag with its environment variable', () => {
    const text = helpText();
    for (const flag of [
      'transport',
      'target-url',
      'proxy-mode',
      'port',
      'metrics-port',
      'session-idle-timeout',
      'max-sessions',
      'max-body-bytes',
      'memory-limit',
      'enable-debug',
    ]) {
      expect(text).toContain(`--${flag}`);
      expect(text).toContain(envName(flag));
    }
  });

  it('takes the Redis password from MCPFLEET_REDIS_PASSWORD only (no flag), and never logs it', () => {
    const argv = ['--transport', 'streamable-http', '--target-url', 'http://u:1/mcp', '--session-storage', 'redis', '--redis-address', 'r:6379'];
    const config = parse(argv, { MCPFLEET_REDIS_PASSWORD: 'hunter2' });
    expect(config.sessionStorage).toMatchObject({ provider: 'redis', password: 'hunter2', passwordFile: undefined });
    expect(JSON.stringify(describeConfig(config))).not.toContain('hunter2');
    expect(() => parse([...argv, '--redis-password', 'x'])).toThrow(UsageError);
    expect(() => parse([...argv, '--redis-password-file', '/s/pw'], { MCPFLEET_REDIS_PASSWORD: 'x' })).toThrow(/exclude each other/);
  });
});
