// The plain manifests on an empty control plane, exactly as deploy/install.yaml's header tells
// a user: `kubectl apply -f deploy/`, wait for the CRD, `kubectl apply -f deploy/samples/`.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ensureBinaries, startControlPlane, type ControlPlane } from '../control-plane/controlPlane.ts';
import { admissionFailures, kubectl, SAMPLES } from '../support/helm.ts';
import { Kube } from '../support/kube.ts';
import { ROOT } from '../support/processes.ts';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const TEST_TIMEOUT_MS = 180_000;
const NAMESPACE = 'mcpfleet-system';

let cp: ControlPlane | undefined;
let kube: Kube;

describe('kubectl apply -f deploy/ on an empty control plane', () => {
  beforeAll(async () => {
    await ensureBinaries();
    cp = await startControlPlane({ withControllers: true, withKwok: true, nodes: 1 });
    kube = new Kube(cp);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await cp?.stop();
  }, TEST_TIMEOUT_MS);

  it(
    'installs the CRD, the restricted mcpfleet-system namespace and the operator; its pods are admitted and Available',
    async () => {
      expect(await kube.listAll('customresourcedefinitions')).toEqual([]);
      const res = await kubectl(cp!, ['apply', '-f', path.join(ROOT, 'deploy/')]);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      for (const line of [
        'customresourcedefinition.apiextensions.k8s.io/mcpservers.mcpfleet.dev created',
        `namespace/${NAMESPACE} created`,
        'serviceaccount/mcpfleet-operator created',
        'clusterrole.rbac.authorization.k8s.io/mcpfleet-operator created',
        'clusterrolebinding.rbac.authorization.k8s.io/mcpfleet-operator created',
        'role.rbac.authorization.k8s.io/mcpfleet-operator-leader-election created',
        'rolebinding.rbac.authorization.k8s.io/mcpfleet-operator-leader-election created',
        'service/mcpfleet-operator-metrics created',
        'deployment.apps/mcpfleet-operator created',
      ]) {
        expect(res.stdout).toContain(line);
      }
      const ns = await kube.get('namespace', NAMESPACE, NAMESPACE);
      expect(ns?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');

      await kube.ok(['wait', '-n', NAMESPACE, '--for=condition=Available', 'deployment/mcpfleet-operator', '--timeout=120s']);
      expect(await kube.list('pods', NAMESPACE, 'app.kubernetes.io/component=operator')).toHaveLength(2);
      expect(await admissionFailures(kube, NAMESPACE)).toEqual([]);

      // Applying again changes nothing. (kubectl always re-sends a PodDisruptionBudget's selector,
      // whose patch strategy is "replace", and so prints "configured"; its generation stays 1.)
      const again = await kubectl(cp!, ['apply', '-f', path.join(ROOT, 'deploy/')]);
      expect(again.code).toBe(0);
      expect(
        again.stdout
          .trim()
          .split('\n')
          .filter((l) => !l.endsWith(' unchanged')),
      ).toEqual(['poddisruptionbudget.policy/mcpfleet-operator configured']);
      for (const kind of ['poddisruptionbudget', 'deployment']) {
        expect((await kube.get(kind, 'mcpfleet-operator', NAMESPACE))?.metadata.generation).toBe(1);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'then takes every sample, once the CRD is Established',
    async () => {
      await kube.ok(['wait', '--for=condition=Established', 'crd/mcpservers.mcpfleet.dev', '--timeout=60s']);
      const ns = await kube.newNamespace('samples');
      const res = await kubectl(cp!, ['apply', '-n', ns, '-f', path.join(ROOT, 'deploy/samples/')]);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      const files = (await readdir(SAMPLES)).filter((f) => f.endsWith('.yaml'));
      expect(files.length).toBe(3);
      const created = res.stdout.trim().split('\n');
      expect(created).toHaveLength(files.length);
      for (const line of created) expect(line).toMatch(/^mcpserver\.mcpfleet\.dev\/[a-z0-9-]+ created$/);
      // Stored with the CRD's defaults.
      const stored = await kube.list('mcpservers', ns);
      expect(stored.map((m) => (m.spec as { transport: string }).transport).sort()).toEqual(['sse', 'stdio', 'streamable-http']);
      for (const m of stored) expect((m.spec as { proxyPort?: number }).proxyPort).toBe(8080);
    },
    TEST_TIMEOUT_MS,
  );
});
