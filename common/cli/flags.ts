// One flag table drives parsing, environment fallbacks and --help for both programs
// (proxyrunner and operator), so the three cannot disagree.
//
// Precedence: --flag, then the flag's conventional variables (KUBECONFIG, POD_NAMESPACE...),
// then MCPFLEET_<FLAG>, then the default. An empty variable counts as unset.
import { util } from '../builtins.ts';
import { parseBytes, parseDuration } from '../quantity.ts';

export type FlagKind = 'string' | 'int' | 'duration' | 'bytes' | 'bool';

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  default?: string;
  choices?: readonly string[];
  /** Conventional environment variables read before MCPFLEET_*. */
  env?: readonly string[];
  help: string;
}

export class UsageError extends Error {}

export const envName = (flag: string): string => `MCPFLEET_${flag.toUpperCase().replaceAll('-', '_')}`;

export interface HelpDoc {
  usage: string;
  /** Paragraph lines between the usage line and the flags. */
  about: readonly string[];
  examples: readonly string[];
}

export function helpText(flags: readonly FlagSpec[], doc: HelpDoc): string {
  const lines = [`Usage: ${doc.usage}`, '', ...doc.about, '', 'Flags (each also read from the environment variables shown, in that order):'];
  for (const flag of flags) {
    const meta = flag.choices ? ` ${flag.choices.join('|')}` : flag.kind === 'bool' ? '[=true|false]' : ` ${flag.kind.toUpperCase()}`;
    const def = flag.default !== undefined && flag.default !== '' ? ` (default ${flag.default})` : '';
    const envs = [...(flag.env ?? []), envName(flag.name)].join(', ');
    lines.push(`  --${flag.name}${meta}`, `      ${flag.help}${def} [${envs}]`);
  }
  lines.push('  -h, --help', '      show this help', '', 'Examples:', ...doc.examples.map((e) => `  ${e}`));
  return lines.join('\n') + '\n';
}

/** Typed accessors over parsed flags; each throws UsageError naming the flag. */
export interface Flags {
  positionals: readonly string[];
  /** The raw value (after env fallbacks and default), checked against choices; undefined or '' when unset. */
  string(name: string): string | undefined;
  int(name: string, min: number, max: number): number;
  /** undefined when unset and without default. */
  optionalInt(name: string, min: number, max: number): number | undefined;
  duration(name: string): number;
  optionalDuration(name: string): number | undefined;
  bytes(name: string): number;
  optionalBytes(name: string): number | undefined;
  bool(name: string): boolean;
  list(name: string): string[];
}

/** Boolean flags accept --flag, --flag=true|false (or 1|0), and --no-flag. */
function normalizeBools(flags: readonly FlagSpec[], argv: readonly string[]): string[] {
  const bools = new Set(flags.filter((f) => f.kind === 'bool').map((f) => f.name));
  let afterDashes = false;
  return argv.map((arg) => {
    if (arg === '--') afterDashes = true;
    if (afterDashes) return arg;
    const m = /^--([a-z-]+)=(true|false|1|0)$/.exec(arg);
    if (m && bools.has(m[1] as string)) return m[2] === 'true' || m[2] === '1' ? `--${m[1]}` : `--no-${m[1]}`;
    return arg;
  });
}

/** Parses argv (without node and script); 'help' for -h/--help. */
export function parseFlags(
  flags: readonly FlagSpec[],
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  opts: { allowPositionals?: boolean } = {},
): Flags | 'help' {
  let parsed: ReturnType<typeof util.parseArgs>;
  try {
    parsed = util.parseArgs({
      args: normalizeBools(flags, argv),
      allowPositionals: opts.allowPositionals ?? false,
      allowNegative: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(flags.map((f) => [f.name, { type: f.kind === 'bool' ? 'boolean' : 'string' } as const])),
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.values['help']) return 'help';

  const spec = (name: string): FlagSpec => {
    const flag = flags.find((f) => f.name === name);
    if (flag === undefined) throw new Error(`no flag --${name} in the table`); // a programming error
    return flag;
  };
  const string = (name: string): string | undefined => {
    const flag = spec(name);
    const fromFlag = parsed.values[name];
    let value = fromFlag === undefined ? undefined : String(fromFlag);
    for (const e of [...(flag.env ?? []), envName(name)]) {
      if (value !== undefined) break;
      if (env[e] !== undefined && env[e] !== '') value = env[e];
    }
    value ??= flag.default;
    if (value !== undefined && value !== '' && flag.choices && !flag.choices.includes(value)) {
      throw new UsageError(`--${name} must be one of ${flag.choices.join(', ')} (got "${value}")`);
    }
    return value;
  };
  const convert = <T>(name: string, fn: (text: string) => T): T | undefined => {
    const text = string(name);
    if (text === undefined || text === '') return undefined;
    try {
      return fn(text);
    } catch (err) {
      throw new UsageError(`--${name}: ${(err as Error).message}`);
    }
  };
  const required = <T>(name: string, value: T | undefined): T => {
    if (value === undefined) throw new UsageError(`--${name} must be set`);
    return value;
  };
  const optionalInt = (name: string, min: number, max: number): number | undefined => {
    const text = string(name);
    if (text === undefined || text === '') return undefined;
    const n = Number(text);
    if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got "${text}")`);
    }
    return n;
  };
  const optionalDuration = (name: string): number | undefined => convert(name, parseDuration);
  const optionalBytes = (name: string): number | undefined => convert(name, parseBytes);

  return {
    positionals: parsed.positionals,
    string,
    optionalInt,
    int: (name, min, max) => required(name, optionalInt(name, min, max)),
    optionalDuration,
    duration: (name) => required(name, optionalDuration(name)),
    optionalBytes,
    bytes: (name) => required(name, optionalBytes(name)),
    bool: (name) => {
      const value = string(name) ?? 'false';
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      throw new UsageError(`--${name} must be true or false (got "${value}")`);
    },
    list: (name) => [
      ...new Set(
        (string(name) ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      ),
    ],
  };
}
