import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Read configuration at the edge (main.ts) and pass it in.',
        },
      ],
    },
  },
  {
    // Entry points and test/bench harnesses are the edge: they may read the environment.
    files: ['**/main.ts', 'tests/**', 'bench/**', 'chaos/**', 'scripts/**', 'examples/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
)
