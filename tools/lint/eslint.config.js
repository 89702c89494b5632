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
);
