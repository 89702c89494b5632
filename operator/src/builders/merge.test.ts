import { describe, expect, it } from '@jest/globals';
import { strategicMerge } from './merge.ts';

const base = {
  metadata: { labels: { a: '1' }, annotations: { x: 'y' } },
  spec: {
    securityContext: { runAsNonRoot: true, runAsUser: 1000 },
    containers: [
      {
        name: 'mcp',
        image: 'img:1',
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
        volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
        securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
        ports: [{ name: 'mcp', containerPort: 3000 }],
      },
    ],
    volumes: [{ name: 'tmp', emptyDir: {} }],
    tolerations: [{ key: 'a', operator: 'Exists' }],
  },
};

describe('strategicMerge', () => {
  it('merges maps recursively and keeps what the patch does not mention', () => {
    const out = strategicMerge(base, { metadata: { labels: { b: '2' } }, spec: { securityContext: { runAsUser: 2000 } } }) as typeof base;
    expect(out.metadata).toEqual({ labels: { a: '1', b: '2' }, annotations: { x: 'y' } });
    expect(out.spec.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 2000 });
    expect(out.spec.containers).toEqual(base.spec.containers);
  });

  it('merges containers by name and their env, volumeMounts and ports by key', () => {
    const out = strategicMerge(base, {
      spec: {
        containers: [
          {
            name: 'mcp',
            env: [
              { name: 'B', value: 'two' },
              { name: 'C', value: '3' },
            ],
            volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
            ports: [{ containerPort: 3000, protocol: 'TCP' }],
            securityContext: { readOnlyRootFilesystem: false },
          },
        ],
      },
    }) as typeof base;
    const mcp = out.spec.containers[0];
    expect(out.spec.containers).toHaveLength(1);
    expect(mcp?.image).toBe('img:1');
    expect(mcp?.env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'two' },
      { name: 'C', value: '3' },
    ]);
    expect(mcp?.volumeMounts).toEqual([
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'cache', mountPath: '/cache' },
    ]);
    expect(mcp?.ports).toEqual([{ name: 'mcp', containerPort: 3000, protocol: 'TCP' }]);
    expect(mcp?.securityContext).toEqual({ readOnlyRootFilesystem: false, allowPrivilegeEscalation: false });
  });

  it('appends containers and volumes with new names (sidecars)', () => {
    const out = strategicMerge(base, {
      spec: { containers: [{ name: 'sidecar', image: 'side:1' }], volumes: [{ name: 'data', emptyDir: {} }] },
    }) as typeof base;
    expect(out.spec.containers.map((c) => c.name)).toEqual(['mcp', 'sidecar']);
    expect(out.spec.volumes.map((v) => v.name)).toEqual(['tmp', 'data']);
  });

  it('replaces lists without a merge key', () => {
    const out = strategicMerge(base, { spec: { tolerations: [{ key: 'b', operator: 'Equal', value: 'v' }] } }) as typeof base;
    expect(out.spec.tolerations).toEqual([{ key: 'b', operator: 'Equal', value: 'v' }]);
  });

  it('deletes a field set to null and a list element marked $patch: delete', () => {
    const out = strategicMerge(base, {
      metadata: { annotations: null },
      spec: { volumes: [{ name: 'tmp', $patch: 'delete' }], containers: [{ name: 'mcp', securityContext: { readOnlyRootFilesystem: null } }] },
    }) as Record<string, unknown> & typeof base;
    expect(out.metadata).toEqual({ labels: { a: '1' } });
    expect(out.spec.volumes).toEqual([]);
    expect(out.spec.containers[0]?.securityContext).toEqual({ allowPrivilegeEscalation: false });
  });

  it('never modifies its inputs', () => {
    const before = JSON.stringify(base);
    const patch = { spec: { containers: [{ name: 'mcp', env: [{ name: 'A', value: 'x' }] }] } };
    const patchBefore = JSON.stringify(patch);
    const out = strategicMerge(base, patch) as typeof base;
    (out.spec.containers[0]?.env as { value: string }[])[0]!.value = 'mutated';
    expect(JSON.stringify(base)).toBe(before);
    expect(JSON.stringify(patch)).toBe(patchBefore);
  });

  it('drops null values and directives inside elements it adds', () => {
    const out = strategicMerge(base, { spec: { containers: [{ name: 'new', image: 'i', args: null, $patch: 'merge' }] } }) as typeof base;
    expect(out.spec.containers[1]).toEqual({ name: 'new', image: 'i' });
  });
});
