// The images, without a container engine: the Dockerfile is parsed, the runtime stage's file
// layout is rebuilt in a temp dir by following its instructions (npm ci and npm run build
// run for real; see layout.ts), and both programs are started from that layout as the image
// would start them (ENTRYPOINT, WORKDIR, ENV, HOME of the image's user), and as the
// Kubernetes Deployments start them (the operator's in deploy/install.yaml and the proxyrunner
// Deployment the operator builds both keep the ENTRYPOINT and pass flags as args). Nothing
// they run may write to the layout.
// What cannot be checked here: tini itself (the image gets it from Debian; it is only
// dropped from argv here, once the chain is shown to install it), and the base image's
// files beyond `node`.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { proxyDeployment, PROXY_UID } from '../../operator/src/builders/desired.ts';
import type { MCPServer } from '../../operator/src/api/types.ts';
import { parseBytes } from '../../common/quantity.ts';
import { freePort, ROOT, waitForPort } from '../support/processes.ts';
import {
  imageConfig,
  parseDockerfile,
  parseDockerignore,
  ignored,
  RUN_FLAGS,
  splitFlags,
  type Dockerfile,
  type ImageConfig,
  type IgnoreRule,
} from './dockerfile.ts';
import { containerProcess, installedPackages, LayoutBuilder, shellCommands, treeState, type RunSpec, type StageResult } from './layout.ts';

const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const pkg = JSON.parse(read('package.json')) as { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }> };
const NODE_VERSION = /^NODE_VERSION := (\S+)$/m.exec(read('Makefile'))?.[1];
const INSTALL = 'deploy/install.yaml';
const CHART_HOME = (YAML.parse(read('charts/mcpfleet/Chart.yaml')) as { home: string }).home;

// What `make images` passes.
const BUILD_ARGS = { VERSION: pkg.version, REVISION: '0123456789abcdef0123456789abcdef01234567' };
const TARGETS = {
  operator: { main: 'dist/operator/src/main.js', usage: 'Usage: mcpfleet-operator', title: 'mcpfleet-operator' },
  proxyrunner: { main: 'dist/proxyrunner/src/main.js', usage: 'Usage: mcpfleet-proxyrunner', title: 'mcpfleet-proxyrunner' },
} as const;
type Target = keyof typeof TARGETS;
const TARGET_NAMES = Object.keys(TARGETS) as Target[];

const KEEP = process.env['MCPFLEET_KEEP_IMAGE_LAYOUT'] === '1';

let df: Dockerfile;
let rules: IgnoreRule[];
let workRoot: string;
const config = {} as Record<Target, ImageConfig>;
const stage = {} as Record<Target, StageResult>;
let kubeconfig: string;
let tmpProbe: string;
let layoutBefore: Map<string, string>;

interface Started {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

function start(target: Target, run: RunSpec): Started {
  const proc = containerProcess(config[target], stage[target], run);
  // A probe, not part of the image's environment: os.tmpdir() must stay unused too.
  proc.env['TMPDIR'] = tmpProbe;
  const child = spawn(proc.exec[0] as string, proc.exec.slice(1), { cwd: proc.cwd, env: proc.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out = (out + c).slice(-100_000)));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-100_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  running.push(child);
  return { child, stdout: () => out, stderr: () => err, exited, kill: (s = 'SIGTERM') => void child.kill(s) };
}
const running: ChildProcess[] = [];

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** Resolves a Kubernetes container's env (value, fieldRef, resourceFieldRef) as the kubelet would. */
function containerEnv(
  container: { env?: { name: string; value?: string; valueFrom?: Record<string, Record<string, string>> }[]; resources?: { limits?: Record<string, string> } },
  pod: { namespace: string; name: string },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined || !e.valueFrom) env[e.name] = e.value ?? '';
    else if (e.valueFrom['fieldRef']?.['fieldPath'] === 'metadata.namespace') env[e.name] = pod.namespace;
    else if (e.valueFrom['fieldRef']?.['fieldPath'] === 'metadata.name') env[e.name] = pod.name;
    else if (e.valueFrom['resourceFieldRef']?.['resource'] === 'limits.memory') {
      const limit = container.resources?.limits?.['memory'];
      if (!limit) throw new Error(`${e.name}: no memory limit`);
      env[e.name] = String(parseBytes(limit));
    } else throw new Error(`env ${e.name}: valueFrom ${JSON.stringify(e.valueFrom)} is not emulated`);
  }
  return env;
}

function setFlag(args: string[], flag: string, value: string): string[] {
  const out = [...args];
  const i = out.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i < 0) out.push(`${flag}=${value}`);
  else if (out[i] === flag) out[i + 1] = value;
  else out[i] = `${flag}=${value}`;
  return out;
}

beforeAll(async () => {
  df = parseDockerfile(read('Dockerfile'), BUILD_ARGS);
  rules = parseDockerignore(read('.dockerignore'));
  workRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpfleet-image-layout-'));
  // npm runs with this machine's environment (PATH, HOME and its npm cache, proxy and CA
  // settings), less what jest or an enclosing `npm test` set: NODE_ENV=test would change what
  // npm installs, and npm_config_local_prefix would point npm at this repository.
  const hostEnv = Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !/^(npm_|NODE_ENV$|JEST_|INIT_CWD$)/i.test(e[0])),
  );
  const builder = new LayoutBuilder({ dockerfile: df, context: ROOT, ignore: rules, buildArgs: BUILD_ARGS, workRoot, hostEnv });
  for (const t of TARGET_NAMES) {
    config[t] = imageConfig(df, t, BUILD_ARGS);
    stage[t] = await builder.stage(t);
  }
  tmpProbe = path.join(workRoot, 'tmp-probe');
  fs.mkdirSync(tmpProbe);
  // An API server nobody answers: both programs must come up without one.
  kubeconfig = path.join(workRoot, 'kubeconfig');
  fs.writeFileSync(
    kubeconfig,
    YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'nowhere', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [{ name: 'nobody', user: { token: 'x' } }],
      contexts: [{ name: 'nowhere', context: { cluster: 'nowhere', user: 'nobody', namespace: 'default' } }],
      'current-context': 'nowhere',
    }),
  );
}, 600_000);

afterAll(() => {
  // Only our own children still running (never a bare pid that may have been reused).
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (workRoot && !KEEP) fs.rmSync(workRoot, { recursive: true, force: true });
});

describe('Dockerfile', () => {
  test('two targets that add metadata only to one shared runtime stage', () => {
    const [op, pr] = [config.operator.chain, config.proxyrunner.chain];
    expect(op.at(-1)?.name).toBe('operator');
    expect(pr.at(-1)?.name).toBe('proxyrunner');
    // Same parent stage: both images are the same files, labels, ports and entrypoint aside.
    expect(op.at(-2)).toBeDefined();
    expect(op.at(-2)).toBe(pr.at(-2));
    for (const t of TARGET_NAMES) {
      const own = config[t].chain.at(-1)?.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'RUN') ?? [];
      expect(own.map((i) => `${i.line}: ${i.keyword} ${i.rest}`)).toEqual([]);
    }
  });

  test('every stage is built on Node 24 slim, the Node version the Makefile runs the tests on', () => {
    expect(NODE_VERSION).toMatch(/^24\.\d+\.\d+$/);
    for (const t of TARGET_NAMES) expect(config[t].base).toMatch(/^node:24(\.\d+){0,2}-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$/);
    const bases = new Set(df.stages.filter((s) => !df.stages.some((o) => o.name === s.from)).map((s) => s.from));
    expect([...bases]).toEqual([config.operator.base]);
    const tagVersion = /^node:([\d.]+)-/.exec(config.operator.base)?.[1];
    // The layout below runs on the Node the tests run on: the Makefile's, unless the system's is
    // new enough (>= 22.19), in which case the image's Node is not what is exercised here.
    expect(tagVersion).toBe(NODE_VERSION);
  });

  test('multi-stage: the runtime stage installs nothing with npm and gets production dependencies from a stage that omitted dev', () => {
    expect(df.stages.length).toBeGreaterThanOrEqual(3);
    for (const t of TARGET_NAMES) {
      for (const s of config[t].chain) {
        for (const ins of s.instructions.filter((i) => i.keyword === 'RUN')) {
          const commands = shellCommands(splitFlags(ins.rest, RUN_FLAGS, 'RUN').body).map((argv) => argv[0]);
          expect(commands).not.toContain('npm');
          expect(commands).not.toContain('npx');
        }
      }
      const runtime = config[t].chain.at(-2);
      const nodeModulesCopy = runtime?.instructions.find((i) => i.keyword === 'COPY' && /node_modules/.test(i.rest));
      const from = /--from=(\S+)/.exec(nodeModulesCopy?.rest ?? '')?.[1];
      const depsStage = df.stages.find((s) => s.name === from);
      const installs = depsStage?.instructions.filter((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.rest)) ?? [];
      expect(installs).toHaveLength(1);
      expect(installs[0]?.rest).toMatch(/--omit=dev\b/);
    }
  });

  test('runs as the numeric non-root user the manifests run as (65532), which the image defines', () => {
    const podSecurity = operatorDeployment().spec.template.spec.securityContext;
    for (const t of TARGET_NAMES) {
      const user = config[t].user;
      expect(user).toMatch(/^\d+(:\d+)?$/); // numeric: runAsNonRoot can verify it
      const [uid, gid] = (user as string).split(':').map(Number);
      expect(uid).not.toBe(0);
      expect(uid).toBe(PROXY_UID);
      expect(uid).toBe(podSecurity?.runAsUser);
      expect(gid).toBe(podSecurity?.runAsGroup);
      const entry = stage[t].users.find((u) => u.uid === uid);
      expect(entry).toMatchObject({ uid, gid });
      // A home that does not exist: nothing may depend on writing one.
      expect(fs.existsSync(path.join(stage[t].root, entry?.home ?? '/'))).toBe(false);
    }
  });

  test('ENTRYPOINT is tini -- node <main.js> in exec form, tini comes from Debian, no CMD', () => {
    for (const t of TARGET_NAMES) {
      expect(config[t].entrypoint).toEqual({ json: true, argv: ['tini', '--', 'node', TARGETS[t].main] });
      expect(stage[t].aptPackages).toContain('tini');
      expect(config[t].cmd).toBeUndefined();
    }
  });

  test('OCI labels: title, description, source, version and revision from the build args, licenses', () => {
    for (const t of TARGET_NAMES) {
      const labels = Object.fromEntries(config[t].labels);
      for (const key of ['title', 'description', 'source', 'version', 'revision', 'licenses']) {
        expect(labels[`org.opencontainers.image.${key}`]).toEqual(expect.stringMatching(/\S/));
      }
      expect(labels['org.opencontainers.image.title']).toBe(TARGETS[t].title);
      expect(labels['org.opencontainers.image.version']).toBe(BUILD_ARGS.VERSION);
      expect(labels['org.opencontainers.image.revision']).toBe(BUILD_ARGS.REVISION);
      expect(labels['org.opencontainers.image.source']).toBe(CHART_HOME);
      expect(labels['org.opencontainers.image.base.name']).toBe(config[t].base);
    }
    // The build args really are what sets them.
    const other = imageConfig(df, 'proxyrunner', { VERSION: '9.9.9', REVISION: 'cafe' });
    expect(other.labels.get('org.opencontainers.image.version')).toBe('9.9.9');
    expect(other.labels.get('org.opencontainers.image.revision')).toBe('cafe');
  });

  test('EXPOSE matches the ports the Deployments declare', () => {
    const mcp = sample('deploy/samples/mcpserver-streamable-http.yaml');
    const proxyPorts = proxyDeployment(mcp, { proxyrunnerImage: 'x' }).spec?.template.spec?.containers[0]?.ports?.map((p) => String(p.containerPort));
    expect([...config.proxyrunner.exposed].sort()).toEqual([...(proxyPorts ?? [])].sort());
    expect(config.proxyrunner.exposed.sort()).toEqual(['8080', '9464']);
    expect(config.operator.exposed).toEqual((operatorContainer().ports ?? []).map((p) => String(p.containerPort)));
  });

  test('production environment: NODE_ENV=production, no compile cache', () => {
    for (const t of TARGET_NAMES) {
      expect(config[t].env.get('NODE_ENV')).toBe('production');
      expect(config[t].env.get('NODE_DISABLE_COMPILE_CACHE')).toBe('1');
      expect(config[t].env.has('NODE_COMPILE_CACHE')).toBe(false);
    }
  });

  test('.dockerignore keeps this machine out of the build context', () => {
    for (const p of [
      'node_modules/jest/package.json',
      'dist/proxyrunner/src/main.js',
      '.tools/x',
      '.git/HEAD',
      'bench-results/churn.svg',
      'test/fixtures/echoServer.ts',
      'proxyrunner/src/sessions.test.ts',
      'x.heapsnapshot',
    ]) {
      expect([p, ignored(rules, p)]).toEqual([p, true]);
    }
    for (const p of ['package.json', 'package-lock.json', 'tsconfig.build.json', 'proxyrunner/src/main.ts', 'operator/src/main.ts']) {
      expect([p, ignored(rules, p)]).toEqual([p, false]);
    }
  });
});

describe('runtime layout', () => {
  const appDir = (t: Target): string => path.join(stage[t].root, ...config[t].workdir.split('/').filter(Boolean));

  test('WORKDIR holds the compiled programs, package.json and node_modules, nothing else', () => {
    for (const t of TARGET_NAMES) {
      expect(fs.readdirSync(appDir(t)).sort()).toEqual(['dist', 'node_modules', 'package.json']);
      for (const main of Object.values(TARGETS).map((x) => x.main)) expect(fs.existsSync(path.join(appDir(t), main))).toBe(true);
      const files = [...treeState(path.join(appDir(t), 'dist')).keys()];
      expect(files.filter((f) => /\.test\.js$|\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    }
  });

  test('node_modules holds exactly the production part of package-lock.json', () => {
    const installed = installedPackages(appDir('proxyrunner'));
    const prod = Object.entries(lock.packages).filter(([k, v]) => k !== '' && !v.dev);
    const devOnly = Object.entries(lock.packages)
      .filter(([k, v]) => k !== '' && v.dev)
      .map(([k]) => k);
    expect(devOnly.length).toBeGreaterThan(0);
    expect(installed.filter((k) => devOnly.includes(k))).toEqual([]);
    expect(installed.filter((k) => !lock.packages[k])).toEqual([]);
    expect(prod.filter(([k, v]) => !v.optional && !v.devOptional && !installed.includes(k)).map(([k]) => k)).toEqual([]);
    for (const dep of Object.keys(pkg.dependencies)) expect(installed).toContain(`node_modules/${dep}`);
    // The dev toolchain by name, whatever the lockfile says.
    for (const dev of ['typescript', 'jest', '@swc/core', '@swc/jest']) expect(installed).not.toContain(`node_modules/${dev}`);
    expect(installed.filter((k) => k.startsWith('node_modules/@swc/') || k.startsWith('node_modules/@jest/'))).toEqual([]);
    // Both images share it.
    expect(stage.operator.root).toBe(stage.proxyrunner.root);
  });
});

function sample(rel: string): MCPServer {
  const mcp = YAML.parse(read(rel)) as MCPServer;
  // As the API server would have it.
  mcp.metadata.namespace ??= 'layout-test';
  mcp.metadata.uid ??= '00000000-0000-4000-8000-000000000001';
  return mcp;
}

interface K8sContainer {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: Record<string, Record<string, string>> }[];
  resources?: { limits?: Record<string, string> };
  ports?: { containerPort: number }[];
}
interface K8sDeployment {
  kind: string;
  metadata: { name: string; namespace: string };
  spec: { template: { spec: { securityContext?: { runAsUser?: number; runAsGroup?: number }; containers: K8sContainer[] } } };
}

/** The operator's Deployment in the generated install (deploy/install.yaml, from the chart). */
function operatorDeployment(): K8sDeployment {
  const deployment = YAML.parseAllDocuments(read(INSTALL))
    .map((d) => d.toJSON() as K8sDeployment | null)
    .find((d) => d?.kind === 'Deployment' && d.spec.template.spec.containers.some((c) => c.name === 'operator'));
  if (!deployment) throw new Error(`no operator Deployment in ${INSTALL}`);
  return deployment;
}

function operatorContainer(): K8sContainer {
  return operatorDeployment().spec.template.spec.containers.find((c) => c.name === 'operator') as K8sContainer;
}

describe('programs started from the layout as the image starts them', () => {
  beforeAll(() => {
    layoutBefore = treeState(stage.proxyrunner.root);
  });

  test.each(TARGET_NAMES)(
    'docker run %s --help: exit 0 and the usage',
    async (t) => {
      const p = start(t, { dockerArgs: ['--help'] });
      const { code } = await p.exited;
      expect({ code, stderr: p.stderr() }).toEqual({ code: 0, stderr: '' });
      expect(p.stdout().startsWith(TARGETS[t].usage)).toBe(true);
    },
    30_000,
  );

  test('docker run proxyrunner with a stdio server: serves MCP, /healthz and /readyz; SIGTERM stops it cleanly', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    // A stdio MCP server that needs nothing but node (the test fixtures are not in the image).
    const server = [
      "const rl = require('readline').createInterface({ input: process.stdin });",
      "rl.on('line', (line) => { let m; try { m = JSON.parse(line); } catch { return; }",
      '  if (m.id === undefined || !m.method) return;',
      "  const result = m.method === 'initialize'",
      "    ? { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'layout-echo', version: '1' } }",
      "    : m.method === 'tools/list' ? { tools: [] } : {};",
      "  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }) + '\\n'); });",
    ].join('\n');
    const p = start('proxyrunner', {
      dockerArgs: [
        '--transport',
        'stdio',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--metrics-host',
        '127.0.0.1',
        '--metrics-port',
        String(metricsPort),
        '--',
        'node',
        '-e',
        server,
      ],
    });
    try {
      await waitForPort(metricsPort, 15_000, p.child);
      await waitForPort(port, 15_000, p.child);
      expect(await get(`http://127.0.0.1:${metricsPort}/healthz`)).toMatchObject({ status: 200 });
      let ready = await get(`http://127.0.0.1:${metricsPort}/readyz`);
      for (let i = 0; ready.status !== 200 && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 100));
        ready = await get(`http://127.0.0.1:${metricsPort}/readyz`);
      }
      expect(ready.status).toBe(200);
      const res = await fetch(`http://127.0.0.1:${port}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'layout-test', version: '1' } },
        }),
      });
      const body = await res.text();
      expect({ status: res.status, session: Boolean(res.headers.get('mcp-session-id')), body }).toEqual({
        status: 200,
        session: true,
        body: expect.stringContaining('"layout-echo"'),
      });
      const metrics = await get(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(metrics.body).toMatch(/^mcpfleet_proxy_sessions_active 1$/m);
      expect(metrics.body).toContain(`version="${pkg.version}"`);
    } finally {
      p.kill('SIGTERM');
    }
    expect(await p.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  test("the operator's proxyrunner Deployment (entrypoint kept, stdio attach): comes up from WORKDIR, sizes its heap, waits for the pod", async () => {
    const mcp = sample('deploy/samples/mcpserver-stdio.yaml');
    const container = proxyDeployment(mcp, { proxyrunnerImage: 'ghcr.io/mcpfleet/proxyrunner:test' }).spec?.template.spec?.containers[0];
    if (!container) throw new Error('no proxyrunner container');
    // Flags only: the image's ENTRYPOINT (tini -- node main.js) stays in charge.
    expect(container.command).toBeUndefined();
    const argv = containerProcess(config.proxyrunner, stage.proxyrunner, { command: container.command, args: container.args ?? [] }).argv;
    expect(argv.slice(0, 4)).toEqual(['tini', '--', 'node', TARGETS.proxyrunner.main]);
    const [port, metricsPort] = [await freePort(), await freePort()];
    // Only the ports differ from what the operator wrote, so parallel tests cannot collide.
    const args = setFlag(setFlag(container.args ?? [], '--port', String(port)), '--metrics-port', String(metricsPort));
    const env = {
      ...containerEnv(container as Parameters<typeof containerEnv>[0], { namespace: 'layout-test', name: 'mcp-proxy-0' }),
      KUBECONFIG: kubeconfig,
      MCPFLEET_METRICS_HOST: '127.0.0.1',
      MCPFLEET_HOST: '127.0.0.1',
    };
    const p = start('proxyrunner', { command: container.command, args, env });
    try {
      await waitForPort(metricsPort, 15_000, p.child);
      expect(await get(`http://127.0.0.1:${metricsPort}/healthz`)).toMatchObject({ status: 200 });
      // No pod to attach to (no API server answers): not ready, and it says why.
      expect(await get(`http://127.0.0.1:${metricsPort}/readyz`)).toMatchObject({ status: 503 });
      // MCPFLEET_MEMORY_LIMIT from the container's limit: the process re-executed itself with heap flags.
      expect(p.stderr()).toMatch(/"heap":"--max-old-space-size=\d+/);
    } finally {
      p.kill('SIGTERM');
    }
    expect(await p.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  test(`the operator as ${INSTALL} runs it: comes up from WORKDIR, serves /healthz, not ready without an API server`, async () => {
    const deployment = operatorDeployment();
    const container = operatorContainer();
    const k8s = { command: container.command, args: container.args ?? [] };
    // Whatever the manifest overrides, the process is node running the operator's main.js.
    const argv = containerProcess(config.operator, stage.operator, k8s).argv;
    expect(argv.slice(argv.indexOf('node'), argv.indexOf('node') + 2)).toEqual(['node', TARGETS.operator.main]);
    const help = start('operator', { ...k8s, args: [...k8s.args, '--help'] });
    expect((await help.exited).code).toBe(0);
    expect(help.stdout().startsWith(TARGETS.operator.usage)).toBe(true);

    // Only the metrics listener differs from the manifest (loopback, a free port).
    const metricsPort = await freePort();
    const args = setFlag(setFlag(k8s.args, '--metrics-port', String(metricsPort)), '--metrics-host', '127.0.0.1');
    const env = { ...containerEnv(container, { namespace: deployment.metadata.namespace, name: `${deployment.metadata.name}-0` }), KUBECONFIG: kubeconfig };
    const p = start('operator', { ...k8s, args, env });
    try {
      await waitForPort(metricsPort, 15_000, p.child);
      expect(await get(`http://127.0.0.1:${metricsPort}/healthz`)).toMatchObject({ status: 200 });
      expect(await get(`http://127.0.0.1:${metricsPort}/readyz`)).toMatchObject({ status: 503 });
    } finally {
      p.kill('SIGTERM');
    }
    expect(await p.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  test('read-only root: nothing under the image layout was created or changed by running them', () => {
    const after = treeState(stage.proxyrunner.root);
    const changed = [...new Set([...layoutBefore.keys(), ...after.keys()])].filter((k) => layoutBefore.get(k) !== after.get(k));
    expect(layoutBefore.size).toBeGreaterThan(1000);
    expect(changed).toEqual([]);
    expect(fs.readdirSync(tmpProbe)).toEqual([]);
  });
});

describe('make images', () => {
  const make = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync('make', ['--no-print-directory', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, MAKEFLAGS: '' } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test('builds both targets with the version and revision args, names overridable', () => {
    const dflt = make(['-n', 'images']);
    expect(dflt.status).toBe(0);
    for (const t of TARGET_NAMES) {
      expect(dflt.stdout).toMatch(new RegExp(`build --target ${t} -t ghcr\\.io/mcpfleet/${t}:${pkg.version.replaceAll('.', '\\.')}\\s`));
    }
    const custom = make(['-n', 'images', 'IMAGE_REGISTRY=registry.example/team', 'IMAGE_TAG=t1', 'REVISION=abc123']);
    expect(custom.status).toBe(0);
    const builds = custom.stdout
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .filter((l) => /\bbuild --target\b/.test(l));
    expect(builds).toHaveLength(2);
    for (const t of TARGET_NAMES) {
      const line = builds.find((l) => l.includes(`--target ${t} `)) ?? '';
      expect(line).toContain(`-t registry.example/team/${t}:t1 `);
      expect(line).toContain(`--build-arg VERSION=${pkg.version} `);
      expect(line).toContain('--build-arg REVISION=abc123 ');
      expect(line).toMatch(/-f Dockerfile \.$/);
      expect(df.stages.some((s) => s.name === t)).toBe(true);
    }
  });

  test('fails with a clear message when no container engine answers', () => {
    // `false` stands for an engine whose daemon does not answer (docker info fails the same way).
    const r = make(['images', 'CONTAINER_ENGINE=false']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("no container engine answers ('false info' failed)");
    expect(r.stdout).not.toMatch(/build --target/);
  });
});
