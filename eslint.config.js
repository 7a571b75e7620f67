// ESLint with typescript-eslint's type-aware rules (type information from tsconfig.json). make lint runs it.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', '.cache/', 'node_modules/', 'bench-results/'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits loses its rejection: await it, or void it with a reason; node:test's runner awaits describe and it.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // Unused variables and imports; a rest sibling is how an object is copied without a field ({ managedFields: _m, ...rest }).
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // typeof import('x') stays: a module loaded with require (lib/builtins.ts, lib/kube/connect.ts) is typed that way.
      '@typescript-eslint/consistent-type-imports': ['error', { disallowTypeAnnotations: false }],
      // Off: an async function without await is deliberate here: a throw becomes a rejection (world/read.ts), a check fits eventually().
      '@typescript-eslint/require-await': 'off',
      // Off: two spaces in a regular expression match a log line's two spaces (INFO  run) as the line reads; the rule's / {2}/ reads worse.
      'no-regex-spaces': 'off',
    },
  },
  {
    // Off in spec/ only: tests assert on fields of parsed JSON (reports, kubeconfigs), where a cast would restate the assertion.
    files: ['spec/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  // bin/mefi is the JavaScript launcher (no extension): it checks the Node version before anything else loads.
  {
    files: ['**/*.js', 'bin/mefi'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { process: 'readonly' } },
  },
);
