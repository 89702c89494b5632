// kube-controller-manager, kube-scheduler and kwok for the 1,000-MCPServer benchmark, started
// on an apiserver from startControlPlane({ withControllers: false, withKwok: false }).
//
// Why not startControlPlane's own: with their defaults the benchmark measures the
// controllers' client rate limits, not the operator. kube-controller-manager talks to the
// API at 20 QPS (burst 30) per controller, so the Deployment, ReplicaSet and StatefulSet
// controllers alone need minutes for 1,000 servers' ReplicaSets, pods and status updates;
// the scheduler binds at 50 QPS. kwok's pod CIDR there is a /24 (254 pod IPs for 2,000
// pods), its Nodes take 110 pods, and it keeps no node Lease (see nodeLeases.ts). So:
//   - controller-manager and scheduler at --kube-api-qps 1000 / burst 2000, more workers;
//   - the endpoint(-slice) controllers off: Pod IPs are loopback addresses the apiserver
//     refuses in Endpoints, so they only burn CPU retrying (nothing routes to fake pods);
//   - kwok with a /16 loopback CIDR and node Leases; Nodes with room for 1,000 pods each.
// The harness could take these as options (extra args per component); until then the
// file paths below mirror controlPlane.ts (certs/apiserver.crt, sa.key, kubeconfig).
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ControlPlane } from '../control-plane/controlPlane.ts';

export interface BenchControllers {
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function start(cp: ControlPlane, name: string, args: string[]): ChildProcess {
  const fd = openSync(path.join(cp.dir, `${name}.log`), 'a');
  const child = spawn(path.join(cp.binDir, name), args, { stdio: ['ignore', fd, fd], cwd: cp.dir });
  closeSync(fd);
  process.once('exit', () => child.kill('SIGKILL'));
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function node(name: string): object {
  const resources = { cpu: '1000', memory: '4Ti', pods: '1000' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { 'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', type: 'kwok' },
    },
    spec: {},
    status: { allocatable: resources, capacity: resources, phase: 'Running' },
  };
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function startBenchControllers(cp: ControlPlane, nodes: number): Promise<BenchControllers> {
  const kc = cp.kubeconfigPath;
  const common = [`--kubeconfig=${kc}`, `--authentication-kubeconfig=${kc}`, `--authorization-kubeconfig=${kc}`, '--bind-address=127.0.0.1', '--leader-elect=false', '--kube-api-qps=1000', '--kube-api-burst=2000'];
  const kcm = start(cp, 'kube-controller-manager', [
    ...common,
    `--secure-port=${await freePort()}`,
    `--service-account-private-key-file=${path.join(cp.dir, 'sa.key')}`,
    `--root-ca-file=${path.join(cp.dir, 'certs', 'apiserver.crt')}`,
    '--controllers=*,-endpoints-controller,-endpointslice-controller,-endpointslice-mirroring-controller',
    '--use-service-account-credentials=false',
    '--concurrent-deployment-syncs=10',
    '--concurrent-replicaset-syncs=10',
    '--concurrent-statefulset-syncs=10',
  ]);
  const sched = start(cp, 'kube-scheduler', [...common, `--secure-port=${await freePort()}`]);
  const kwok = start(cp, 'kwok', [
    `--kubeconfig=${kc}`,
    '--manage-all-nodes=false',
    '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
    '--cidr=127.1.0.1/16',
    '--node-ip=127.1.0.1',
    '--node-lease-duration-seconds=40',
  ]);
  const children = [kwok, sched, kcm];
  try {
    await until('the default ServiceAccount', 60_000, async () => (await cp.kubectl(['get', 'serviceaccount', 'default', '-n', 'default'])).code === 0);
    const items = Array.from({ length: nodes }, (_, i) => node(`kwok-node-${i}`));
    const created = await cp.kubectl(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
    if (created.code !== 0) throw new Error(`creating nodes failed: ${created.stderr}`);
    await until('Ready fake nodes', 60_000, async () => (await cp.kubectl(['wait', '--for=condition=Ready', 'node', '-l', 'type=kwok', '--timeout=5s'])).code === 0);
  } catch (err) {
    await Promise.all(children.map(stopChild));
    throw err;
  }
  return {
    async stop() {
      for (const c of children) await stopChild(c);
    },
  };
}
