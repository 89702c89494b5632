// ESLint for the whole tree, type-aware: the rules here are the ones that catch real defects
// in an async proxy and operator (a promise nobody awaits or catches is an unhandled
// rejection waiting to happen), plus one import style. Formatting is Prettier's job, not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'dist/**', '.tools/**', 'tools/**', 'coverage/**', 'bench-results/**', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: path.join(root, 'tsconfig.json'), tsconfigRootDir: root },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // Methods that implement a promise-returning interface (a Connector's open(), a
      // credentials provider) are async by contract even when one implementation has
      // nothing to await; the promise rules above are what catch real mistakes.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Resident memory: these imports load code the programs never run (measured in the headers
    // of common/builtins.ts and common/promClient.ts). Tests, benchmarks and tools may use them.
    files: ['common/**/*.ts', 'proxyrunner/src/**/*.ts', 'operator/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...['http', 'https', 'fs', 'util'].flatMap((name) =>
              [name, `node:${name}`].map((specifier) => ({
                name: specifier,
                allowTypeImports: true,
                message: `take ${name} from common/builtins.ts: an ES import of it runs its lazy getters (3-13 MiB RSS).`,
              })),
            ),
            {
              name: 'prom-client',
              allowTypeImports: true,
              message: 'take prom-client from common/promClient.ts: its index loads the Pushgateway, cluster and @opentelemetry/api (~6.5 MiB RSS).',
            },
          ],
        },
      ],
    },
  },
);
