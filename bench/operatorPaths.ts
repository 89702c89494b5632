// bench:operator-paths — the operator's per-MCPServer and per-event hot paths, timed in
// process: building an MCPServer's desired children (desiredObjects, with their hashes) and
// judging a cache update (sameForOperator, on a pod whose status did not change for us).
// bench:operator shows where a whole run's CPU goes; this isolates two paths a change touched,
// against another build in the same process, alternated rounds, medians.
//
//   npm run bench:operator-paths -- [--before <copy of dist/>] [--rounds 7]
//
// Without --before it times this checkout's build (dist/) alone. With it, both, side by side.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../test/support/processes.ts';
import { httpSpec, sseSpec, stdioSpec, stored } from '../test/support/mcpServers.ts';
import type { KubeObject } from '../common/kube/kinds.ts';
import type { MCPServer } from '../operator/src/api/types.ts';

const { values } = parseArgs({ options: { before: { type: 'string' }, rounds: { type: 'string', default: '7' } } });
const ROUNDS = Number(values.rounds);

interface Build {
  name: string;
  desiredObjects: (mcp: MCPServer, opts: { proxyrunnerImage: string }) => unknown[];
  sameForOperator: (a: KubeObject, b: KubeObject) => boolean;
  slimPod: (pod: KubeObject) => KubeObject;
}

async function load(name: string, dist: string): Promise<Build> {
  const url = (p: string): string => pathToFileURL(path.join(dist, p)).href;
  const desired = (await import(url('operator/src/builders/desired.js'))) as Pick<Build, 'desiredObjects'>;
  const projections = (await import(url('operator/src/controller/projections.js'))) as Pick<Build, 'sameForOperator' | 'slimPod'>;
  return { name, ...desired, ...projections };
}

/** A running pod as the apiserver sends it (less managedFields), at a resourceVersion. */
function pod(resourceVersion: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'files-proxy-7d9c-abcde',
      namespace: 'team-a',
      uid: 'uid-pod',
      resourceVersion,
      labels: { 'app.kubernetes.io/instance': 'files', 'app.kubernetes.io/component': 'proxy', 'pod-template-hash': '7d9c' },
      annotations: { 'mcpfleet.dev/config-hash': 'abc' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'files-proxy-7d9c', uid: 'uid-rs', controller: true }],
    },
    spec: { nodeName: 'node-1', containers: [{ name: 'proxyrunner', image: 'ghcr.io/mcpfleet/proxyrunner:bench' }] },
    status: {
      phase: 'Running',
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'ContainersReady', status: 'True' },
      ],
      containerStatuses: [{ name: 'proxyrunner', ready: true, restartCount: 0, state: { running: { startedAt: '2026-11-30T00:00:00Z' } } }],
    },
  };
}

/** Mean microseconds per call over n calls. */
function time(fn: (i: number) => unknown, n: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - started) / n / 1000;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;

async function main(): Promise<void> {
  const builds = [await load('this build (dist/)', path.join(ROOT, 'dist'))];
  if (values.before !== undefined) builds.unshift(await load(`before (${values.before})`, path.resolve(values.before)));
  const servers = [stdioSpec, httpSpec, sseSpec].map((spec, i) => stored(`server-${i}`, spec));
  const opts = { proxyrunnerImage: 'ghcr.io/mcpfleet/proxyrunner:bench' };
  const desired = new Map<string, number[]>();
  const same = new Map<string, number[]>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const b of builds) {
      const [older, newer] = [b.slimPod(pod('1')), b.slimPod(pod('2'))];
      if (!b.sameForOperator(older, newer)) throw new Error(`${b.name}: a resourceVersion-only update must compare as the same`);
      desired.set(b.name, [...(desired.get(b.name) ?? []), time((i) => b.desiredObjects(servers[i % servers.length] as MCPServer, opts), 3_000)]);
      same.set(b.name, [...(same.get(b.name) ?? []), time(() => b.sameForOperator(older, newer), 200_000)]);
    }
  }
  const first = builds[0]?.name ?? '';
  const rows = builds.map((b) => {
    const d = median(desired.get(b.name) ?? []);
    const s = median(same.get(b.name) ?? []);
    const ratio = (x: number, of: Map<string, number[]>): string => (b.name === first ? '' : ` (${(x / median(of.get(first) ?? [])).toFixed(2)}x)`);
    return `${b.name.padEnd(48)} desiredObjects ${d.toFixed(1).padStart(7)} µs/MCPServer${ratio(d, desired)}   sameForOperator ${s.toFixed(2).padStart(6)} µs/event${ratio(s, same)}`;
  });
  process.stdout.write(`bench:operator-paths  node ${process.version}, ${ROUNDS} alternated rounds, medians\n${rows.join('\n')}\n`);
}

await main();
