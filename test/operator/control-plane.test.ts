// The test control plane itself: real etcd + kube-apiserver + kube-controller-manager +
// kube-scheduler + kwok, as the operator tests use it. The first run builds the binaries from
// Go modules (test/control-plane/build.sh, tens of minutes on 2 cores); later runs take seconds.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { access, readdir, readFile } from 'node:fs/promises';
import { ensureBinaries, startControlPlane, type ControlPlane } from '../control-plane/controlPlane.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000; // a cold build of the binaries
const TEST_TIMEOUT_MS = 300_000;

let cp: ControlPlane | undefined;

function plane(): ControlPlane {
  if (cp === undefined) throw new Error('control plane not started');
  return cp;
}

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const res = await plane().kubectl(args, input === undefined ? {} : { input });
  if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${res.code}): ${res.stderr}`);
  return res.stdout;
}

async function newNamespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kubectlOk(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }));
  return name;
}

async function eventually(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Processes this Node process started from the control plane's bin dir (via /proc). */
async function childrenFrom(binDir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const argv0 = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0')[0] ?? '';
      if (argv0.startsWith(binDir)) found.push(`${entry} ${argv0}`);
    } catch {
      // the process went away meanwhile
    }
  }
  return found;
}

const restricted = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'latest',
};

function deployment(name: string): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'main',
              image: 'registry.k8s.io/pause:3.10', // never pulled: kwok only pretends
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              resources: { requests: { cpu: '10m', memory: '16Mi' } },
            },
          ],
        },
      },
    },
  };
}

describe('test control plane (etcd, kube-apiserver, controllers, kwok)', () => {
  beforeAll(async () => {
    await ensureBinaries();
    cp = await startControlPlane({ withControllers: true, withKwok: true, nodes: 1 });
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await cp?.stop();
  }, TEST_TIMEOUT_MS);

  it(
    'serves the pinned Kubernetes version and has a Ready fake node',
    async () => {
      const version = JSON.parse(await kubectlOk(['version', '-o', 'json'])) as {
        serverVersion?: { gitVersion?: string; major?: string; minor?: string };
      };
      expect(version.serverVersion?.gitVersion).toMatch(/^v1\.34\.\d+$/);
      expect(version.serverVersion?.major).toBe('1');
      expect(version.serverVersion?.minor).toBe('34');
      const nodes = JSON.parse(await kubectlOk(['get', 'nodes', '-o', 'json'])) as {
        items: { metadata: { name: string }; status: { conditions?: { type: string; status: string }[] } }[];
      };
      expect(nodes.items.map((n) => n.metadata.name)).toEqual(['kwok-node-0']);
      expect(nodes.items[0]?.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'runs a restricted-compliant Deployment until kwok makes its pods Ready, then garbage-collects them',
    async () => {
      const ns = await newNamespace('deploy', restricted);
      await kubectlOk(['apply', '-n', ns, '-f', '-'], JSON.stringify(deployment('web')));
      await kubectlOk(['wait', '-n', ns, '--for=condition=Available', 'deployment/web', '--timeout=120s']);
      await kubectlOk(['wait', '-n', ns, '--for=condition=Ready', 'pod', '-l', 'app=web', '--timeout=120s']);
      const pods = JSON.parse(await kubectlOk(['get', 'pods', '-n', ns, '-l', 'app=web', '-o', 'json'])) as {
        items: { spec: { nodeName?: string }; status: { phase?: string; podIP?: string } }[];
      };
      expect(pods.items).toHaveLength(2);
      for (const pod of pods.items) {
        expect(pod.spec.nodeName).toBe('kwok-node-0');
        expect(pod.status.phase).toBe('Running');
        expect(pod.status.podIP).toMatch(/^127\.1\.0\./);
      }
      expect((await kubectlOk(['get', 'rs', '-n', ns, '-l', 'app=web', '-o', 'name'])).trim()).not.toBe('');

      await kubectlOk(['delete', '-n', ns, 'deployment/web', '--wait=true']);
      await eventually('the ReplicaSet and pods to be garbage-collected', 120_000, async () => {
        const left = await kubectlOk(['get', 'rs,pods', '-n', ns, '-l', 'app=web', '-o', 'name']);
        return left.trim() === '';
      });

      // Namespace deletion (the namespace controller, pods finalized by kwok) completes too.
      await kubectlOk(['delete', 'namespace', ns, '--wait=true', '--timeout=120s']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rejects a privileged pod in a namespace that enforces the restricted Pod Security level',
    async () => {
      const ns = await newNamespace('psa', restricted);
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'privileged' },
        spec: { containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10', securityContext: { privileged: true } }] },
      };
      const res = await plane().kubectl(['create', '-n', ns, '-f', '-'], { input: JSON.stringify(pod) });
      expect(res.code).not.toBe(0);
      expect(res.stderr).toContain('violates PodSecurity "restricted:latest"');
      expect(res.stderr).toContain('privileged');

      // The same pod is admitted where nothing is enforced (--allow-privileged=true).
      const open = await newNamespace('psa-open');
      await kubectlOk(['create', '-n', open, '-f', '-'], JSON.stringify(pod));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'answers again after the apiserver is killed and restarted, and after an etcd compaction',
    async () => {
      const ns = await newNamespace('restart');
      await kubectlOk(['create', 'configmap', 'before', '-n', ns, '--from-literal=k=v']);

      await plane().stopApiserver();
      const down = await plane().kubectl(['get', 'namespaces', '--request-timeout=3s']);
      expect(down.code).not.toBe(0);

      await plane().startApiserver();
      expect((await kubectlOk(['get', '--raw', '/readyz'])).trim()).toBe('ok');
      expect(await kubectlOk(['get', 'configmap', 'before', '-n', ns, '-o', 'jsonpath={.data.k}'])).toBe('v');

      await plane().compactEtcd();
      await kubectlOk(['create', 'configmap', 'after', '-n', ns, '--from-literal=k=w']);
      expect(await kubectlOk(['get', 'configmaps', '-n', ns, '-o', 'name'])).toContain('configmap/after');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'stops leaving no child processes and no temp dir behind',
    async () => {
      const { binDir, dir } = plane();
      expect((await childrenFrom(binDir)).length).toBeGreaterThanOrEqual(5);
      await plane().stop();
      expect(await childrenFrom(binDir)).toEqual([]);
      await expect(access(dir)).rejects.toThrow();
    },
    TEST_TIMEOUT_MS,
  );
});
