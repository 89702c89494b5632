// Generates the plain-manifest install from the Helm chart, so `kubectl apply -f deploy/` and
// `helm install` install the same thing:
//   charts/mcpfleet/crds/<crd>.yaml  a copy of deploy/crd/ (written by `npm run crd:generate`)
//   deploy/install.yaml              CRD + Namespace (restricted Pod Security) + `helm template`
//                                    of the chart with its default values, release "mcpfleet"
//                                    in namespace "mcpfleet-system"
//
//   node scripts/gen-deploy.ts                  write both files
//   node scripts/gen-deploy.ts --check          render into a temp dir and exit 1 if the files
//                                               in the tree differ (CI, and a test)
//   node scripts/gen-deploy.ts --root DIR       work on another checkout (used by the test)
//
// helm: $HELM, else the pinned one test/control-plane/build.sh provides (so every machine
// renders with the same helm version).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const RELEASE = 'mcpfleet';
export const NAMESPACE = 'mcpfleet-system';
export const CHART_DIR = 'charts/mcpfleet';
export const INSTALL_FILE = 'deploy/install.yaml';
const CRD_DIR = 'deploy/crd';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_ROOT = path.resolve(HERE, '..');

/** The helm binary: $HELM, else the pinned build's (test/control-plane/build.sh prints its bin dir last). */
export async function findHelm(root: string = DEFAULT_ROOT): Promise<string> {
  const fromEnv = process.env['HELM'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const { stdout } = await run('bash', [path.join(root, 'test/control-plane/build.sh')], { maxBuffer: 16 << 20 });
  const binDir = stdout.trim().split('\n').at(-1);
  if (binDir === undefined || binDir === '') throw new Error('test/control-plane/build.sh printed no bin dir');
  return path.join(binDir, 'helm');
}

const NAMESPACE_YAML = `apiVersion: v1
kind: Namespace
metadata:
  name: ${NAMESPACE}
  labels:
    app.kubernetes.io/name: mcpfleet
    app.kubernetes.io/part-of: mcpfleet
    # Every pod here (the operator's) must meet the restricted Pod Security Standard.
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
    pod-security.kubernetes.io/warn: restricted
    pod-security.kubernetes.io/audit: restricted
`;

/** Drops the labels that say Helm manages an object: kubectl-applied objects are not in a release. */
function withoutHelmLabels(yaml: string): string {
  return yaml
    .split('\n')
    .filter((line) => !/^\s+helm\.sh\/chart: /.test(line) && !/^\s+app\.kubernetes\.io\/managed-by: "?Helm"?$/.test(line))
    .join('\n');
}

/** Strips the CRD file's own header comments and leading document marker. */
function crdDocument(text: string): string {
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length && (lines[i]?.startsWith('#') || lines[i]?.trim() === '' || lines[i]?.trim() === '---')) i++;
  return lines.slice(i).join('\n').trimEnd() + '\n';
}

export interface Rendered {
  /** Path relative to the root -> content. */
  files: Map<string, string>;
}

/** Renders every generated file from the chart and deploy/crd under `root`. */
export async function render(root: string, helm: string): Promise<Rendered> {
  const crdNames = (await readdir(path.join(root, CRD_DIR))).filter((f) => f.endsWith('.yaml')).sort();
  if (crdNames.length === 0) throw new Error(`no CRD in ${CRD_DIR}: run npm run crd:generate`);
  const files = new Map<string, string>();
  const crds: string[] = [];
  for (const name of crdNames) {
    const text = await readFile(path.join(root, CRD_DIR, name), 'utf8');
    files.set(`${CHART_DIR}/crds/${name}`, text);
    crds.push(crdDocument(text));
  }

  // The chart as it will be after this run: its crds/ must be the copy made above, and helm
  // template (without --include-crds) does not read crds/ at all, so rendering it as it is works.
  let manifests: string;
  try {
    const { stdout } = await run(helm, ['template', RELEASE, path.join(root, CHART_DIR), '--namespace', NAMESPACE], {
      maxBuffer: 64 << 20,
    });
    manifests = stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`helm template failed: ${e.stderr ?? e.message}`, { cause: err });
  }
  const body =
    withoutHelmLabels(manifests)
      .replace(/^---\n/, '')
      .trimEnd() + '\n';

  const install = [
    '# mcpfleet: the CRD, the mcpfleet-system namespace and the operator (RBAC for every namespace,',
    '# two replicas with leader election, metrics Service), ready for kubectl:',
    '#',
    '#   kubectl apply -f deploy/            (or: kubectl apply -f deploy/install.yaml)',
    '#   kubectl wait --for=condition=Established crd/mcpservers.mcpfleet.dev crd/mcpoidcconfigs.mcpfleet.dev crd/mcpauthzconfigs.mcpfleet.dev crd/mcptoolconfigs.mcpfleet.dev',
    '#   kubectl apply -n <namespace> -f deploy/samples/',
    '#',
    '# Generated by scripts/gen-deploy.ts (npm run deploy:generate) from charts/mcpfleet with its',
    `# default values (helm template ${RELEASE} charts/mcpfleet --namespace ${NAMESPACE}). Do not edit:`,
    '# change the chart (or, for the CRD, operator/src/api) and regenerate. To change values, use the',
    '# chart itself.',
    ...crds.flatMap((doc) => ['---', doc.trimEnd()]),
    '---',
    NAMESPACE_YAML.trimEnd(),
    '---',
    body.trimEnd(),
    '',
  ].join('\n');
  files.set(INSTALL_FILE, install);
  return { files };
}

/** Files under `root` that differ from the rendering: [path, why]. */
export async function compare(root: string, rendered: Rendered): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for (const [rel, wanted] of rendered.files) {
    const current = await readFile(path.join(root, rel), 'utf8').catch(() => undefined);
    if (current === undefined) {
      out.push([rel, 'missing']);
      continue;
    }
    if (current === wanted) continue;
    const a = current.split('\n');
    const b = wanted.split('\n');
    let line = 0;
    while (line < a.length && line < b.length && a[line] === b[line]) line++;
    out.push([rel, `differs from line ${line + 1}: has ${JSON.stringify(a[line] ?? '<end>')}, generated ${JSON.stringify(b[line] ?? '<end>')}`]);
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const rootIdx = argv.indexOf('--root');
  const root = rootIdx >= 0 ? path.resolve(argv[rootIdx + 1] ?? '.') : DEFAULT_ROOT;
  const helm = await findHelm(DEFAULT_ROOT);
  const rendered = await render(root, helm);

  if (argv.includes('--check')) {
    // Regenerate into a temp dir (what a developer would get), then compare with the tree.
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'mcpfleet-deploy-'));
    try {
      for (const [rel, text] of rendered.files) {
        await mkdir(path.dirname(path.join(tmp, rel)), { recursive: true });
        await writeFile(path.join(tmp, rel), text);
      }
      const stale = await compare(root, rendered);
      if (stale.length > 0) {
        for (const [rel, why] of stale) process.stderr.write(`${rel} is out of date with the chart: ${why}\n`);
        process.stderr.write(`run: npm run deploy:generate (the generated files are in ${tmp} for a diff)\n`);
        return 1;
      }
      await rm(tmp, { recursive: true, force: true });
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    process.stdout.write(`${[...rendered.files.keys()].join(', ')} up to date with ${CHART_DIR}\n`);
    return 0;
  }

  for (const [rel, text] of rendered.files) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), text);
    process.stdout.write(`wrote ${rel}\n`);
  }
  return 0;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`gen-deploy: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    },
  );
}
