// Where the API is and how to authenticate: --kubeconfig / KUBECONFIG / ~/.kube/config, or
// the in-cluster ServiceAccount. This is a small reader rather than @kubernetes/client-node's
// KubeConfig because importing that package loads every generated model and API class
// (about 55 MiB of resident memory measured here), a quarter of the operator's budget and
// most of a proxyrunner's.
//
// Supported: token, tokenFile, client certificate/key (file or data), CA (file or data),
// insecure-skip-tls-verify, basic auth, exec credential plugins (client.authentication.k8s.io
// ExecCredential, token or client certificate). Not supported: auth-provider (deprecated).
import { execFile } from 'node:child_process';
import { fs, util } from '../builtins.ts';
import os from 'node:os';
import path from 'node:path';
import type * as Yaml from 'yaml';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The YAML parser, loaded when a kubeconfig file is read: never in a pod (in-cluster
 * credentials), where importing it would cost ~11 MiB of RSS (measured in bare node 24). */
const parseYaml = (text: string): unknown => (process.getBuiltinModule('node:module').createRequire(import.meta.url)('yaml') as typeof Yaml).parse(text);

export interface Credentials {
  token?: string;
  cert?: string;
  key?: string;
}

export interface ClusterAccess {
  /** https://host:port, no trailing slash */
  server: string;
  ca?: string;
  insecureSkipTLSVerify: boolean;
  /** The namespace of the current context (or of the in-cluster pod). */
  namespace: string | undefined;
  /** Credentials for the next request (re-read or refreshed as needed). */
  credentials(): Promise<Credentials>;
  /** Where this came from, for logs. */
  source: string;
}

interface NamedCluster {
  name: string;
  cluster: { server: string; 'certificate-authority'?: string; 'certificate-authority-data'?: string; 'insecure-skip-tls-verify'?: boolean };
}
interface ExecConfig {
  command: string;
  args?: string[];
  env?: { name: string; value: string }[] | null;
  apiVersion?: string;
}
interface NamedUser {
  name: string;
  user: {
    token?: string;
    tokenFile?: string;
    'client-certificate'?: string;
    'client-certificate-data'?: string;
    'client-key'?: string;
    'client-key-data'?: string;
    username?: string;
    password?: string;
    exec?: ExecConfig;
  };
}
interface NamedContext {
  name: string;
  context: { cluster: string; user: string; namespace?: string };
}
interface KubeconfigFile {
  clusters?: NamedCluster[];
  users?: NamedUser[];
  contexts?: NamedContext[];
  'current-context'?: string;
}

function fileOrData(base: string, file: string | undefined, data: string | undefined): string | undefined {
  if (data !== undefined) return Buffer.from(data, 'base64').toString('utf8');
  if (file !== undefined) return fs.readFileSync(path.resolve(base, file), 'utf8');
  return undefined;
}

export function inCluster(env: NodeJS.ProcessEnv = process.env): ClusterAccess {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) throw new Error('not in a cluster (KUBERNETES_SERVICE_HOST/PORT unset) and no kubeconfig given');
  let namespace: string | undefined;
  try {
    namespace = fs.readFileSync(`${SA_DIR}/namespace`, 'utf8').trim();
  } catch {
    namespace = undefined;
  }
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: fs.readFileSync(`${SA_DIR}/ca.crt`, 'utf8'),
    insecureSkipTLSVerify: false,
    namespace,
    // Projected tokens rotate (the kubelet refreshes the file well before expiry): re-read
    // it once a minute, as client-go does, not on every request.
    credentials: (() => {
      const token = tokenFileReader(`${SA_DIR}/token`);
      return async () => ({ token: token() });
    })(),
    source: 'in-cluster',
  };
}

export function fromKubeconfig(file: string, contextName?: string): ClusterAccess {
  const text = fs.readFileSync(file, 'utf8');
  const config = parseYaml(text) as KubeconfigFile;
  const base = path.dirname(path.resolve(file));
  const ctxName = contextName ?? config['current-context'];
  const ctx = config.contexts?.find((c) => c.name === ctxName);
  if (!ctx) throw new Error(`kubeconfig ${file}: context "${ctxName ?? ''}" not found`);
  const cluster = config.clusters?.find((c) => c.name === ctx.context.cluster)?.cluster;
  if (!cluster) throw new Error(`kubeconfig ${file}: cluster "${ctx.context.cluster}" not found`);
  const user = config.users?.find((u) => u.name === ctx.context.user)?.user ?? {};

  const ca = fileOrData(base, cluster['certificate-authority'], cluster['certificate-authority-data']);
  const cert = fileOrData(base, user['client-certificate'], user['client-certificate-data']);
  const key = fileOrData(base, user['client-key'], user['client-key-data']);
  let credentials: () => Promise<Credentials>;
  if (user.exec) {
    credentials = execPlugin(user.exec, base);
  } else if (user.tokenFile) {
    const token = tokenFileReader(path.resolve(base, user.tokenFile));
    credentials = async () => ({ token: token(), cert, key });
  } else if (user.username !== undefined && user.password !== undefined) {
    const basic = Buffer.from(`${user.username}:${user.password}`).toString('base64');
    credentials = async () => ({ token: `Basic ${basic}`, cert, key });
  } else {
    const token = user.token;
    credentials = async () => ({ ...(token !== undefined && { token }), cert, key });
  }
  return {
    server: cluster.server.replace(/\/+$/, ''),
    ...(ca !== undefined && { ca }),
    insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
    namespace: ctx.context.namespace,
    credentials,
    source: `kubeconfig ${file} (context ${ctxName ?? ''})`,
  };
}

/** An exec credential plugin, its result cached until shortly before it expires. */
function execPlugin(exec: ExecConfig, base: string): () => Promise<Credentials> {
  let cached: { creds: Credentials; expires: number } | undefined;
  return async () => {
    if (cached && Date.now() < cached.expires) return cached.creds;
    const env = { ...process.env };
    for (const e of exec.env ?? []) env[e.name] = e.value;
    const command = exec.command.includes('/') ? path.resolve(base, exec.command) : exec.command;
    const { stdout } = await util.promisify(execFile)(command, exec.args ?? [], { env, timeout: 60_000 });
    const result = JSON.parse(stdout) as {
      status?: { token?: string; clientCertificateData?: string; clientKeyData?: string; expirationTimestamp?: string };
    };
    const s = result.status ?? {};
    const creds: Credentials = {
      ...(s.token !== undefined && { token: s.token }),
      ...(s.clientCertificateData !== undefined && { cert: s.clientCertificateData }),
      ...(s.clientKeyData !== undefined && { key: s.clientKeyData }),
    };
    const expires = s.expirationTimestamp ? Date.parse(s.expirationTimestamp) - 60_000 : Date.now() + 10 * 60_000;
    cached = { creds, expires };
    return creds;
  };
}

/** --kubeconfig, else KUBECONFIG (first file), else in-cluster, else ~/.kube/config. */
export function loadClusterAccess(kubeconfig: string | undefined, env: NodeJS.ProcessEnv = process.env): ClusterAccess {
  if (kubeconfig) return fromKubeconfig(kubeconfig);
  const fromEnv = env['KUBECONFIG']?.split(path.delimiter).find((p) => p !== '');
  if (fromEnv) return fromKubeconfig(fromEnv);
  if (env['KUBERNETES_SERVICE_HOST']) return inCluster(env);
  return fromKubeconfig(path.join(os.homedir(), '.kube', 'config'));
}

/** A token file's content, read at most once per `maxAgeMs` (rotation is picked up within it). */
export function tokenFileReader(file: string, maxAgeMs = 60_000, now: () => number = Date.now): () => string {
  let cached: { token: string; at: number } | undefined;
  return () => {
    const t = now();
    if (cached === undefined || t - cached.at >= maxAgeMs) cached = { token: fs.readFileSync(file, 'utf8').trim(), at: t };
    return cached.token;
  };
}
