// The suites that take minutes — faults injected for long stretches, bursts, outages through time skipping, worker
// crashes — run by `npm run test:long` (and CI), not by the daily `npm test`.
module.exports = ['test/workflows/ledger-outage.test.ts', 'test/e2e/chaos.test.ts', 'test/e2e/ledger-burst.test.ts', 'test/e2e/worker-crash.test.ts'].map((f) => `<rootDir>/${f}`);
