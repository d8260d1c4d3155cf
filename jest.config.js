const { availableParallelism } = require('node:os');

/** @type {import('jest').Config} */
module.exports = {
  // At least two test files at once: most of a file's time is spent waiting on PostgreSQL and on the
  // processes it starts, so on a 2-core machine (jest's default there: one) two run in ~0.7 of the time.
  maxWorkers: Math.max(2, availableParallelism() - 1),
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  // Type checking is done once by `npm run typecheck`; the transform only strips types.
  transform: { '^.+\\.ts$': 'ts-jest' },
  setupFiles: ['reflect-metadata'],
  // One PostgreSQL for the whole run: the configured one, the one at the default address, or an embedded one.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
