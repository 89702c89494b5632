import { describe, expect, it } from '@jest/globals';
import { httpSpec, stored, withoutReplicas } from '../../../test/support/mcpServers.ts';
import { desiredObjects } from '../builders/desired.ts';
import { APPLIED_HASH_ANNOTATION } from '../builders/meta.ts';
import type { DesiredObject, KubeObject } from '../../../common/kube/kinds.ts';
import { firstDifference, needsApply, overlay, parseQuantity } from './diff.ts';

const [backendSvc, sts, , deploy] = desiredObjects(stored('web', { ...httpSpec, resources: { limits: { cpu: '0.5', memory: '1024Mi' } } }), {
  proxyrunnerImage: 'proxy:1',
}) as [DesiredObject, DesiredObject, DesiredObject, DesiredObject];

/** What the apiserver returns for an applied object: defaults added, zero values dropped, quantities canonical. */
function asStored(obj: DesiredObject): KubeObject {
  const out = structuredClone(obj) as KubeObject & { spec: Record<string, unknown> };
  out.metadata = {
    ...out.metadata,
    uid: 'u1',
    resourceVersion: '7',
    generation: 1,
    annotations: { ...out.metadata.annotations, 'deployment.kubernetes.io/revision': '1' },
  };
  out['status'] = { replicas: 1 };
  if (obj.kind === 'Service') {
    const ip = out.spec['clusterIP'] === 'None' ? 'None' : '10.0.0.7';
    Object.assign(out.spec, { clusterIP: ip, clusterIPs: [ip], ipFamilies: ['IPv4'], internalTrafficPolicy: 'Cluster' });
  }
  if (obj.kind === 'StatefulSet') {
    const pod = (out.spec['template'] as { spec: { containers: Record<string, unknown>[] } }).spec;
    const c = pod.containers[0] as Record<string, unknown>;
    c['terminationMessagePath'] = '/dev/termination-log';
    c['imagePullPolicy'] = 'IfNotPresent';
    c['resources'] = { limits: { cpu: '500m', memory: '1Gi' } };
    (pod as Record<string, unknown>)['dnsPolicy'] = 'ClusterFirst';
  }
  return out;
}

describe('needsApply', () => {
  it('writes a missing object', () => {
    expect(needsApply(sts, undefined)).toEqual({ apply: true, reason: 'missing' });
  });

  it('writes nothing when the stored object has our hash and our fields, whatever the apiserver added', () => {
    for (const obj of [backendSvc, sts, deploy]) expect(needsApply(obj, asStored(obj))).toEqual({ apply: false });
  });

  it("does not fight an autoscaler: replicas unset, an HPA's scale is no drift; replicas set, it is healed", () => {
    const unscaled = withoutReplicas(httpSpec);
    const hpaOwned = desiredObjects(stored('web', unscaled), { proxyrunnerImage: 'ghcr.io/mcpfleet/proxyrunner:test' })[3] as DesiredObject;
    expect(hpaOwned.kind).toBe('Deployment');
    const scaled = asStored(hpaOwned) as KubeObject & { spec: { replicas?: number } };
    scaled.spec.replicas = 7; // the HPA's write
    expect(needsApply(hpaOwned, scaled)).toEqual({ apply: false });
    const pinned = asStored(deploy) as KubeObject & { spec: { replicas?: number } };
    pinned.spec.replicas = 7;
    expect(needsApply(deploy, pinned)).toEqual({ apply: true, reason: 'drifted at .spec.replicas' });
  });

  it('writes when the spec (and so the applied hash) changed', () => {
    const observed = asStored(sts);
    observed.metadata.annotations = { ...observed.metadata.annotations, [APPLIED_HASH_ANNOTATION]: 'old' };
    expect(needsApply(sts, observed)).toEqual({ apply: true, reason: 'changed' });
  });

  it('writes when someone edited a field the operator owns (drift), naming the field', () => {
    const observed = asStored(deploy) as KubeObject & { spec: { template: { spec: { containers: { name: string; image: string }[] } } } };
    (observed.spec.template.spec.containers[0] as { image: string }).image = 'evil:1';
    expect(needsApply(deploy, observed)).toEqual({ apply: true, reason: 'drifted at .spec.template.spec.containers[name=proxyrunner].image' });
    const relabelled = asStored(sts);
    relabelled.metadata.labels = { ...relabelled.metadata.labels, 'app.kubernetes.io/managed-by': 'someone' };
    expect(needsApply(sts, relabelled)).toMatchObject({ apply: true, reason: 'drifted at .metadata.labels.app.kubernetes.io/managed-by' });
  });

  it('ignores what others add: extra labels, annotations, containers', () => {
    const observed = asStored(deploy) as KubeObject & {
      spec: { template: { metadata: { annotations: Record<string, string> }; spec: { containers: object[] } } };
    };
    observed.metadata.labels = { ...observed.metadata.labels, extra: 'yes' };
    observed.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'] = 'now';
    observed.spec.template.spec.containers.push({ name: 'injected-sidecar', image: 'mesh:1' });
    expect(needsApply(deploy, observed)).toEqual({ apply: false });
  });
});

describe('firstDifference', () => {
  it('treats missing and zero values (false, 0, "", [], {}) as equal, as Go omitempty drops them', () => {
    expect(firstDifference({ tty: false, n: 0, s: '', l: [], m: {} }, {}, '')).toBeUndefined();
    expect(firstDifference({ tty: true }, {}, '')).toBe('.tty');
  });

  it('compares unnamed lists element-wise and by length, named lists by name', () => {
    expect(firstDifference({ args: ['a', 'b'] }, { args: ['a', 'b', 'c'] }, '')).toBe('.args');
    expect(firstDifference({ args: ['a', 'b'] }, { args: ['b', 'a'] }, '')).toBe('.args[0]');
    expect(
      firstDifference(
        { env: [{ name: 'A', value: '1' }] },
        {
          env: [
            { name: 'B', value: '2' },
            { name: 'A', value: '1' },
          ],
        },
        '',
      ),
    ).toBeUndefined();
    expect(firstDifference({ env: [{ name: 'A', value: '1' }] }, { env: [{ name: 'B', value: '1' }] }, '')).toBe('.env[name=A]');
  });

  it('compares resource quantities by value', () => {
    expect(
      firstDifference({ resources: { limits: { cpu: '0.5', memory: '1024Mi' } } }, { resources: { limits: { cpu: '500m', memory: '1Gi' } } }, ''),
    ).toBeUndefined();
    expect(firstDifference({ resources: { limits: { cpu: '1' } } }, { resources: { limits: { cpu: '500m' } } }, '')).toBe('.resources.limits.cpu');
    // Elsewhere strings are strings.
    expect(firstDifference({ value: '0.5' }, { value: '500m' }, '')).toBe('.value');
  });
});

describe('parseQuantity', () => {
  it.each([
    ['500m', 0.5],
    ['1', 1],
    ['1.5', 1.5],
    ['2k', 2000],
    ['1Ki', 1024],
    ['128Mi', 128 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1e3', 1000],
    ['1.5E2', 150],
    ['100n', 1e-7],
  ])('%s = %d', (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value, 12);
  });

  it('rejects what is not a quantity', () => {
    for (const bad of ['', 'lots', '1Zi', '1 Gi', 'Mi']) expect(parseQuantity(bad)).toBeUndefined();
  });
});

describe('overlay', () => {
  it('writes the desired fields over the object, merging named lists by name and keeping what others added', () => {
    const current = {
      metadata: { name: 's', resourceVersion: '9', labels: { extra: 'x' } },
      spec: {
        clusterIP: '10.0.0.1',
        ports: [
          { name: 'mcp', port: 4444, protocol: 'TCP', targetPort: 'mcp' },
          { name: 'debug', port: 9 },
        ],
        selector: { a: 'b', c: 'd' },
      },
    };
    const desired = {
      metadata: { name: 's', labels: { mine: 'y' } },
      spec: { ports: [{ name: 'mcp', port: 3001, protocol: 'TCP', targetPort: 'mcp' }], selector: { a: 'b' }, args: ['x'] },
    };
    expect(overlay(current, desired)).toEqual({
      metadata: { name: 's', resourceVersion: '9', labels: { extra: 'x', mine: 'y' } },
      spec: {
        clusterIP: '10.0.0.1',
        ports: [
          { name: 'mcp', port: 3001, protocol: 'TCP', targetPort: 'mcp' },
          { name: 'debug', port: 9 },
        ],
        selector: { a: 'b', c: 'd' },
        args: ['x'],
      },
    });
  });
});
