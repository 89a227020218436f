// Lint: type-aware, promises must be awaited, and workflow code may not reach Node built-ins.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', '.temporal/**', 'coverage/**', '*.js', '*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // The launcher runs before anything is compiled: plain CommonJS.
  {
    files: ['scripts/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', process: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'workflow code is deterministic: no Node built-ins' },
            { group: ['fs', 'path', 'crypto', 'os', 'http', 'https', 'child_process', 'net', 'undici'], message: 'workflow code is deterministic: no I/O' },
            { group: ['../activities', '../activities/*', '../apis/*'], message: 'import activities with `import type` only', allowTypeImports: true },
          ],
        },
      ],
    },
  },
);
