// Issue 9's promise, tested from outside: under API faults, lost answers, worker SIGKILLs and a server
// restart, every payment ends exactly right in the ledger and in Armado. (`npm run chaos` runs it large.)
import { runChaos } from '../../bench/chaos';
import { installQuietRuntime } from '../helpers/e2e';

test('chaos: 503/429 on 10 % of calls, writes losing their answer, 4 worker SIGKILLs, a server restart, late older payments reset', async () => {
  installQuietRuntime();
  const report = await runChaos({ invoices: 24, splitShare: 0.25, failRate: 0.1, loseReplyRate: 0.05, workerKills: 4, seed: 7, workflowBundle: process.env.TEST_WORKFLOW_BUNDLE });
  process.stdout.write(`chaos: ${JSON.stringify({ ...report, problems: report.problems.length })}\n`);
  expect(report.problems).toEqual([]);
  expect(report).toMatchObject({ completed: report.payments, ledgerExact: 24, armadoExact: 24, serverRestarts: 1, workerKills: 4 });
  expect(report.faults.refused).toBeGreaterThan(0);
  expect(report.faults.lostReplies).toBeGreaterThan(0);
}, 300_000);
