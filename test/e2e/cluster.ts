// The e2e tests' handle on the real one-node cluster that test/cluster/cluster-up.sh started
// (make test-e2e starts it first): kubectl and helm against it, waits with clear failure
// messages, the installed chart, pods' addresses and containers' cgroups on the node.
//
// Waits are generous and never assertions about speed: a wait that runs out fails with what
// was awaited and the last thing seen, so a slow machine gives a clear message, not a flake.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { runBinary, type KubectlResult } from '../control-plane/controlPlane.ts';
import { CHART, SAMPLES } from '../support/helm.ts';
import { RESTRICTED, type Obj } from '../support/kube.ts';
import { ROOT } from '../support/processes.ts';

export { CHART, SAMPLES, RESTRICTED, type Obj };

const CACHE = process.env['MCPFLEET_CACHE'] ?? path.join(os.homedir(), '.cache/mcpfleet');
export const CLUSTER_ENV = path.join(CACHE, 'node/run/cluster.env');

export interface ClusterInfo {
  kubeconfig: string;
  binDir: string;
  nodeName: string;
  nodeIp: string;
  operatorImage: string;
  proxyrunnerImage: string;
  everythingImage: string;
  /** test/fixtures/echoServer.ts: the benchmarks' lean upstream (spec.args ["--port", "3001"]). */
  echoImage: string;
}

/** Reads cluster-up's cluster.env; a clear error when no cluster runs. */
export function clusterInfo(): ClusterInfo {
  let text: string;
  try {
    text = readFileSync(CLUSTER_ENV, 'utf8');
  } catch {
    throw new Error(`no running cluster: ${CLUSTER_ENV} is missing (run make cluster-up, or make test-e2e which starts one)`);
  }
  const env = Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const need = (k: string): string => {
    const v = env[k];
    if (v === undefined || v === '') throw new Error(`${CLUSTER_ENV} lacks ${k}`);
    return v;
  };
  return {
    kubeconfig: need('KUBECONFIG'),
    binDir: need('K8S_BIN'),
    nodeName: need('NODE_NAME'),
    nodeIp: need('NODE_IP'),
    operatorImage: need('OPERATOR_IMAGE'),
    proxyrunnerImage: need('PROXYRUNNER_IMAGE'),
    everythingImage: need('EVERYTHING_IMAGE'),
    echoImage: need('ECHO_IMAGE'),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined; on timeout, throws naming `what` and the last state. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, describe?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      const state = describe ? await describe().catch((e: unknown) => String(e)) : '';
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${last})` : ''}${state ? `\n${state}` : ''}`);
    }
    await sleep(1_000);
  }
}

export class Cluster {
  readonly info: ClusterInfo;
  constructor(info: ClusterInfo = clusterInfo()) {
    this.info = info;
  }

  kubectl(args: string[], input?: string): Promise<KubectlResult> {
    return runBinary(path.join(this.info.binDir, 'kubectl'), [`--kubeconfig=${this.info.kubeconfig}`, '--request-timeout=60s', ...args], {
      cwd: ROOT,
      ...(input === undefined ? {} : { input }),
    });
  }

  async ok(args: string[], input?: string): Promise<string> {
    const res = await this.kubectl(args, input);
    if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${res.code}): ${res.stderr}${res.stdout}`);
    return res.stdout;
  }

  async apply(obj: object, namespace?: string): Promise<void> {
    await this.ok(['apply', ...(namespace ? ['-n', namespace] : []), '-f', '-'], JSON.stringify(obj));
  }

  async get(kind: string, name: string, namespace?: string): Promise<Obj | undefined> {
    const res = await this.kubectl(['get', kind, name, ...(namespace ? ['-n', namespace] : []), '-o', 'json']);
    if (res.code !== 0) {
      if (/NotFound|not found/.test(res.stderr)) return undefined;
      throw new Error(`kubectl get ${kind} ${name} failed: ${res.stderr}`);
    }
    return JSON.parse(res.stdout) as Obj;
  }

  async list(kind: string, namespace: string | undefined, selector?: string): Promise<Obj[]> {
    const out = await this.ok(['get', kind, ...(namespace ? ['-n', namespace] : ['-A']), ...(selector ? ['-l', selector] : []), '-o', 'json']);
    return (JSON.parse(out) as { items: Obj[] }).items;
  }

  /** kubectl get/describe output for a failure message. */
  async describe(args: string[]): Promise<string> {
    const res = await this.kubectl(args);
    return `$ kubectl ${args.join(' ')}\n${res.stdout}${res.stderr}`;
  }

  /** A namespace that enforces the restricted Pod Security Standard. */
  async restrictedNamespace(name: string): Promise<void> {
    await this.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: RESTRICTED } });
  }

  async helm(args: string[]): Promise<KubectlResult> {
    const home = path.join(os.tmpdir(), 'mcpfleet-e2e-helm');
    return runBinary(path.join(this.info.binDir, 'helm'), [...args, '--kubeconfig', this.info.kubeconfig], {
      cwd: ROOT,
      env: { HELM_CACHE_HOME: path.join(home, 'cache'), HELM_CONFIG_HOME: path.join(home, 'config'), HELM_DATA_HOME: path.join(home, 'data') },
    });
  }

  async helmOk(args: string[]): Promise<string> {
    const res = await this.helm(args);
    if (res.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${res.code}):\n${res.stderr}${res.stdout}`);
    return res.stdout;
  }

  // ------------------------------------------------------------------------------------------
  // the chart

  /** helm upgrade --install of charts/mcpfleet with the local images; waits for the operator pods. */
  async installChart(namespace = OPERATOR_NAMESPACE, release = RELEASE): Promise<void> {
    await this.restrictedNamespace(namespace);
    const [opRepo, opTag] = splitImage(this.info.operatorImage);
    const [prRepo, prTag] = splitImage(this.info.proxyrunnerImage);
    await this.helmOk([
      'upgrade',
      '--install',
      release,
      CHART,
      '--namespace',
      namespace,
      '--set',
      `image.repository=${opRepo}`,
      '--set',
      `image.tag=${opTag}`,
      '--set',
      'image.pullPolicy=Never',
      '--set',
      `proxyrunner.image.repository=${prRepo}`,
      '--set',
      `proxyrunner.image.tag=${prTag}`,
      '--set',
      'replicaCount=2',
      '--wait',
      '--timeout',
      '5m',
    ]);
  }

  /** The operator's leader (the Lease holder), once one of the pods holds it. */
  async operatorLeader(namespace = OPERATOR_NAMESPACE): Promise<string> {
    return waitFor(
      'an operator leader (Lease holder)',
      120_000,
      async () => {
        const leases = await this.list('leases.coordination.k8s.io', namespace);
        const holder = leases.map((l) => (l.spec as { holderIdentity?: string } | undefined)?.holderIdentity).find((h) => h);
        return holder || undefined;
      },
      () => this.describe(['get', 'leases,pods', '-n', namespace, '-o', 'wide']),
    );
  }

  // ------------------------------------------------------------------------------------------
  // MCPServers

  /** A sample from deploy/samples/, with its image replaced by the local server-everything. */
  async sample(file: string): Promise<Obj> {
    const obj = parse(await readFile(path.join(SAMPLES, file), 'utf8')) as Obj & { spec: { image: string } };
    obj.spec.image = this.info.everythingImage;
    return obj;
  }

  async waitReady(name: string, namespace: string, timeoutMs = 300_000): Promise<Obj> {
    return waitFor(
      `MCPServer ${namespace}/${name} Ready`,
      timeoutMs,
      async () => {
        const mcp = await this.get('mcpserver', name, namespace);
        const status = mcp?.status as { phase?: string; observedGeneration?: number } | undefined;
        return mcp !== undefined && status?.phase === 'Ready' && status.observedGeneration === mcp.metadata.generation ? mcp : undefined;
      },
      () => this.describe(['get', 'mcpserver,deploy,sts,pods,svc', '-n', namespace, '-o', 'wide']),
    );
  }

  /** Pods of one component (proxy | backend) of an MCPServer, with their IPs. */
  async pods(name: string, namespace: string, component: 'proxy' | 'backend'): Promise<Obj[]> {
    return this.list('pods', namespace, `app.kubernetes.io/instance=${name},app.kubernetes.io/component=${component}`);
  }

  async serviceUrl(service: string, namespace: string, port: number, urlPath: string): Promise<string> {
    const svc = await this.get('service', service, namespace);
    const ip = (svc?.spec as { clusterIP?: string } | undefined)?.clusterIP;
    if (ip === undefined || ip === 'None') throw new Error(`Service ${namespace}/${service} has no ClusterIP`);
    return `http://${ip}:${port}${urlPath}`;
  }
}

export const OPERATOR_NAMESPACE = 'mcpfleet-system';
export const RELEASE = 'mcpfleet';

export function splitImage(ref: string): [string, string] {
  const at = ref.lastIndexOf(':');
  if (at <= ref.lastIndexOf('/')) return [ref, 'latest'];
  return [ref.slice(0, at), ref.slice(at + 1)];
}

export function podIp(pod: Obj): string {
  const ip = (pod.status as { podIP?: string } | undefined)?.podIP;
  if (ip === undefined) throw new Error(`pod ${pod.metadata.name} has no IP yet`);
  return ip;
}

export interface ContainerState {
  restartCount: number;
  ready: boolean;
  lastTerminationReason?: string;
  containerId?: string;
}

export function containerState(pod: Obj, container: string): ContainerState {
  const statuses =
    (
      pod.status as
        | {
            containerStatuses?: {
              name: string;
              restartCount: number;
              ready: boolean;
              containerID?: string;
              lastState?: { terminated?: { reason?: string } };
            }[];
          }
        | undefined
    )?.containerStatuses ?? [];
  const s = statuses.find((c) => c.name === container);
  if (s === undefined) throw new Error(`pod ${pod.metadata.name} has no status for container ${container}`);
  return {
    restartCount: s.restartCount,
    ready: s.ready,
    ...(s.lastState?.terminated?.reason !== undefined && { lastTerminationReason: s.lastState.terminated.reason }),
    ...(s.containerID !== undefined && { containerId: s.containerID.replace(/^containerd:\/\//, '') }),
  };
}
