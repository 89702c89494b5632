// Helm, RBAC and "run the operator as the chart would" helpers for the deploy tests.
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { runBinary, type ControlPlane, type KubectlResult } from '../control-plane/controlPlane.ts';
import type { Kube, Obj } from './kube.ts';
import { startOperator, type OperatorProcess } from './operatorProcess.ts';
import { ROOT } from './processes.ts';

export const CHART = path.join(ROOT, 'charts/mcpfleet');
export const SAMPLES = path.join(ROOT, 'deploy/samples');

/** Runs a binary from the project root (see runBinary). */
export const exec = (file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<KubectlResult> =>
  runBinary(file, args, { cwd: ROOT, ...opts });

/** kubectl against the control plane (cp.kubectl, with the input as a plain argument). */
export const kubectl = (cp: ControlPlane, args: string[], input?: string): Promise<KubectlResult> => cp.kubectl(args, input === undefined ? {} : { input });

/** helm from the control plane's bin dir; against the cluster when `cp` is given. */
export async function helm(binDir: string, args: string[], cp?: ControlPlane): Promise<KubectlResult> {
  // Keep helm's cache, config and data out of the user's home (and away from their repositories).
  const home = path.join(cp?.dir ?? os.tmpdir(), 'mcpfleet-helm');
  return exec(path.join(binDir, 'helm'), [...args, ...(cp ? ['--kubeconfig', cp.kubeconfigPath] : [])], {
    env: { HELM_CACHE_HOME: path.join(home, 'cache'), HELM_CONFIG_HOME: path.join(home, 'config'), HELM_DATA_HOME: path.join(home, 'data') },
  });
}

export async function helmOk(binDir: string, args: string[], cp?: ControlPlane): Promise<string> {
  const res = await helm(binDir, args, cp);
  if (res.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${res.code}):\n${res.stderr}${res.stdout}`);
  return res.stdout;
}

/** `helm template` of the chart, parsed; `set` are --set pairs. */
export async function renderChart(binDir: string, set: string[] = [], extra: string[] = []): Promise<Obj[]> {
  const out = await helmOk(binDir, ['template', 'mcpfleet', CHART, '--namespace', 'mcpfleet-system', ...set.flatMap((s) => ['--set', s]), ...extra]);
  return parseManifests(out);
}

export function parseManifests(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null && typeof o === 'object' && 'kind' in o);
}

export function find(objs: Obj[], kind: string, name?: string, namespace?: string): Obj[] {
  return objs.filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name) && (namespace === undefined || o.metadata.namespace === namespace),
  );
}

// ---------------------------------------------------------------------------------------------
// RBAC

export interface Subject {
  namespace: string;
  name: string;
}

export const asServiceAccount = (sa: Subject): string => `system:serviceaccount:${sa.namespace}:${sa.name}`;

/**
 * `kubectl auth can-i VERB RESOURCE[/NAME] [--subresource S] -n NS | --all-namespaces` as the
 * ServiceAccount. `where` is a namespace, or '*' for all namespaces (and cluster-scoped kinds).
 */
export interface Check {
  verb: string;
  resource: string;
  where: string;
  subresource?: string;
}

export async function canI(kube: Kube, sa: Subject, check: Check): Promise<boolean> {
  const args = ['auth', 'can-i', check.verb, check.resource, `--as=${asServiceAccount(sa)}`];
  if (check.subresource !== undefined) args.push(`--subresource=${check.subresource}`);
  args.push(...(check.where === '*' ? ['--all-namespaces'] : ['-n', check.where]));
  // Not kube.cp.kubectl: it resolves on 'exit', when stdout may not have been read yet; a
  // bare "no" lost that way would read as neither answer.
  const res = await kubectl(kube.cp, args);
  const answer = res.stdout.trim().split('\n').at(-1);
  if (answer === 'yes' && res.code === 0) return true;
  if (answer === 'no' && res.code === 1) return false;
  throw new Error(`kubectl ${args.join(' ')}: unexpected answer (${res.code}): ${res.stdout}${res.stderr}`);
}

export const describeCheck = (c: Check): string =>
  `${c.verb} ${c.resource}${c.subresource ? `/${c.subresource}` : ''} ${c.where === '*' ? 'in all namespaces' : `in ${c.where}`}`;

/** Every check's answer, four kubectl processes at a time; returns the checks whose answer differs from `expected`. */
export async function wrongAnswers(kube: Kube, sa: Subject, checks: readonly Check[], expected: boolean): Promise<string[]> {
  const wrong: string[] = [];
  for (let i = 0; i < checks.length; i += 4) {
    const batch = checks.slice(i, i + 4);
    const answers = await Promise.all(batch.map((c) => canI(kube, sa, c)));
    answers.forEach((a, j) => {
      if (a !== expected) wrong.push(`${asServiceAccount(sa)} ${expected ? 'cannot' : 'can'} ${describeCheck(batch[j] as Check)}`);
    });
  }
  return wrong;
}

/** `kubectl auth can-i --list` as the ServiceAccount in a namespace, rows sorted. */
export async function canIList(kube: Kube, sa: Subject, namespace: string): Promise<string[]> {
  const args = ['auth', 'can-i', '--list', `--as=${asServiceAccount(sa)}`, '-n', namespace];
  const res = await kubectl(kube.cp, args);
  if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${res.code}): ${res.stderr}`);
  return res.stdout
    .split('\n')
    .slice(1) // header
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter((l) => l !== '')
    .sort();
}

// ---------------------------------------------------------------------------------------------
// ServiceAccount tokens, the kubelet's env resolution, object and event checks

/** A kubeconfig for the control plane that authenticates with a fresh token of the ServiceAccount. */
export async function serviceAccountKubeconfig(kube: Kube, sa: Subject, file: string): Promise<string> {
  const res = await kubectl(kube.cp, ['create', 'token', sa.name, '-n', sa.namespace, '--duration=2h']);
  const token = res.stdout.trim();
  if (res.code !== 0 || token === '') throw new Error(`kubectl create token ${sa.namespace}/${sa.name} failed (${res.code}): ${res.stderr}`);
  const admin = parse(await readFile(kube.cp.kubeconfigPath, 'utf8')) as { users: { name: string; user: Record<string, string> }[] };
  await writeFile(file, JSON.stringify({ ...admin, users: [{ name: 'admin', user: { token } }] }), { mode: 0o600 });
  return file;
}

const BYTE_SUFFIX: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** A Kubernetes quantity in the given divisor's units, rounded up, as the kubelet renders resourceFieldRef. */
export function quantityIn(quantity: string, divisor = '1'): string {
  const toNumber = (q: string): number => {
    const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|)$/.exec(q);
    if (!m) throw new Error(`unsupported quantity ${q}`);
    return Number(m[1]) * (BYTE_SUFFIX[m[2] as string] as number);
  };
  // The apiserver stores an unset divisor as "0", which means 1.
  const per = toNumber(divisor);
  return String(Math.ceil(toNumber(quantity) / (per === 0 ? 1 : per)));
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    resourceFieldRef?: { containerName?: string; resource: string; divisor?: string };
    secretKeyRef?: unknown;
    configMapKeyRef?: unknown;
  };
}

export interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  [k: string]: unknown;
}

/**
 * What the kubelet would hand the container: its environment with fieldRef and resourceFieldRef
 * resolved for a pod named `podName` in `namespace`. Anything else is refused (the test would
 * otherwise run the operator with a different environment than the pod).
 */
export function resolveEnv(container: ContainerSpec, pod: { name: string; namespace: string; serviceAccountName: string }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined || e.valueFrom === undefined) {
      env[e.name] = e.value ?? '';
      continue;
    }
    const { fieldRef, resourceFieldRef } = e.valueFrom;
    if (fieldRef !== undefined) {
      const fields: Record<string, string> = {
        'metadata.name': pod.name,
        'metadata.namespace': pod.namespace,
        'spec.serviceAccountName': pod.serviceAccountName,
      };
      const value = fields[fieldRef.fieldPath];
      if (value === undefined) throw new Error(`env ${e.name}: fieldRef ${fieldRef.fieldPath} is not resolved by this test`);
      env[e.name] = value;
    } else if (resourceFieldRef !== undefined) {
      if (resourceFieldRef.containerName !== undefined && resourceFieldRef.containerName !== container.name) {
        throw new Error(`env ${e.name}: resourceFieldRef names container ${resourceFieldRef.containerName}, not ${container.name}`);
      }
      const [kind, resource] = resourceFieldRef.resource.split('.') as [string, string];
      const quantity = (kind === 'limits' ? container.resources?.limits : container.resources?.requests)?.[resource];
      if (quantity === undefined) throw new Error(`env ${e.name}: the container sets no ${resourceFieldRef.resource}`);
      env[e.name] = quantityIn(quantity, resourceFieldRef.divisor);
    } else {
      throw new Error(`env ${e.name}: valueFrom ${JSON.stringify(e.valueFrom)} is not resolved by this test`);
    }
  }
  return env;
}

/** True when kubectl finds no object of the kind/name (NotFound). */
export async function isGone(kube: Kube, kind: string, name: string, namespace?: string): Promise<boolean> {
  const res = await kubectl(kube.cp, ['get', kind, name, ...(namespace ? ['-n', namespace] : []), '-o', 'name']);
  if (res.code === 0) return false;
  if (/NotFound|not found/.test(res.stderr)) return true;
  throw new Error(`kubectl get ${kind} ${name}: ${res.stderr}`);
}

/** Events in the namespace whose reason or message says a pod could not be created or admitted. */
export async function admissionFailures(kube: Kube, namespace: string): Promise<string[]> {
  const res = await kubectl(kube.cp, ['get', 'events', '-n', namespace, '-o', 'json']);
  if (res.code !== 0) throw new Error(`kubectl get events -n ${namespace} failed: ${res.stderr}`);
  const events = (JSON.parse(res.stdout) as { items: { reason?: string; message?: string; involvedObject?: { kind?: string; name?: string } }[] }).items;
  return events
    .filter((e) => e.reason === 'FailedCreate' || /PodSecurity|violates|forbidden/i.test(e.message ?? ''))
    .map((e) => `${e.involvedObject?.kind}/${e.involvedObject?.name}: ${e.reason}: ${e.message}`);
}

// ---------------------------------------------------------------------------------------------
// the image's entrypoint

/** The ENTRYPOINT (exec form) of a target stage of the project's Dockerfile. */
export async function imageEntrypoint(target: string): Promise<string[]> {
  const text = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
  const from = new RegExp(`^FROM\\s+\\S+\\s+AS\\s+${target}\\s*$`, 'im').exec(text);
  if (from === null) throw new Error(`Dockerfile has no stage "${target}"`);
  const rest = text.slice(from.index + from[0].length);
  const next = rest.search(/^FROM\s/im);
  const stage = next < 0 ? rest : rest.slice(0, next);
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/im.exec(stage);
  if (entrypoint === null) throw new Error(`Dockerfile stage "${target}" has no exec-form ENTRYPOINT`);
  return JSON.parse(entrypoint[1] as string) as string[];
}

// ---------------------------------------------------------------------------------------------
// the operator as the chart's Deployment runs it

export interface ChartOperator {
  operator: OperatorProcess;
  /** The pod whose identity the process takes (POD_NAME). */
  podName: string;
  serviceAccount: Subject;
  args: string[];
  env: Record<string, string>;
}

/**
 * Runs the operator the chart's Deployment describes as a local process: the image's entrypoint
 * script (from dist/, which is what the image holds), the container's args (the metrics listener
 * moved to a free loopback port), its env resolved as the kubelet would for one of its pods, and
 * a token of the pod's ServiceAccount. The Deployment is scaled to 0 first: kwok's pods are only
 * "Ready" on paper, and no other replica should hold the Lease.
 */
export async function startChartOperator(kube: Kube, namespace: string, deploymentName: string): Promise<ChartOperator> {
  const deployment = await kube.get('deployment', deploymentName, namespace);
  if (deployment === undefined) throw new Error(`no deployment ${namespace}/${deploymentName}`);
  const podSpec = (deployment.spec as { template: { spec: { serviceAccountName: string; containers: ContainerSpec[] } } }).template.spec;
  const container = podSpec.containers[0] as ContainerSpec;
  const selector = Object.entries((deployment.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const pods = await kube.list('pods', namespace, selector);
  const podName = pods[0]?.metadata.name;
  if (podName === undefined) throw new Error(`deployment ${namespace}/${deploymentName} has no pods`);
  await kube.ok(['scale', '-n', namespace, `deployment/${deploymentName}`, '--replicas=0']);

  if (container.command !== undefined) throw new Error(`the chart overrides the image's entrypoint: ${JSON.stringify(container.command)}`);
  const entrypoint = await imageEntrypoint('operator');
  const script = entrypoint[entrypoint.indexOf('node') + 1];
  if (script === undefined) throw new Error(`the operator image's entrypoint does not run node: ${JSON.stringify(entrypoint)}`);
  const main = path.join(ROOT, script);

  const serviceAccount = { namespace, name: podSpec.serviceAccountName };
  const env = resolveEnv(container, { name: podName, namespace, serviceAccountName: podSpec.serviceAccountName });
  const args = (container.args ?? []).filter((a) => !/^--metrics-(host|port)(=|$)/.test(a));
  const kubeconfig = await serviceAccountKubeconfig(kube, serviceAccount, path.join(kube.cp.dir, `${namespace}-${podSpec.serviceAccountName}.kubeconfig`));
  const operator = await startOperator(kubeconfig, args, env, main);
  return { operator, podName, serviceAccount, args, env };
}
