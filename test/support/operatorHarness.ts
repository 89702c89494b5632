// One operator on one real control plane per test file, and the questions those files ask of
// what it wrote. The operator suites (reconcile, config kinds, tool and telemetry configs) each
// need the same life cycle (control plane with the CRDs, the operator started as it ships,
// stopped with its last logs printed if it did not exit cleanly) and read the same things back
// (the proxy container, a flag's value, a condition, a config kind's Valid status, the moment
// the operator has gone quiet); keeping that here keeps each test file about its own behaviour.
import { afterAll, beforeAll } from '@jest/globals';
import type { ControlPlane } from '../control-plane/controlPlane.ts';
import { BUILD_TIMEOUT_MS, eventually, sleep, startClusterWithCrd, type Kube, type Obj } from './kube.ts';
import { startOperator, type OperatorProcess } from './operatorProcess.ts';

/** The operator's flags the suites run it with: no election, a short resync and requeue cap. */
export function operatorArgs(proxyImage: string, extra: readonly string[] = []): string[] {
  return ['--leader-elect=false', '--resync-period', '4s', '--proxyrunner-image', proxyImage, '--requeue-max-delay', '4s', ...extra];
}

export interface OperatorHarness {
  /** The control plane's kubectl; valid from the first test on. */
  readonly kube: () => Kube;
  /** The running operator; valid from the first test on. */
  readonly op: () => OperatorProcess;
  /** Starts a new operator process with the same flags (after a test stopped the last one). */
  readonly restart: () => Promise<OperatorProcess>;
}

/**
 * Registers beforeAll/afterAll that start a control plane (CRDs applied), run `prepare` against
 * it, then the operator with `args`; and stop both after the file's last test.
 */
export function operatorOnControlPlane(args: readonly string[], prepare?: (kube: Kube) => Promise<void>, stopTimeoutMs = 180_000): OperatorHarness {
  let cp: ControlPlane | undefined;
  let kube: Kube | undefined;
  let operator: OperatorProcess | undefined;

  beforeAll(async () => {
    ({ cp, kube } = await startClusterWithCrd());
    await prepare?.(kube);
    operator = await startOperator(cp.kubeconfigPath, [...args]);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    const code = await operator?.stop();
    if (code !== 0 && operator) process.stderr.write(`operator exited ${code}; last logs:\n${operator.logs().slice(-5000)}\n`);
    await cp?.stop();
  }, stopTimeoutMs);

  return {
    kube: (): Kube => {
      if (kube === undefined) throw new Error('control plane not started');
      return kube;
    },
    op: (): OperatorProcess => {
      if (operator === undefined) throw new Error('operator not running');
      return operator;
    },
    restart: async (): Promise<OperatorProcess> => {
      if (cp === undefined) throw new Error('control plane not started');
      operator = await startOperator(cp.kubeconfigPath, [...args]);
      return operator;
    },
  };
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Record<string, unknown>;
}

export interface Container {
  name: string;
  args: string[];
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface PodTemplate {
  metadata: { annotations?: Record<string, string> };
  spec: { containers: Container[]; volumes?: Record<string, unknown>[]; automountServiceAccountToken?: boolean };
}

export const podTemplate = (workload: Obj): PodTemplate => workload.spec?.['template'] as PodTemplate;

export function proxyContainer(deployment: Obj): Container {
  const c = podTemplate(deployment).spec.containers.find((x) => x.name === 'proxyrunner');
  if (c === undefined) throw new Error(`no proxyrunner container in ${deployment.metadata.name}`);
  return c;
}

/** The value after `name` in an argument list, if the flag is there. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

export function condition(obj: Obj | undefined, type: string): Condition | undefined {
  return (obj?.status?.['conditions'] as Condition[] | undefined)?.find((c) => c.type === type);
}

/** Waits for a config kind's status to describe its current generation with Valid=`valid`. */
export async function configValid(kube: Kube, kind: string, ns: string, name: string, valid: 'True' | 'False'): Promise<Obj> {
  return eventually(`${kind} ${ns}/${name} Valid=${valid}`, 60_000, async () => {
    const c = await kube.get(kind, name, ns);
    const status = c?.status as { observedGeneration?: number; conditions?: { type: string; status: string }[] } | undefined;
    const ok = status?.observedGeneration === c?.metadata.generation && status?.conditions?.find((x) => x.type === 'Valid')?.status === valid;
    return ok ? c : undefined;
  });
}

/** Until the operator is idle (queue empty, no write for quietMs); returns its write count. */
export async function settle(operator: OperatorProcess, quietMs = 3_000, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = await operator.writes();
  let since = Date.now();
  for (;;) {
    if (Date.now() > deadline) throw new Error(`the operator did not go quiet for ${quietMs} ms within ${timeoutMs} ms`);
    await sleep(500);
    const queued = (await operator.scrape()).value('mcpfleet_operator_queue_depth') ?? 0;
    const now = await operator.writes();
    if (now !== last || queued > 0) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return now;
    }
  }
}
