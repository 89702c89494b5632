// A small Dockerfile and .dockerignore reader, for the instructions our Dockerfile uses and
// nothing more: anything it does not understand is an error, never silently skipped, so the
// layout test cannot pass on a Dockerfile it misread.
//
// Supported: parser directive `syntax` (ignored); comments; `\` line continuations (comment
// and blank lines inside them dropped, as Docker does); FROM [--platform] image [AS name];
// ARG, ENV, LABEL (key=value, quoted; ENV also `ENV key value`); WORKDIR; COPY [--from
// --chown --chmod --link] src... dest; RUN [--mount] shell-or-JSON; USER; EXPOSE;
// ENTRYPOINT and CMD (JSON or shell form). Variable substitution ($V, ${V}, ${V:-w}, ${V:+w})
// where Docker does it. Not supported (error): heredocs, the escape directive, ONBUILD,
// HEALTHCHECK, SHELL, VOLUME, ADD, STOPSIGNAL, wildcards in COPY sources.
import path from 'node:path';

export interface Instruction {
  keyword: string;
  /** 1-based line of the instruction's first line. */
  line: number;
  /** The text after the keyword, continuations joined, flags included. */
  rest: string;
}

export interface Stage {
  index: number;
  name: string | undefined;
  /** FROM's image reference, global ARGs substituted: an image, or an earlier stage's name. */
  from: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs before the first FROM, with their defaults (undefined: no default). */
  globalArgs: Map<string, string | undefined>;
  stages: Stage[];
}

export class DockerfileError extends Error {}

export const COPY_FLAGS = ['from', 'chown', 'chmod', 'link'] as const;
export const RUN_FLAGS = ['mount'] as const;
const KNOWN = new Set(['FROM', 'ARG', 'ENV', 'LABEL', 'WORKDIR', 'COPY', 'RUN', 'USER', 'EXPOSE', 'ENTRYPOINT', 'CMD']);

/** Logical instructions: continuations joined, comments dropped. */
export function instructions(text: string): Instruction[] {
  const lines = text.split(/\r?\n/);
  const out: Instruction[] = [];
  let i = 0;
  // Parser directives: `# key=value` lines at the very top.
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(.*)$/.exec(lines[i] as string);
    if (!m) break;
    const key = (m[1] as string).toLowerCase();
    if (key === 'escape') throw new DockerfileError(`line ${i + 1}: the escape directive is not supported`);
    if (key !== 'syntax' && key !== 'check') throw new DockerfileError(`line ${i + 1}: unknown parser directive ${key}`);
  }
  while (i < lines.length) {
    const first = i;
    let line = lines[i++] as string;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    let text = '';
    for (;;) {
      const cont = /\\\s*$/.exec(line);
      if (!cont) {
        text += line;
        break;
      }
      text += line.slice(0, cont.index);
      // Inside a continuation, Docker drops comment lines and empty lines.
      do {
        if (i >= lines.length) throw new DockerfileError(`line ${first + 1}: continuation at end of file`);
        line = lines[i++] as string;
      } while (line.trim() === '' || line.trimStart().startsWith('#'));
    }
    const m = /^\s*([A-Za-z]+)(?:\s+([\s\S]*))?$/.exec(text);
    if (!m) throw new DockerfileError(`line ${first + 1}: cannot read "${text}"`);
    const keyword = (m[1] as string).toUpperCase();
    if (!KNOWN.has(keyword)) throw new DockerfileError(`line ${first + 1}: ${keyword} is not supported by this reader`);
    const rest = (m[2] ?? '').trim();
    if (/<<-?\s*["']?[A-Za-z_]/.test(rest)) throw new DockerfileError(`line ${first + 1}: heredocs are not supported`);
    out.push({ keyword, line: first + 1, rest });
  }
  return out;
}

export type Lookup = (name: string) => string | undefined;

/**
 * Docker's word processing: quotes ('…' literal, "…" with \-escapes), backslash escapes and,
 * when `vars` is given, $V / ${V} / ${V:-word} / ${V:+word} outside single quotes.
 */
export function words(input: string, vars?: Lookup): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  const expand = (): string => {
    // at input[i] === '$'
    if (input[i + 1] === '{') {
      const end = input.indexOf('}', i);
      if (end < 0) throw new DockerfileError(`unterminated \${ in "${input}"`);
      const body = input.slice(i + 2, end);
      i = end + 1;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+])(.*))?$/.exec(body);
      if (!m) throw new DockerfileError(`unsupported substitution \${${body}}`);
      const value = vars?.(m[1] as string);
      if (m[2] === '-') return value ? value : (m[3] as string);
      if (m[2] === '+') return value ? (m[3] as string) : '';
      return value ?? '';
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(input.slice(i + 1));
    if (!m) {
      i++;
      return '$';
    }
    i += 1 + m[0].length;
    return vars?.(m[0]) ?? '';
  };
  while (i < input.length) {
    const c = input[i] as string;
    if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) throw new DockerfileError(`unterminated ' in "${input}"`);
      cur += input.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= input.length) throw new DockerfileError(`unterminated " in "${input}"`);
        const d = input[i] as string;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\' && i + 1 < input.length && '"\\$'.includes(input[i + 1] as string)) {
          cur += input[i + 1];
          i += 2;
        } else if (d === '$' && vars) {
          cur += expand();
        } else {
          cur += d;
          i++;
        }
      }
    } else if (c === '\\' && i + 1 < input.length) {
      cur += input[i + 1];
      i += 2;
    } else if (c === '$' && vars) {
      cur += expand();
    } else {
      cur += c;
      i++;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** `--name=value` flags at the start of an instruction, and what follows them. */
export function splitFlags(rest: string, allowed: readonly string[], keyword: string): { flags: Map<string, string>; body: string } {
  const flags = new Map<string, string>();
  let body = rest;
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(body);
    if (!m) break;
    const name = m[1] as string;
    if (!allowed.includes(name)) throw new DockerfileError(`${keyword} --${name} is not supported by this reader`);
    flags.set(name, m[2] ?? 'true');
    body = body.slice(m[0].length);
  }
  return { flags, body };
}

/** The JSON (exec) form of RUN/CMD/ENTRYPOINT/COPY, or undefined for the shell form. */
export function jsonForm(body: string): string[] | undefined {
  if (!body.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed;
  } catch {
    // Docker falls back to the shell form when the JSON does not parse.
  }
  return undefined;
}

/** key=value pairs (LABEL, ENV, ARG), quotes removed and variables substituted. */
export function pairs(body: string, vars: Lookup | undefined, keyword: string, allowBare = false): [string, string | undefined][] {
  return words(body, vars).map((word) => {
    const eq = word.indexOf('=');
    if (eq < 0) {
      if (!allowBare) throw new DockerfileError(`${keyword}: expected key=value, got "${word}"`);
      return [word, undefined];
    }
    return [word.slice(0, eq), word.slice(eq + 1)];
  });
}

/** `buildArgs` (--build-arg) override the global ARGs' defaults in FROM lines. */
export function parseDockerfile(text: string, buildArgs: Record<string, string> = {}): Dockerfile {
  const globalArgs = new Map<string, string | undefined>();
  const globalLookup: Lookup = (name) => (globalArgs.has(name) ? (buildArgs[name] ?? globalArgs.get(name)) : undefined);
  const stages: Stage[] = [];
  for (const ins of instructions(text)) {
    if (ins.keyword === 'FROM') {
      const { body } = splitFlags(ins.rest, ['platform'], 'FROM');
      const w = words(body, globalLookup);
      let name: string | undefined;
      if (w.length === 3 && (w[1] as string).toUpperCase() === 'AS') name = (w[2] as string).toLowerCase();
      else if (w.length !== 1) throw new DockerfileError(`line ${ins.line}: FROM image [AS name], got "${ins.rest}"`);
      stages.push({ index: stages.length, name, from: w[0] as string, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new DockerfileError(`line ${ins.line}: only ARG may come before the first FROM`);
      for (const [k, v] of pairs(ins.rest, globalLookup, 'ARG', true)) globalArgs.set(k, v);
    } else {
      (stages.at(-1) as Stage).instructions.push(ins);
    }
  }
  if (stages.length === 0) throw new DockerfileError('no FROM');
  return { globalArgs, stages };
}

export function findStage(df: Dockerfile, ref: string): Stage | undefined {
  const lower = ref.toLowerCase();
  return df.stages.find((s) => s.name === lower) ?? (/^\d+$/.test(ref) ? df.stages[Number(ref)] : undefined);
}

// ---------------------------------------------------------------------------------------
// The image configuration a target ends up with (what `docker inspect` would show).

export interface ExecSpec {
  /** true: JSON (exec) form; false: shell form, run by /bin/sh -c. */
  json: boolean;
  argv: string[];
}

export interface ImageConfig {
  target: string;
  /** The external image the chain starts from (FROM of the first stage not built here). */
  base: string;
  /** Stages from the base to the target. */
  chain: Stage[];
  env: Map<string, string>;
  workdir: string;
  user: string | undefined;
  labels: Map<string, string>;
  exposed: string[];
  entrypoint: ExecSpec | undefined;
  cmd: ExecSpec | undefined;
}

/** Stage-local variable scope: ARGs declared in this stage, then ENV (ENV wins). */
export class Scope {
  readonly args = new Map<string, string | undefined>();
  private readonly df: Dockerfile;
  private readonly buildArgs: Record<string, string>;
  readonly env: Map<string, string>;
  constructor(df: Dockerfile, buildArgs: Record<string, string>, env: Map<string, string>) {
    this.df = df;
    this.buildArgs = buildArgs;
    this.env = env;
  }
  lookup: Lookup = (name) => this.env.get(name) ?? this.args.get(name) ?? undefined;
  declareArgs(rest: string): void {
    for (const [k, v] of pairs(rest, this.lookup, 'ARG', true)) {
      // --build-arg, else this ARG's default, else (a bare ARG of a global one) the global default.
      const value = this.buildArgs[k] ?? v ?? (this.df.globalArgs.has(k) ? this.df.globalArgs.get(k) : undefined);
      this.args.set(k, value);
    }
  }
}

export function execSpec(body: string): ExecSpec {
  const json = jsonForm(body);
  return json ? { json: true, argv: json } : { json: false, argv: [body] };
}

export function imageConfig(df: Dockerfile, target: string, buildArgs: Record<string, string> = {}): ImageConfig {
  const stage = findStage(df, target);
  if (!stage) throw new DockerfileError(`no stage named ${target}`);
  const chain: Stage[] = [];
  for (let s: Stage | undefined = stage; s; s = findStage(df, s.from)) {
    if (chain.includes(s)) throw new DockerfileError(`FROM loop at ${s.name}`);
    chain.unshift(s);
  }
  const config: ImageConfig = {
    target,
    base: (chain[0] as Stage).from,
    chain,
    env: new Map(),
    workdir: '/',
    user: undefined,
    labels: new Map(),
    exposed: [],
    entrypoint: undefined,
    cmd: undefined,
  };
  for (const s of chain) {
    // Image config (ENV, WORKDIR, USER, LABEL...) is inherited from a parent stage; ARGs are not.
    const scope = new Scope(df, buildArgs, config.env);
    for (const ins of s.instructions) {
      switch (ins.keyword) {
        case 'ARG':
          scope.declareArgs(ins.rest);
          break;
        case 'ENV':
          for (const [k, v] of envPairs(ins.rest, scope.lookup)) config.env.set(k, v);
          break;
        case 'LABEL':
          for (const [k, v] of pairs(ins.rest, scope.lookup, 'LABEL')) config.labels.set(k, v as string);
          break;
        case 'WORKDIR':
          config.workdir = path.posix.resolve(config.workdir, one(ins, scope.lookup));
          break;
        case 'USER':
          config.user = one(ins, scope.lookup);
          break;
        case 'EXPOSE':
          config.exposed.push(...words(ins.rest, scope.lookup));
          break;
        case 'ENTRYPOINT':
          config.entrypoint = execSpec(ins.rest);
          // Docker: setting ENTRYPOINT clears a CMD inherited from the parent.
          config.cmd = undefined;
          break;
        case 'CMD':
          config.cmd = execSpec(ins.rest);
          break;
        case 'COPY':
          splitFlags(ins.rest, COPY_FLAGS, 'COPY'); // the filesystem side: layout.ts
          break;
        case 'RUN':
          splitFlags(ins.rest, RUN_FLAGS, 'RUN');
          break;
        default:
          throw new DockerfileError(`line ${ins.line}: ${ins.keyword} in a stage is not supported`);
      }
    }
  }
  return config;
}

export function envPairs(rest: string, vars: Lookup): [string, string][] {
  const w = words(rest, vars);
  if (w.length > 0 && !(w[0] as string).includes('=')) {
    // Legacy form: ENV key the rest of the line
    const m = /^\S+\s+([\s\S]*)$/.exec(rest);
    return [[w[0] as string, words(m?.[1] ?? '', vars).join(' ')]];
  }
  return pairs(rest, vars, 'ENV') as [string, string][];
}

function one(ins: Instruction, vars: Lookup): string {
  const w = words(ins.rest, vars);
  if (w.length !== 1) throw new DockerfileError(`line ${ins.line}: ${ins.keyword} takes one value, got "${ins.rest}"`);
  return w[0] as string;
}

// ---------------------------------------------------------------------------------------
// .dockerignore, with Docker's rules: patterns are matched against slash-separated paths
// relative to the context, `**` spans directories, `!` re-includes, the last matching pattern
// wins, and a pattern matching a parent directory matches everything under it.

export interface IgnoreRule {
  negate: boolean;
  re: RegExp;
}

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    line = path.posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    if (/[[\]\\]/.test(line)) throw new DockerfileError(`.dockerignore: character classes and escapes are not supported: ${raw}`);
    let re = '';
    const segs = line.split('/');
    segs.forEach((seg, idx) => {
      const last = idx === segs.length - 1;
      if (seg === '**') {
        re += last ? '.*' : '(?:.*/)?';
        return;
      }
      re += seg
        .replace(/[.+^${}()|]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]');
      if (!last) re += '/';
    });
    rules.push({ negate, re: new RegExp(`^${re}$`) });
  }
  return rules;
}

/** Whether a context-relative path (slash-separated, no leading slash) is left out of the context. */
export function ignored(rules: readonly IgnoreRule[], rel: string): boolean {
  const parents: string[] = [];
  const parts = rel.split('/');
  for (let i = 1; i <= parts.length; i++) parents.push(parts.slice(0, i).join('/'));
  let out = false;
  for (const rule of rules) {
    if (parents.some((p) => rule.re.test(p))) out = !rule.negate;
  }
  return out;
}
