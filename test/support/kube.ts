// kubectl-based helpers for operator tests against the real control plane.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ensureBinaries, startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../control-plane/controlPlane.ts';
import { crdName } from '../../operator/src/api/crdKind.ts';
import { API_KINDS } from '../../operator/src/api/registry.ts';
import { ROOT } from './processes.ts';

/** beforeAll budget of a suite that may build the control-plane binaries cold. */
export const BUILD_TIMEOUT_MS = 60 * 60_000;
/** The image name the operator puts in proxy Deployments during tests (nothing pulls it). */
export const TEST_PROXY_IMAGE = 'ghcr.io/mcpfleet/proxyrunner:test';

export const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'latest',
};

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    generation?: number;
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
    deletionTimestamp?: string;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [k: string]: unknown;
}

export class Kube {
  readonly cp: ControlPlane;
  constructor(cp: ControlPlane) {
    this.cp = cp;
  }

  async ok(args: string[], input?: string): Promise<string> {
    const res = await this.cp.kubectl(args, input === undefined ? {} : { input });
    if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${res.code}): ${res.stderr}`);
    return res.stdout;
  }

  async apply(obj: object | string, namespace?: string): Promise<void> {
    const input = typeof obj === 'string' ? obj : JSON.stringify(obj);
    await this.ok(['apply', ...(namespace ? ['-n', namespace] : []), '-f', '-'], input);
  }

  async get(kind: string, name: string, namespace: string): Promise<Obj | undefined> {
    const res = await this.cp.kubectl(['get', kind, name, '-n', namespace, '-o', 'json']);
    if (res.code !== 0) {
      if (res.stderr.includes('NotFound') || res.stderr.includes('not found')) return undefined;
      throw new Error(`kubectl get ${kind} ${name} failed: ${res.stderr}`);
    }
    return JSON.parse(res.stdout) as Obj;
  }

  async list(kinds: string, namespace: string, selector?: string): Promise<Obj[]> {
    const out = await this.ok(['get', kinds, '-n', namespace, ...(selector ? ['-l', selector] : []), '-o', 'json']);
    return (JSON.parse(out) as { items: Obj[] }).items;
  }

  async listAll(kinds: string, selector?: string): Promise<Obj[]> {
    const out = await this.ok(['get', kinds, '--all-namespaces', ...(selector ? ['-l', selector] : []), '-o', 'json']);
    return (JSON.parse(out) as { items: Obj[] }).items;
  }

  async newNamespace(prefix: string, labels: Record<string, string> = RESTRICTED): Promise<string> {
    const name = `${prefix}-${randomBytes(3).toString('hex')}`;
    await this.ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }));
    return name;
  }
}

export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false>, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError instanceof Error ? String(lastError) : JSON.stringify(lastError)})` : ''}`,
        { cause: lastError },
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface McpStatus {
  phase?: string;
  url?: string;
  readyReplicas?: number;
  observedGeneration?: number;
  message?: string;
  conditions?: { type: string; status: string; reason: string; message: string }[];
}

/** Waits until the MCPServer is Ready for its current generation; returns it. */
export async function waitReady(kube: Kube, name: string, namespace: string, timeoutMs = 90_000): Promise<Obj & { status: McpStatus }> {
  let last: Obj | undefined;
  try {
    return await eventually(`MCPServer ${namespace}/${name} Ready`, timeoutMs, async () => {
      const m = await kube.get('mcpserver', name, namespace);
      last = m;
      const status = m?.status as McpStatus | undefined;
      if (m && status?.phase === 'Ready' && status.observedGeneration === m.metadata.generation) return m as Obj & { status: McpStatus };
      return undefined;
    });
  } catch (err) {
    const pods = await kube.ok(['get', 'pods,statefulsets,deployments', '-n', namespace, '-o', 'wide']).catch((e: unknown) => String(e));
    throw new Error(`${(err as Error).message}\nlast seen: generation ${last?.metadata.generation}, status ${JSON.stringify(last?.status, null, 1)}\n${pods}`, {
      cause: err,
    });
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A control plane (controllers and kwok by default) with the MCPServer CRD installed and Established. */
export async function startClusterWithCrd(opts: ControlPlaneOptions = {}): Promise<{ cp: ControlPlane; kube: Kube }> {
  await ensureBinaries();
  const cp = await startControlPlane({ withControllers: true, withKwok: true, nodes: 1, ...opts });
  const kube = new Kube(cp);
  try {
    // Every kind of the API: the operator watches the config kinds too.
    await kube.ok(['apply', '-f', path.join(ROOT, 'deploy/crd')]);
    await kube.ok(['wait', '--for=condition=Established', ...API_KINDS.map((k) => `crd/${crdName(k)}`), '--timeout=60s']);
  } catch (err) {
    await cp.stop();
    throw err;
  }
  return { cp, kube };
}
