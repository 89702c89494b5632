// Writes the MCPServer CRD generated from operator/src/api to deploy/crd/.
//   node scripts/gen-crd.ts           write the file
//   node scripts/gen-crd.ts --check   exit 1 if the committed file differs (for CI)
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_FILE, crdYaml } from '../operator/src/api/crd.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.join(root, CRD_FILE);
const wanted = crdYaml();

if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== wanted) {
    process.stderr.write(`${CRD_FILE} is out of date: run node scripts/gen-crd.ts\n`);
    process.exit(1);
  }
  process.stdout.write(`${CRD_FILE} is up to date\n`);
} else {
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(target, wanted);
  process.stdout.write(`wrote ${CRD_FILE}\n`);
}
