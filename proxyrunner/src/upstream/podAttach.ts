// stdio inside Kubernetes: the MCP server runs in its own pod (a StatefulSet with
// `stdin: true`, created by the operator) and the proxyrunner attaches to that
// container's stdin/stdout through the pods/attach API. When the attach ends (the pod
// restarted or moved), the supervisor ends the sessions that died with the old process
// and reattaches with backoff, to whichever matching pod is running then.
//
// The pods are listed and attached with the project's own small client (common/kube/), not
// @kubernetes/client-node, whose import alone would add 38–54 MiB to every stdio proxy pod.
import type { Logger } from '../../../common/log.ts';
import { attach, type AttachStream } from '../../../common/kube/attach.ts';
import { KubeClient } from '../../../common/kube/client.ts';
import { POD, type KubeObject } from '../../../common/kube/kinds.ts';
import { loadClusterAccess, type ClusterAccess } from '../../../common/kube/kubeconfig.ts';
import type { StdioLauncher } from './stdio.ts';

export interface AttachTarget {
  namespace: string;
  selector: string;
  container: string;
}

/** The fields of a Pod that choosing one reads (JSON as the apiserver sends it). */
export interface PodView extends KubeObject {
  status?: {
    phase?: string;
    startTime?: string;
    containerStatuses?: { name: string; state?: { running?: unknown; waiting?: unknown; terminated?: unknown } }[];
  };
}

/**
 * Largest message taken from the attach stream. The kubelet sends stdout in reads of at most
 * 32 KiB; a bigger frame is not a container's output, and ends the stream before it is buffered.
 */
export const MAX_ATTACH_FRAME_BYTES = 1024 * 1024;

/** The pod to attach to: running, not terminating, container running; the newest wins. */
export function pickPod(pods: readonly PodView[], container: string): PodView | undefined {
  const usable = pods.filter((pod) => {
    if (pod.metadata.deletionTimestamp || pod.status?.phase !== 'Running') return false;
    const state = pod.status.containerStatuses?.find((c) => c.name === container)?.state;
    return state?.running !== undefined;
  });
  const started = (pod: PodView): number => new Date(pod.status?.startTime ?? 0).getTime();
  return usable.sort((a, b) => started(b) - started(a) || a.metadata.name.localeCompare(b.metadata.name))[0];
}

export function podAttachLauncher(
  target: AttachTarget,
  log: Logger,
  connectTimeoutMs: number,
  access: ClusterAccess = loadClusterAccess(undefined),
): StdioLauncher {
  const userAgent = 'mcpfleet-proxyrunner';
  const client = new KubeClient(access, { userAgent, maxSockets: 1, timeoutMs: connectTimeoutMs });
  return async () => {
    const list = await client.list<PodView>(POD, target.namespace, target.selector);
    const name = pickPod(list.items, target.container)?.metadata.name;
    if (!name) throw new Error(`no running pod with container "${target.container}" matches ${target.selector} in ${target.namespace}`);
    let stream: AttachStream;
    try {
      stream = await attach(access, {
        namespace: target.namespace,
        pod: name,
        container: target.container,
        connectTimeoutMs,
        maxFrameBytes: MAX_ATTACH_FRAME_BYTES,
        userAgent,
      });
    } catch (err) {
      throw new Error(`attach to pod ${name}: ${(err as Error).message}`, { cause: err });
    }
    stream.stderr.on('data', (chunk: Buffer) => log.info('stdio server stderr', { pod: name, line: chunk.toString('utf8').trimEnd().slice(0, 2000) }));
    const exited = stream.ended.then((how) => `attach to pod ${name} ${how}`);
    log.info('attached to stdio server pod', { namespace: target.namespace, pod: name, container: target.container, protocol: stream.protocol });
    return { stdin: stream.stdin, stdout: stream.stdout, exited, kill: () => stream.close() };
  };
}
