// Keeps the fake kwok Nodes' heartbeat Leases (kube-node-lease/<node>) fresh.
//
// Why: kwok as test/control-plane/controlPlane.ts starts it (no --node-lease-duration-seconds)
// maintains no node Lease and patches Node status only every ~55 s, longer than
// kube-controller-manager's 50 s node-monitor grace period. About 50 s after start the
// node-lifecycle controller declares the Node NotReady for a moment and marks every Pod on it
// Ready=False; kwok never sets them Ready again. Anything that runs longer than that (the
// operator suites, the 1,000-server benchmark) then sees pods that are never Ready.
// kwok --node-lease-duration-seconds=40 fixes it at the source (verified here); until the
// harness passes that flag, this renews the Leases as kwok would. It steps aside for any
// Lease held by someone else (kwok, once it is given the flag).
import type { ControlPlane } from '../control-plane/controlPlane.ts';

const HOLDER = 'mcpfleet-test-node-heartbeat';
const INTERVAL_MS = 10_000;

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

async function renew(cp: ControlPlane): Promise<void> {
  const nodes = await cp.kubectl(['get', 'nodes', '-l', 'type=kwok', '-o', 'jsonpath={.items[*].metadata.name}']);
  if (nodes.code !== 0) return; // apiserver down (a restart test): try again next round
  const leases = [];
  for (const node of nodes.stdout.split(/\s+/).filter((n) => n !== '')) {
    const existing = await cp.kubectl(['get', 'lease', node, '-n', 'kube-node-lease', '-o', 'jsonpath={.spec.holderIdentity}']);
    if (existing.code === 0 && existing.stdout !== '' && existing.stdout !== HOLDER) continue; // kwok renews it
    leases.push({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: node, namespace: 'kube-node-lease' },
      spec: { holderIdentity: HOLDER, leaseDurationSeconds: 40, renewTime: microTime(Date.now()) },
    });
  }
  if (leases.length > 0) {
    await cp.kubectl(['apply', '--server-side', '--field-manager', HOLDER, '--force-conflicts', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: leases }),
    });
  }
}

export interface NodeHeartbeat {
  stop(): Promise<void>;
}

/** Renews now, then every 10 s until stop(). */
export async function keepKwokNodesReady(cp: ControlPlane): Promise<NodeHeartbeat> {
  await renew(cp);
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    if (stopped) return;
    running = running.then(() => renew(cp)).catch(() => {});
  }, INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
