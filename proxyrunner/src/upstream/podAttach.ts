// stdio inside Kubernetes: the MCP server runs in its own pod (a StatefulSet with
// `stdin: true`, created by the operator) and the proxyrunner attaches to that
// container's stdin/stdout through the pods/attach API. When the attach ends (the pod
// restarted or moved), the supervisor ends the sessions that died with the old process
// and reattaches with backoff, to whichever matching pod is running then.
import { PassThrough } from 'node:stream';
import { Attach, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../../../common/log.ts';
import type { StdioLauncher } from './stdio.ts';

export interface AttachTarget {
  namespace: string;
  selector: string;
  container: string;
}

/** The pod to attach to: running, not terminating, container running; the newest wins. */
export function pickPod(pods: readonly V1Pod[], container: string): V1Pod | undefined {
  const usable = pods.filter((pod) => {
    if (pod.metadata?.deletionTimestamp || pod.status?.phase !== 'Running') return false;
    const state = pod.status.containerStatuses?.find((c) => c.name === container)?.state;
    return state?.running !== undefined;
  });
  const started = (pod: V1Pod): number => new Date(pod.status?.startTime ?? 0).getTime();
  return usable.sort((a, b) => started(b) - started(a) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))[0];
}

export function podAttachLauncher(target: AttachTarget, log: Logger, connectTimeoutMs: number, kubeConfig: KubeConfig = defaultKubeConfig()): StdioLauncher {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const attach = new Attach(kubeConfig);
  return async () => {
    const list = await core.listNamespacedPod({ namespace: target.namespace, labelSelector: target.selector });
    const pod = pickPod(list.items, target.container);
    const name = pod?.metadata?.name;
    if (!name) throw new Error(`no running pod with container "${target.container}" matches ${target.selector} in ${target.namespace}`);
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stderr.on('data', (chunk: Buffer) => log.info('stdio server stderr', { pod: name, line: chunk.toString('utf8').trimEnd().slice(0, 2000) }));
    const opening = attach.attach(target.namespace, name, target.container, stdout, stderr, stdin, false);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Should it still open later, close it: nobody is listening any more.
        opening.then((late) => late.close()).catch(() => {});
        reject(new Error(`attach to pod ${name} did not open within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
    });
    const socket = await Promise.race([opening, timeout]).finally(() => clearTimeout(timer));
    const exited = new Promise<string>((resolve) => {
      socket.once('close', (code: number) => resolve(`attach to pod ${name} closed (${code})`));
      socket.once('error', (err: Error) => resolve(`attach to pod ${name} failed: ${err.message}`));
    });
    void exited.then(() => {
      stdout.end();
      stdin.destroy();
    });
    log.info('attached to stdio server pod', { namespace: target.namespace, pod: name, container: target.container });
    return { stdin, stdout, exited, kill: () => socket.close() };
  };
}

function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault(); // $KUBECONFIG, ~/.kube/config, else the in-cluster service account
  return kc;
}
