// deploy/operator: its manifests are admitted (restricted Pod Security in mcpfleet-system),
// and the operator works with exactly the RBAC they grant: run as the mcpfleet-operator
// ServiceAccount (a token, not the admin), watching only the namespaces in WATCH_NAMESPACE.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { ensureBinaries, startControlPlane, type ControlPlane } from '../control-plane/controlPlane.ts';
import { ROOT } from '../support/processes.ts';
import { Kube, sleep, waitReady, type McpStatus } from '../support/kube.ts';
import { startOperator, type OperatorProcess } from '../support/operatorProcess.ts';
import { manifest } from '../support/mcpServers.ts';
import { keepKwokNodesReady, type NodeHeartbeat } from '../support/nodeLeases.ts';
import { CRD_FILE } from '../../operator/src/api/crd.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const TEST_TIMEOUT_MS = 180_000;

let cp: ControlPlane | undefined;
let kube: Kube;
let heartbeat: NodeHeartbeat | undefined;
let operator: OperatorProcess | undefined;

describe('deploy/operator manifests and least-privilege RBAC', () => {
  beforeAll(async () => {
    await ensureBinaries();
    cp = await startControlPlane({ withControllers: true, withKwok: true, nodes: 1 });
    heartbeat = await keepKwokNodesReady(cp);
    kube = new Kube(cp);
    await kube.ok(['apply', '-f', path.join(ROOT, CRD_FILE)]);
    await kube.ok(['wait', '--for=condition=Established', 'crd/mcpservers.mcpfleet.dev', '--timeout=60s']);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await operator?.stop();
    await heartbeat?.stop();
    await cp?.stop();
  }, TEST_TIMEOUT_MS);

  it('applies rbac.yaml and deployment.yaml; the operator pods are admitted under restricted and become Available', async () => {
    await kube.ok(['apply', '-f', path.join(ROOT, 'deploy/operator/rbac.yaml')]);
    const out = await cp!.kubectl(['apply', '-f', path.join(ROOT, 'deploy/operator/deployment.yaml')]);
    expect(out.code).toBe(0);
    expect(out.stderr).not.toContain('would violate PodSecurity');
    await kube.ok(['wait', '-n', 'mcpfleet-system', '--for=condition=Available', 'deployment/mcpfleet-operator', '--timeout=120s']);
    // Nothing runs in kwok pods; scale the fake operator away so only the real process below acts.
    await kube.ok(['scale', '-n', 'mcpfleet-system', 'deployment/mcpfleet-operator', '--replicas=0']);
  }, TEST_TIMEOUT_MS);

  it('reconciles with only the ServiceAccount\'s permissions, and only in WATCH_NAMESPACE', async () => {
    const token = (await kube.ok(['create', 'token', 'mcpfleet-operator', '-n', 'mcpfleet-system', '--duration=2h'])).trim();
    const admin = parse(await readFile(cp!.kubeconfigPath, 'utf8')) as { users: { name: string; user: Record<string, string> }[] };
    const kubeconfig = path.join(cp!.dir, 'operator-sa.kubeconfig');
    await writeFile(kubeconfig, JSON.stringify({ ...admin, users: [{ name: 'admin', user: { token } }] }), { mode: 0o600 });

    const [a, b, other] = [await kube.newNamespace('team-a'), await kube.newNamespace('team-b'), await kube.newNamespace('other')];
    operator = await startOperator(kubeconfig, ['--leader-elect=true', '--proxyrunner-image', 'proxy:test'], {
      WATCH_NAMESPACE: `${a},${b}`,
      POD_NAMESPACE: 'mcpfleet-system',
      POD_NAME: 'operator-under-test',
    });
    await kube.apply(manifest('files', { image: 'example/mcp:1', transport: 'stdio' }), a);
    await kube.apply(manifest('web', { image: 'example/mcp:1', transport: 'streamable-http', mcpPort: 3001, replicas: 2 }), b);
    await kube.apply(manifest('ignored', { image: 'example/mcp:1' }), other);

    // stdio needs the Role with pods/attach: creating it proves the operator holds what it grants.
    await waitReady(kube, 'files', a);
    expect((await waitReady(kube, 'web', b)).status.readyReplicas).toBe(2);
    await sleep(3_000);
    const ignored = await kube.get('mcpserver', 'ignored', other);
    expect((ignored?.status as McpStatus | undefined)?.phase).toBeUndefined();
    expect(await kube.list('statefulsets,deployments', other)).toEqual([]);

    const lease = await kube.get('lease', 'mcpfleet-operator', 'mcpfleet-system');
    expect((lease?.spec as { holderIdentity?: string }).holderIdentity).toBe('operator-under-test');
    expect(operator.logs()).not.toMatch(/Forbidden|forbidden/);
  }, TEST_TIMEOUT_MS);
});
