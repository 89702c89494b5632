// The shape of the code, checked: no import cycles anywhere under common/, operator/ and
// proxyrunner/, and the boundaries between them hold — common/ is the only code both programs
// share (it imports neither), neither program imports the other, operator/src/kube/ and
// common/kube/ are a Kubernetes library that knows nothing of MCPServers (they import only
// kube/ and common/), and no program code loads @kubernetes/client-node at run time (its
// import alone costs 38–54 MiB of resident memory; its types may be used, `import type`).
//
// Every relative specifier counts: static `import`/`export ... from`, side-effect `import '…'`,
// dynamic `import('…')`, and `import type` too. A type-only cycle costs nothing at run time,
// but it ties the modules together just the same (neither can be understood or moved alone),
// and the tree has none, so none is allowed.
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCANNED = ['common', 'operator', 'proxyrunner'];

const STATIC = /(?:^|[;}\n])\s*(?:import|export)\s+(?:type\s+)?(?:[\w$*{}\s,]+?\s+from\s+)?['"]([^'"\n]+)['"]/g;
const DYNAMIC = /\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/g;

/** The relative specifiers a TypeScript source imports, in order of appearance. */
export function relativeSpecifiers(source: string): string[] {
  const found: { at: number; spec: string }[] = [];
  for (const re of [STATIC, DYNAMIC]) for (const m of source.matchAll(re)) found.push({ at: m.index, spec: m[1] as string });
  return found
    .sort((a, b) => a.at - b.at)
    .map((f) => f.spec)
    .filter((s) => s.startsWith('.'));
}

function tsFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .filter((f) => !f.split('/').includes('node_modules'))
    .sort();
}

/** file -> the files it imports (repository-relative, posix). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of SCANNED.flatMap((d) => tsFiles(path.join(ROOT, d)))) {
    const source = fs.readFileSync(path.join(ROOT, file), 'utf8');
    graph.set(
      file,
      relativeSpecifiers(source).map((spec) => path.posix.normalize(path.posix.join(path.posix.dirname(file), spec))),
    );
  }
  return graph;
}

/** Every elementary cycle found by a depth-first walk (one per back edge), as file paths a -> b -> ... -> a. */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const s = state.get(next);
      if (s === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (s === undefined) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

describe('import structure', () => {
  const graph = importGraph();

  it('reads static, type-only, re-export, side-effect and dynamic imports', () => {
    const source = [
      "import a from './a.ts';",
      "import type { B } from '../b.ts';",
      'import {\n  c,\n  type C,\n} from "./c.ts";',
      "export { d } from './d.ts';",
      "export * from './e.ts';",
      "import './f.ts';",
      "const g = await import('./g.ts');",
      "import fs from 'node:fs';",
    ].join('\n');
    expect(relativeSpecifiers(source)).toEqual(['./a.ts', '../b.ts', './c.ts', './d.ts', './e.ts', './f.ts', './g.ts']);
  });

  it('finds a cycle, and only a cycle', () => {
    expect(
      findCycles(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
          ['d', ['a']],
        ]),
      ),
    ).toEqual([['a', 'b', 'c', 'a']]);
    expect(
      findCycles(
        new Map([
          ['a', ['b', 'c']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
    ).toEqual([]);
  });

  it('scans the whole tree and every import resolves to a file', () => {
    expect(graph.size).toBeGreaterThan(50);
    const missing = [...graph].flatMap(([file, deps]) => deps.filter((d) => !fs.existsSync(path.join(ROOT, d))).map((d) => `${file} -> ${d}`));
    expect(missing).toEqual([]);
  });

  it('has no import cycles', () => {
    expect(findCycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it.each([
    ['common/ imports only common/', 'common/', (to: string) => to.startsWith('common/')],
    ['operator/ does not import proxyrunner/', 'operator/', (to: string) => !to.startsWith('proxyrunner/')],
    ['proxyrunner/ does not import operator/', 'proxyrunner/', (to: string) => !to.startsWith('operator/')],
    ['common/kube/ imports only common/', 'common/kube/', (to: string) => to.startsWith('common/')],
    [
      'operator/src/kube/ imports only kube/ and common/ (its tests also the list/watch fake apiserver, itself domain-free)',
      'operator/src/kube/',
      (to: string, file: string) =>
        to.startsWith('operator/src/kube/') || to.startsWith('common/') || (file.endsWith('.test.ts') && to === 'test/support/listWatchApiserver.ts'),
    ],
  ])('%s', (_rule, from, allowed) => {
    const violations = [...graph]
      .filter(([file]) => file.startsWith(from))
      .flatMap(([file, deps]) => deps.filter((d) => !allowed(d, file)).map((d) => `${file} -> ${d}`));
    expect(violations).toEqual([]);
  });

  it('no program code loads @kubernetes/client-node at run time (type imports only)', () => {
    const value =
      /(?:^|[;}\n])\s*(?:import|export)\s+(?!type\s)(?:[\w$*{}\s,]+?\s+from\s+)?['"]@kubernetes\/client-node['"]|\bimport\(\s*['"]@kubernetes\/client-node['"]/;
    expect(value.test("import { KubeConfig } from '@kubernetes/client-node';")).toBe(true);
    expect(value.test("const k = await import('@kubernetes/client-node');")).toBe(true);
    expect(value.test("import type { V1Pod } from '@kubernetes/client-node';")).toBe(false);
    const loaders = SCANNED.flatMap((d) => tsFiles(path.join(ROOT, d)))
      .filter((f) => !f.endsWith('.test.ts'))
      .filter((f) => value.test(fs.readFileSync(path.join(ROOT, f), 'utf8')));
    expect(loaders).toEqual([]);
  });
});
