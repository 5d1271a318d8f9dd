/**
 * Jest runs the TypeScript sources through SWC as CommonJS (the build itself is ESM; see
 * docs/decisions/0001-esm-build-cjs-tests.md). Type errors are caught by `tsc` in `npm test`.
 */
const swc = {
  jsc: { parser: { syntax: 'typescript', decorators: true }, target: 'es2022' },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

/** @type {import('jest').Config} */
module.exports = {
  // jest's node environment with a temp folder of each test file's own, removed after it.
  testEnvironment: '<rootDir>/test/support/testEnvironment.cjs',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j|mj)s$': ['@swc/jest', swc] },
  // ESM-only packages in node_modules must be transformed too.
  transformIgnorePatterns: ['/node_modules/(?!(jose|@noble/curves|@noble/hashes)/)'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // The Functions host's module: the local host's registry stands in for it, so tests see
    // the same registrations the host serves.
    '^@azure/functions-core$': '<rootDir>/host/functionsCore.ts',
  },
  globalSetup: '<rootDir>/test/support/globalSetup.ts',
  globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};
