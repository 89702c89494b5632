// A real Kubernetes control plane for tests, started the way controller-runtime's envtest does
// it: etcd + kube-apiserver, optionally kube-controller-manager + kube-scheduler (garbage
// collection, namespace deletion, Deployments -> ReplicaSets -> Pods, scheduling) and kwok
// (fake Nodes whose bound Pods it marks Running/Ready; nothing really runs).
//
// Binaries come from test/control-plane/build.sh (KUBEBUILDER_ASSETS or a cache built from Go
// modules). Every process logs to a file in the control plane's temp dir; on a startup failure
// the error names that dir, which is kept for debugging.
//
// Addresses: everything listens on 127.0.0.1. Fake Nodes and Pods get loopback addresses too
// (127.1.0.0/24), so anything that dials a Pod IP stays on this machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ControlPlane {
  /** Kubeconfig (admin, in system:masters) for kubectl, helm, the operator. */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Bearer token of the admin user. */
  token: string;
  binDir: string;
  /** The control plane's temp dir: logs (*.log), certs, etcd data, kubeconfig. */
  dir: string;
  kubectl(args: string[], opts?: { input?: string }): Promise<KubectlResult>;
  /** Stops kube-apiserver only (SIGTERM, then SIGKILL); etcd and the rest keep running. */
  stopApiserver(): Promise<void>;
  /** Starts kube-apiserver again on the same port with the same certs; waits for /healthz. */
  startApiserver(): Promise<void>;
  /** Compacts etcd's history at its current revision (watchers with older resourceVersions get 410 Gone). */
  compactEtcd(): Promise<void>;
  /** Stops every process (SIGTERM, then SIGKILL) and removes the temp dir. */
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** kube-controller-manager and kube-scheduler (default true). */
  withControllers?: boolean;
  /** kwok and fake Nodes (default true; needs withControllers for Pods to be scheduled). */
  withKwok?: boolean;
  /** How many fake Nodes (default 1). */
  nodes?: number;
  /** Pods each fake Node takes (default 110, the kubelet's default). */
  podsPerNode?: number;
  /** Pods kwok moves through their stages at once (kwok's default is 4: slow for hundreds of pods). */
  kwokPodParallelism?: number;
  /**
   * Flags appended to a component's command line; a repeated flag overrides the harness's
   * (the last occurrence wins in every Kubernetes binary). For example, the scale benchmark
   * raises kube-controller-manager's client QPS and widens kwok's pod CIDR.
   */
  extraArgs?: Partial<Record<Component, readonly string[]>>;
}

export type Component = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUILD_SCRIPT = path.join(HERE, 'build.sh');
const STOP_GRACE_MS = 5_000;
const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok', 'helm'];
/** Loopback: fake Pod IPs and the fake Nodes' InternalIP. */
const POD_CIDR = '127.1.0.1/24';
const NODE_IP = '127.1.0.1';

// ---------------------------------------------------------------------------------------------
// binaries

let binariesPromise: Promise<string> | undefined;

/** Runs build.sh (its progress streams to stderr) and returns the bin dir it prints last. */
export function ensureBinaries(): Promise<string> {
  binariesPromise ??= runBuildScript().catch((err: unknown) => {
    binariesPromise = undefined;
    throw err;
  });
  return binariesPromise;
}

async function runBuildScript(): Promise<string> {
  const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  const code = await exitOf(child);
  if (code !== 0) throw new Error(`${BUILD_SCRIPT} failed with exit code ${code}`);
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const binDir = lines.at(-1);
  if (binDir === undefined) throw new Error(`${BUILD_SCRIPT} printed no bin dir`);
  for (const b of BINARIES) await access(path.join(binDir, b), fsConstants.X_OK);
  return binDir;
}

// ---------------------------------------------------------------------------------------------
// processes

/** Runs a binary to completion, collecting its output; never rejects on a non-zero exit. */
export function runBinary(file: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.once('error', reject);
    child.stdin.on('error', () => {}); // the binary may exit before reading stdin
    child.stdin.end(opts.input ?? '');
    // 'close', not 'exit': only then has all of stdout and stderr been read.
    child.once('close', (code, signal) => resolve({ stdout, stderr, code: code ?? (signal === null ? 1 : 128 + (os.constants.signals[signal] ?? 0)) }));
  });
}

interface Proc {
  name: string;
  child: ChildProcess;
  logPath: string;
  exited: Promise<number>;
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else if (child.signalCode !== null) resolve(128 + (os.constants.signals[child.signalCode] ?? 0));
    else
      child.once('exit', (code, signal) => {
        resolve(code ?? 128 + (signal === null ? 0 : (os.constants.signals[signal] ?? 0)));
      });
  });
}

function running(p: Proc): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/** Every child of every control plane in this Node process, SIGKILLed if Node exits first. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function registerChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of liveChildren) c.kill('SIGKILL');
    });
  }
}

async function startProcess(dir: string, binDir: string, name: string, args: string[]): Promise<Proc> {
  const logPath = path.join(dir, `${name}.log`);
  const log = await open(logPath, 'a');
  try {
    const child = spawn(path.join(binDir, name), args, { stdio: ['ignore', log.fd, log.fd], cwd: dir });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
    registerChild(child);
    return { name, child, logPath, exited: exitOf(child) };
  } finally {
    await log.close();
  }
}

async function stopProcess(p: Proc): Promise<void> {
  if (running(p)) {
    p.child.kill('SIGTERM');
    const timer = setTimeout(() => p.child.kill('SIGKILL'), STOP_GRACE_MS);
    await p.exited;
    clearTimeout(timer);
  } else {
    await p.exited;
  }
}

async function logTail(p: Proc, lines = 30): Promise<string> {
  try {
    const text = await readFile(p.logPath, 'utf8');
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls check() until it returns true; fails early (with the log tail) if `proc` exits. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, proc?: Proc): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    if (proc !== undefined && !running(proc)) {
      throw new Error(`${proc.name} exited (${await proc.exited}) while waiting for ${what}; log ${proc.logPath}:\n${await logTail(proc)}`);
    }
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      const tail = proc === undefined ? '' : `; log ${proc.logPath}:\n${await logTail(proc)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === '' ? '' : ` (last error: ${lastError})`}${tail}`);
    }
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

async function etcdPost(port: number, route: string, body: unknown): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${port}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`etcd ${route}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text) as unknown;
}

interface HttpResult {
  status: number;
  body: string;
}

function apiGet(server: string, token: string, ca: string, route: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(route, server),
      { method: 'GET', ca, headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, timeout: 5_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${route} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// the control plane

function fakeNode(name: string, pods: number): object {
  const resources = { cpu: '32', memory: '256Gi', pods: String(pods) };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/role': 'agent',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
      },
    },
    spec: {},
    status: {
      allocatable: resources,
      capacity: resources,
      nodeInfo: {
        architecture: 'amd64',
        bootID: '',
        containerRuntimeVersion: '',
        kernelVersion: '',
        kubeProxyVersion: 'fake',
        kubeletVersion: 'fake',
        machineID: '',
        operatingSystem: 'linux',
        osImage: '',
        systemUUID: '',
      },
      phase: 'Running',
    },
  };
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const withControllers = opts.withControllers ?? true;
  const withKwok = opts.withKwok ?? true;
  const nodes = opts.nodes ?? 1;
  const extra = (c: Component): readonly string[] => opts.extraArgs?.[c] ?? [];
  const binDir = await ensureBinaries();

  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcpfleet-cp-'));
  const procs: Proc[] = [];
  let apiserver: Proc | undefined;
  let stopped = false;

  const stopAll = async (): Promise<void> => {
    // Reverse start order: kwok, scheduler, controller-manager, apiserver, etcd.
    const all = apiserver !== undefined && !procs.includes(apiserver) ? [...procs, apiserver] : procs;
    const order = ['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];
    for (const name of order) {
      await Promise.all(all.filter((p) => p.name === name).map((p) => stopProcess(p)));
    }
  };

  try {
    const [etcdPort, etcdPeerPort, apiPort, kcmPort, schedPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const server = `https://127.0.0.1:${apiPort}`;
    const token = randomBytes(32).toString('hex');
    const certDir = path.join(dir, 'certs');
    const keyPath = path.join(dir, 'sa.key');
    const tokensPath = path.join(dir, 'tokens.csv');
    const kubeconfigPath = path.join(dir, 'kubeconfig');
    const caPath = path.join(certDir, 'apiserver.crt'); // written by kube-apiserver (self-signed)

    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(keyPath, privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
    await writeFile(tokensPath, `${token},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });

    // --- etcd
    const etcd = await startProcess(dir, binDir, 'etcd', [
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync=true',
    ]);
    procs.push(etcd);
    await waitFor(
      'etcd /health',
      30_000,
      async () => {
        const res = await fetch(`http://127.0.0.1:${etcdPort}/health`, { signal: AbortSignal.timeout(2_000) });
        return res.status === 200;
      },
      etcd,
    );

    // --- kube-apiserver
    const apiserverArgs: string[] = [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      `--token-auth-file=${tokensPath}`,
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      // PodSecurity is on by default; named here so a namespace labelled
      // pod-security.kubernetes.io/enforce=restricted is guaranteed to enforce.
      '--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,PodSecurity,ResourceQuota,LimitRanger',
      '--service-cluster-ip-range=10.0.0.0/24',
      `--service-account-issuer=${server}/`,
      `--service-account-key-file=${keyPath}`,
      `--service-account-signing-key-file=${keyPath}`,
      // The `kubernetes` Service's endpoints would point at 127.0.0.1, which Endpoints reject.
      '--endpoint-reconciler-type=none',
      ...extra('kube-apiserver'),
    ];
    let ca = '';
    const startApiserverProc = async (): Promise<void> => {
      const p = await startProcess(dir, binDir, 'kube-apiserver', apiserverArgs);
      apiserver = p;
      await waitFor(
        'kube-apiserver /healthz',
        120_000,
        async () => {
          ca = await readFile(caPath, 'utf8');
          const res = await apiGet(server, token, ca, '/healthz');
          return res.status === 200;
        },
        p,
      );
    };
    await startApiserverProc();

    await writeFile(
      kubeconfigPath,
      JSON.stringify(
        {
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'test', cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
          users: [{ name: 'admin', user: { token } }],
          contexts: [{ name: 'test', context: { cluster: 'test', user: 'admin', namespace: 'default' } }],
          'current-context': 'test',
        },
        null,
        2,
      ),
      { mode: 0o600 },
    );

    await waitFor(
      'the default namespace',
      60_000,
      async () => {
        const res = await apiGet(server, token, ca, '/api/v1/namespaces/default');
        return res.status === 200;
      },
      apiserver,
    );

    const kubectl = (args: string[], kopts: { input?: string } = {}): Promise<KubectlResult> =>
      runBinary(path.join(binDir, 'kubectl'), [`--kubeconfig=${kubeconfigPath}`, ...args], { cwd: dir, ...kopts });

    // --- kube-controller-manager, kube-scheduler
    if (withControllers) {
      const common = [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        '--bind-address=127.0.0.1',
        '--leader-elect=false',
      ];
      const kcm = await startProcess(dir, binDir, 'kube-controller-manager', [
        ...common,
        `--secure-port=${kcmPort}`,
        `--service-account-private-key-file=${keyPath}`,
        `--root-ca-file=${caPath}`,
        // Endpoints are pointless here: fake Pod IPs are loopback addresses, which the
        // apiserver refuses in Endpoints, so those controllers would only retry and burn CPU.
        '--controllers=*,-endpoints-controller,-endpointslice-controller,-endpointslice-mirroring-controller',
        '--use-service-account-credentials=false',
        ...extra('kube-controller-manager'),
      ]);
      procs.push(kcm);
      const sched = await startProcess(dir, binDir, 'kube-scheduler', [...common, `--secure-port=${schedPort}`, ...extra('kube-scheduler')]);
      procs.push(sched);
      // The ServiceAccount admission plugin needs the `default` ServiceAccount before Pods can be made.
      await waitFor(
        'the default ServiceAccount',
        60_000,
        async () => {
          const res = await apiGet(server, token, ca, '/api/v1/namespaces/default/serviceaccounts/default');
          return res.status === 200;
        },
        kcm,
      );
      await waitFor(
        'kube-scheduler /healthz',
        60_000,
        async () => {
          const res = await insecureGet(schedPort);
          return res.status === 200;
        },
        sched,
      );
    }

    // --- kwok and its fake Nodes
    if (withKwok) {
      const kwokConfig = path.join(dir, 'kwok.yaml');
      await writeFile(
        kwokConfig,
        JSON.stringify({
          apiVersion: 'config.kwok.x-k8s.io/v1alpha1',
          kind: 'KwokConfiguration',
          options: { podPlayStageParallelism: opts.kwokPodParallelism ?? 16, nodePlayStageParallelism: 4 },
        }),
      );
      const kwok = await startProcess(dir, binDir, 'kwok', [
        `--kubeconfig=${kubeconfigPath}`,
        `--config=${kwokConfig}`,
        '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        `--cidr=${POD_CIDR}`,
        `--node-ip=${NODE_IP}`,
        // Without node Leases kwok patches Node status only every ~55 s, past the node-lifecycle
        // controller's 50 s grace: it would mark the Node, and every Pod on it, NotReady.
        '--node-lease-duration-seconds=40',
        ...extra('kwok'),
      ]);
      procs.push(kwok);
      const items = Array.from({ length: nodes }, (_, i) => fakeNode(`kwok-node-${i}`, opts.podsPerNode ?? 110));
      const created = await kubectl(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
      if (created.code !== 0) throw new Error(`creating fake nodes failed: ${created.stderr}`);
      await waitFor(
        `${nodes} Ready fake node(s)`,
        60_000,
        async () => {
          const res = await kubectl(['wait', '--for=condition=Ready', 'node', '-l', 'type=kwok', '--timeout=5s']);
          return res.code === 0;
        },
        kwok,
      );
    }

    const cp: ControlPlane = {
      kubeconfigPath,
      server,
      token,
      binDir,
      dir,
      kubectl,
      async stopApiserver() {
        if (apiserver !== undefined) await stopProcess(apiserver);
      },
      async startApiserver() {
        if (apiserver !== undefined && running(apiserver)) return;
        await startApiserverProc();
      },
      async compactEtcd() {
        const range = await etcdPost(etcdPort, '/v3/kv/range', { key: Buffer.from('\0').toString('base64'), count_only: true });
        const revision = (range as { header?: { revision?: string } }).header?.revision;
        if (revision === undefined) throw new Error(`etcd range returned no revision: ${JSON.stringify(range)}`);
        try {
          await etcdPost(etcdPort, '/v3/kv/compaction', { revision, physical: true });
        } catch (err) {
          // Compacting twice at the same revision is fine for our purposes.
          if (!(err instanceof Error && err.message.includes('has been compacted'))) throw err;
        }
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll();
        if (process.env['MCPFLEET_KEEP_CONTROL_PLANE'] === '1') {
          process.stderr.write(`[control-plane] kept ${dir}\n`);
        } else {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
    return cp;
  } catch (err) {
    await stopAll();
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`[control-plane] startup failed; logs and state kept in ${dir}\n`);
    throw new Error(`control plane startup failed (logs in ${dir}): ${message}`, { cause: err });
  }
}

/** The scheduler serves a self-signed cert of its own: /healthz without verification. */
function insecureGet(port: number): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/healthz', method: 'GET', rejectUnauthorized: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('GET /healthz timed out')));
    req.on('error', reject);
    req.end();
  });
}
