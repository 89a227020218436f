// `npm run test:cluster`: the production topology (PostgreSQL, the full Temporal server, worker and intake
// processes). Its own command: the first run builds the Temporal server from its Go module (minutes).
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  globalSetup: '<rootDir>/test/cluster/global-setup.ts',
  globalTeardown: undefined,
  testTimeout: 900_000,
  maxWorkers: 1,
};
