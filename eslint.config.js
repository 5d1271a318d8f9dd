// The lint gate (npm run lint, run by npm test). typescript-eslint's strict-type-checked set is
// the base; the rules that catch this codebase's real risks are the promise rules (a dropped
// promise is a lost error or a half-made registration) and switch exhaustiveness (a token type
// or bench part that a switch forgets). Rules eased or turned off below say why.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Two programs: the Node side (functions, shared, host, cli, bench, test) and the
        // browser console, each with the tsconfig that type-checks it in npm test.
        project: ['./tsconfig.test.json', './console/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // Numbers and booleans print as expected in a message; objects, undefined and null
      // ("[object Object]", "undefined") stay errors.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `() => res.end()` returning a void call is idiomatic; rewriting every such arrow as a
      // block would churn code without catching a bug (a void value that is *used* is still a
      // type error).
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // An `async` function without `await` turns a synchronous throw into a rejection, which
      // is what callers that `await` or `.catch` it rely on; removing `async` would change that.
      '@typescript-eslint/require-await': 'off',
      // tsc's noUnusedLocals and noUnusedParameters are the check (with the `_` convention for
      // a parameter a signature needs); a second rule would only disagree with them.
      '@typescript-eslint/no-unused-vars': 'off',
      // `json<T>()`-style helpers that name the expected body type once are a deliberate,
      // visible narrowing at the one place a response is read; the rule would inline casts.
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
      // A variable a callback closes over is declared before the object that the callback is
      // handed to, then assigned once.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Tests and benchmarks: a `!` or an unchecked JSON body that turns out wrong fails the
    // test or the run loudly, which is what they are for; guarding each would bury the
    // assertions. Deleting process.env keys by name is how tests restore the environment.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-dynamic-delete': 'off',
      // Tests type a rejection by the shape they assert on and build awkward inputs on
      // purpose (ASCII alphabets spread into characters, a class-shaped refusal, a stringified
      // code); a wrong guess fails the assertion.
      '@typescript-eslint/use-unknown-in-catch-callback-variable': 'off',
      '@typescript-eslint/no-misused-spread': 'off',
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      // `let x = initial` before a retry loop or a try reads more plainly than its absence.
      'no-useless-assignment': 'off',
    },
  },
  {
    // The lint gate's own test lints these planted files with --no-ignore; they sit outside
    // the two programs, so they get a program of their own from their tsconfig.
    files: ['test/fixtures/lint/**/*.ts'],
    languageOptions: { parserOptions: { project: './test/fixtures/lint/tsconfig.json' } },
  },
  {
    // Build scripts and configs in plain JavaScript are outside both programs.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      parserOptions: { project: null },
      globals: { process: 'readonly', console: 'readonly', module: 'writable', require: 'readonly', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
