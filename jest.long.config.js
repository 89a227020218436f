// `npm run test:long`: the fault and soak suites kept out of the daily `npm test` (CI runs both).
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: require('./test/long-suites.js'),
  testPathIgnorePatterns: ['/node_modules/'],
};
