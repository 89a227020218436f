// Jest: TypeScript through swc; one Temporal dev server and one workflow bundle shared by the whole run.
// `npm test` is the daily loop (a few minutes); the long fault and soak tests are `npm run test:long`
// (jest.long.config.js), which CI runs as well; the production topology is `npm run test:cluster`.
const LONG = require('./test/long-suites.js');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // The cluster test has its own command (npm run test:cluster): PostgreSQL and the full Temporal server.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/cluster/', ...LONG],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 120_000,
  // Two cores: the dev server and the workers need the rest.
  maxWorkers: 2,
};
