// Rebuilds a Dockerfile stage's file layout in a temp dir by following its instructions,
// without a container engine:
// - each stage gets its own directory standing for its root filesystem; a stage FROM an
//   external image starts empty (the base image's own files are not reproduced: its `node`
//   is this machine's Node, which the test checks is the same version);
// - COPY copies from the build context (filtered by .dockerignore, which Docker applies too)
//   or from another stage's directory, with Docker's rules for directories and destinations;
// - RUN: `npm ...` runs for real in the stage's WORKDIR with the stage's ENV; apt-get install,
//   groupadd and useradd are recorded (they change nothing under WORKDIR); rm -rf is applied
//   inside the stage's directory. Any other command, or any shell syntax but `&&`, is an error:
//   the emulation must be extended on purpose, never skip a step silently.
// Then `containerProcess` turns ENTRYPOINT/CMD (Docker) or command/args (Kubernetes) into the
// process the container would start: tini is dropped (it only execs its arguments) when the
// chain installed it, `node` is this machine's Node, the cwd is WORKDIR and the environment is
// the image's.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  COPY_FLAGS,
  DockerfileError,
  RUN_FLAGS,
  envPairs,
  findStage,
  ignored,
  jsonForm,
  Scope,
  splitFlags,
  words,
  type Dockerfile,
  type IgnoreRule,
  type ImageConfig,
  type Stage,
} from './dockerfile.ts';

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface StageResult {
  stage: Stage;
  /** The directory standing for this stage's root filesystem. */
  root: string;
  env: Map<string, string>;
  workdir: string;
  /** Debian packages installed by this stage and its parents. */
  aptPackages: string[];
  users: UserEntry[];
  groups: { name: string; gid: number }[];
  /** Commands actually executed (npm), in order. */
  executed: string[][];
}

export interface LayoutOptions {
  dockerfile: Dockerfile;
  /** The build context (the repository root). */
  context: string;
  ignore: readonly IgnoreRule[];
  buildArgs: Record<string, string>;
  /** Where stage directories are created. */
  workRoot: string;
  /** Host environment for the npm commands: PATH (node, npm) and HOME (npm's cache: the cache mount's stand-in). */
  hostEnv: Record<string, string>;
}

export class LayoutBuilder {
  private readonly built = new Map<number, Promise<StageResult>>();
  private readonly opts: LayoutOptions;
  constructor(opts: LayoutOptions) {
    this.opts = opts;
  }

  stage(ref: string): Promise<StageResult> {
    const stage = findStage(this.opts.dockerfile, ref);
    if (!stage) throw new DockerfileError(`no stage ${ref}`);
    let p = this.built.get(stage.index);
    if (!p) {
      p = this.build(stage);
      this.built.set(stage.index, p);
    }
    return p;
  }

  private async build(stage: Stage): Promise<StageResult> {
    const df = this.opts.dockerfile;
    const parentStage = findStage(df, stage.from);
    const ownDir = path.join(this.opts.workRoot, `stage-${stage.index}-${stage.name ?? 'unnamed'}`);
    const changesFiles = stage.instructions.some((i) => i.keyword === 'COPY' || i.keyword === 'RUN');
    let result: StageResult;
    if (parentStage) {
      const parent = await this.stage(String(parentStage.index));
      let root = parent.root;
      if (changesFiles) {
        // A new layer on top of the parent's: a copy, so the parent stays as it was.
        fs.cpSync(parent.root, ownDir, { recursive: true, verbatimSymlinks: true });
        root = ownDir;
      }
      result = {
        stage,
        root,
        env: new Map(parent.env),
        workdir: parent.workdir,
        aptPackages: [...parent.aptPackages],
        users: [...parent.users],
        groups: [...parent.groups],
        executed: [],
      };
    } else {
      fs.mkdirSync(ownDir, { recursive: true });
      result = { stage, root: ownDir, env: new Map(), workdir: '/', aptPackages: [], users: [], groups: [], executed: [] };
    }
    const scope = new Scope(df, this.opts.buildArgs, result.env);
    for (const ins of stage.instructions) {
      const where = `line ${ins.line} (${ins.keyword})`;
      switch (ins.keyword) {
        case 'ARG':
          scope.declareArgs(ins.rest);
          break;
        case 'ENV':
          for (const [k, v] of envPairs(ins.rest, scope.lookup)) result.env.set(k, v);
          break;
        case 'WORKDIR': {
          const w = words(ins.rest, scope.lookup);
          if (w.length !== 1) throw new DockerfileError(`${where}: one path expected`);
          result.workdir = path.posix.resolve(result.workdir, w[0] as string);
          fs.mkdirSync(this.inRoot(result.root, result.workdir), { recursive: true });
          break;
        }
        case 'COPY':
          await this.copy(result, ins.rest, scope, where);
          break;
        case 'RUN':
          await this.run(result, ins.rest, where);
          break;
        case 'LABEL':
        case 'USER':
        case 'EXPOSE':
        case 'ENTRYPOINT':
        case 'CMD':
          break; // image config only (dockerfile.ts imageConfig)
        default:
          throw new DockerfileError(`${where}: not supported by the layout emulation`);
      }
    }
    return result;
  }

  /** An absolute image path inside a stage's directory. */
  private inRoot(root: string, imagePath: string): string {
    const clean = path.posix.resolve('/', imagePath);
    return path.join(root, ...clean.split('/').filter(Boolean));
  }

  private async copy(result: StageResult, rest: string, scope: Scope, where: string): Promise<void> {
    const { flags, body } = splitFlags(rest, COPY_FLAGS, 'COPY');
    const parts = jsonForm(body) ?? words(body, scope.lookup);
    if (parts.length < 2) throw new DockerfileError(`${where}: COPY needs a source and a destination`);
    const sources = parts.slice(0, -1);
    const dest = parts.at(-1) as string;
    const destImage = path.posix.resolve(result.workdir, dest);
    const destPath = this.inRoot(result.root, destImage);
    const destIsDir = dest.endsWith('/') || dest === '.' || sources.length > 1 || (fs.existsSync(destPath) && fs.statSync(destPath).isDirectory());
    const from = flags.get('from');
    const fromRoot = from !== undefined ? (await this.stage(from)).root : undefined;
    for (const src of sources) {
      if (/[*?[]/.test(src)) throw new DockerfileError(`${where}: wildcards in COPY sources are not supported (${src})`);
      let srcPath: string;
      let filter: ((p: string) => boolean) | undefined;
      if (fromRoot !== undefined) {
        // COPY --from: paths in the other stage's filesystem, from its root.
        srcPath = this.inRoot(fromRoot, src);
      } else {
        const rel = path.posix.normalize(src).replace(/^\/+/, '').replace(/\/+$/, '');
        if (rel === '..' || rel.startsWith('../')) throw new DockerfileError(`${where}: ${src} is outside the build context`);
        if (rel !== '.' && ignored(this.opts.ignore, rel)) {
          throw new DockerfileError(`${where}: ${src} is excluded from the build context by .dockerignore (docker build would fail: not found)`);
        }
        srcPath = path.join(this.opts.context, rel === '.' ? '' : rel);
        filter = (p) => {
          const r = path.relative(this.opts.context, p).split(path.sep).join('/');
          return r === '' || !ignored(this.opts.ignore, r);
        };
      }
      if (!fs.existsSync(srcPath)) throw new DockerfileError(`${where}: ${src} not found${from ? ` in stage ${from}` : ' in the build context'}`);
      if (fs.statSync(srcPath).isDirectory()) {
        // A directory's contents go into the destination directory.
        fs.mkdirSync(destPath, { recursive: true });
        fs.cpSync(srcPath, destPath, { recursive: true, verbatimSymlinks: true, ...(filter && { filter }) });
      } else {
        const target = destIsDir ? path.join(destPath, path.basename(srcPath)) : destPath;
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.copyFileSync(srcPath, target);
      }
    }
  }

  private async run(result: StageResult, rest: string, where: string): Promise<void> {
    const { flags, body } = splitFlags(rest, RUN_FLAGS, 'RUN');
    const mount = flags.get('mount');
    // A cache mount changes no layer: npm's cache here is the host's (hostEnv HOME).
    if (mount !== undefined && !/^type=cache(,|$)/.test(mount)) throw new DockerfileError(`${where}: only cache mounts are supported (${mount})`);
    const commands = jsonForm(body) ? [jsonForm(body) as string[]] : shellCommands(body);
    for (const argv of commands) {
      const [cmd, ...args] = argv;
      switch (cmd) {
        case 'npm':
          await this.exec(['npm', ...args], this.inRoot(result.root, result.workdir), {
            ...this.opts.hostEnv,
            ...Object.fromEntries(result.env),
          });
          result.executed.push(argv);
          break;
        case 'apt-get':
          result.aptPackages.push(...aptGet(args, where));
          break;
        case 'rm':
          for (const target of rmTargets(args, where)) {
            for (const p of expandGlob(result.root, target, (x) => this.inRoot(result.root, x))) fs.rmSync(p, { recursive: true, force: true });
          }
          break;
        case 'groupadd': {
          const o = options(args, { '--gid': true }, where);
          result.groups.push({ name: o.name, gid: Number(o.values.get('--gid')) });
          break;
        }
        case 'useradd': {
          const o = options(args, { '--uid': true, '--gid': true, '--home-dir': true, '--no-create-home': false, '--shell': true }, where);
          result.users.push({
            name: o.name,
            uid: Number(o.values.get('--uid')),
            gid: Number(o.values.get('--gid')),
            home: o.values.get('--home-dir') ?? `/home/${o.name}`,
          });
          break;
        }
        default:
          throw new DockerfileError(`${where}: the layout emulation does not know the command "${argv.join(' ')}"`);
      }
    }
  }

  private exec(argv: string[], cwd: string, env: Record<string, string>): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const keep = (chunk: Buffer): void => {
        out = (out + chunk.toString('utf8')).slice(-20_000);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(`${argv.join(' ')} in ${cwd} failed (${code ?? signal}):\n${out}`));
      });
    });
  }
}

/** Plain commands joined by `&&`: anything else a shell would interpret is refused. */
export function shellCommands(body: string): string[][] {
  const pieces: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      cur += c;
    } else if (c === '&' && body[i + 1] === '&') {
      pieces.push(cur);
      cur = '';
      i++;
    } else if (';|&<>`$()'.includes(c)) {
      throw new DockerfileError(`RUN: "${c}" is shell syntax the layout emulation does not interpret: ${body}`);
    } else {
      cur += c;
    }
  }
  pieces.push(cur);
  return pieces.map((p) => {
    const w = words(p);
    if (w.length === 0) throw new DockerfileError(`RUN: empty command in ${body}`);
    return w;
  });
}

function aptGet(args: string[], where: string): string[] {
  const [sub, ...rest] = args;
  if (sub === 'update' && rest.length === 0) return [];
  if (sub !== 'install') throw new DockerfileError(`${where}: apt-get ${sub} is not supported`);
  const pkgs: string[] = [];
  for (const a of rest) {
    if (a.startsWith('-')) {
      if (!['-y', '--yes', '-q', '--no-install-recommends'].includes(a)) throw new DockerfileError(`${where}: apt-get install ${a} is not supported`);
    } else {
      pkgs.push(a.replace(/=.*$/, ''));
    }
  }
  return pkgs;
}

function rmTargets(args: string[], where: string): string[] {
  const targets: string[] = [];
  for (const a of args) {
    if (a.startsWith('-')) {
      if (!['-rf', '-fr', '-r', '-f'].includes(a)) throw new DockerfileError(`${where}: rm ${a} is not supported`);
    } else {
      if (!a.startsWith('/')) throw new DockerfileError(`${where}: rm with a relative path (${a}) is not supported`);
      targets.push(a);
    }
  }
  return targets;
}

/** `*` in the last path segment only, matched in the stage's directory (as the shell would in the image). */
function expandGlob(root: string, imagePath: string, toHost: (p: string) => string): string[] {
  const dir = path.posix.dirname(imagePath);
  const base = path.posix.basename(imagePath);
  if (/[*?[]/.test(dir)) throw new DockerfileError(`rm: wildcards only in the last path segment (${imagePath})`);
  if (!base.includes('*')) return [toHost(imagePath)];
  const re = new RegExp(`^${base.replace(/[.+^${}()|?[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  const hostDir = toHost(dir);
  if (!hostDir.startsWith(root) || !fs.existsSync(hostDir)) return [];
  return fs
    .readdirSync(hostDir)
    .filter((n) => re.test(n))
    .map((n) => path.join(hostDir, n));
}

function options(args: string[], known: Record<string, boolean>, where: string): { name: string; values: Map<string, string> } {
  const values = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith('-')) {
      if (!(a in known)) throw new DockerfileError(`${where}: option ${a} is not supported`);
      if (known[a]) values.set(a, args[++i] as string);
      else values.set(a, 'true');
    } else {
      positional.push(a);
    }
  }
  if (positional.length !== 1) throw new DockerfileError(`${where}: one name expected, got ${positional.join(' ')}`);
  return { name: positional[0] as string, values };
}

// ---------------------------------------------------------------------------------------
// Starting the container's process.

export interface ContainerProcess {
  /** What the container runtime would exec (before tini and PATH are resolved). */
  argv: string[];
  /** What this machine runs: this Node, the script and its arguments. */
  exec: string[];
  cwd: string;
  env: Record<string, string>;
}

export interface RunSpec {
  /** docker run IMAGE ARGS...: replaces CMD. */
  dockerArgs?: string[];
  /** A Kubernetes container's command (replaces ENTRYPOINT and CMD) and args (replace CMD). */
  command?: string[];
  args?: string[];
  /** Environment added by the runtime (docker -e, a container's env). */
  env?: Record<string, string>;
}

/** The base image's PATH (the official node images'). */
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function containerProcess(config: ImageConfig, stage: StageResult, run: RunSpec): ContainerProcess {
  for (const spec of [config.entrypoint, config.cmd]) {
    if (spec && !spec.json) throw new DockerfileError(`${config.target}: shell-form ENTRYPOINT/CMD (sh -c would be PID 1 and swallow signals)`);
  }
  const entry = config.entrypoint?.argv ?? [];
  const cmd = config.cmd?.argv ?? [];
  let argv: string[];
  if (run.command !== undefined) argv = [...run.command, ...(run.args ?? [])];
  else if (run.args !== undefined) argv = [...entry, ...run.args];
  else argv = [...entry, ...(run.dockerArgs ?? cmd)];
  let rest = [...argv];
  if (rest[0] === 'tini') {
    if (!stage.aptPackages.includes('tini')) throw new DockerfileError(`${config.target}: runs tini, which no stage installed`);
    if (rest[1] !== '--') throw new DockerfileError(`${config.target}: tini options are not emulated (${rest.join(' ')})`);
    rest = rest.slice(2);
  }
  if (rest[0] !== 'node') throw new DockerfileError(`${config.target}: the process is "${rest[0]}"; only node is emulated`);
  const uid = config.user === undefined ? 0 : Number(config.user.split(':')[0]);
  const home = stage.users.find((u) => u.uid === uid)?.home ?? (uid === 0 ? '/root' : '/');
  const env: Record<string, string> = {
    // This machine's node first, so a child started as `node` (a stdio server) is the same one.
    PATH: `${path.dirname(process.execPath)}:${IMAGE_PATH}`,
    HOME: home,
    ...Object.fromEntries(config.env),
    ...run.env,
  };
  const cwd = path.join(stage.root, ...config.workdir.split('/').filter(Boolean));
  return { argv, exec: [process.execPath, ...rest.slice(1)], cwd, env };
}

/** Every file and directory under `dir` with its size and mtime, to prove nothing was written. */
export function treeState(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      out.set(path.relative(dir, p), `${st.isDirectory() ? 'd' : st.size}:${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** Installed packages as package-lock keys (node_modules/a, node_modules/a/node_modules/b, node_modules/@s/c). */
export function installedPackages(dir: string, prefix = 'node_modules'): string[] {
  const nm = path.join(dir, 'node_modules');
  if (!fs.existsSync(nm)) return [];
  const out: string[] = [];
  for (const name of fs.readdirSync(nm)) {
    if (name.startsWith('.')) continue;
    const names = name.startsWith('@') ? fs.readdirSync(path.join(nm, name)).map((n) => `${name}/${n}`) : [name];
    for (const n of names) {
      const key = `${prefix}/${n}`;
      out.push(key);
      out.push(...installedPackages(path.join(nm, n), `${key}/node_modules`));
    }
  }
  return out;
}
