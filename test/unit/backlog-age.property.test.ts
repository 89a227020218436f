// The oldest open run's age is found from "is any open run older than s?" counts: within 2 % (or a second) below
// the truth, never above it, in a number of questions that grows with the logarithm of the age only.
import fc from 'fast-check';
import { oldestAge } from '../../src/operations/backlog';

test('oldestAge brackets the true age from below, within 2 % or a second, in at most 30 questions', async () => {
  await fc.assert(
    fc.asyncProperty(fc.double({ min: 0, max: 399 * 86_400, noNaN: true }), async (age) => {
      let questions = 0;
      const found = await oldestAge(async (seconds) => {
        questions += 1;
        return seconds < age;
      });
      expect(found).toBeLessThanOrEqual(age);
      expect(age - found).toBeLessThanOrEqual(Math.max(1, found * 0.02) + 1e-9);
      expect(questions).toBeLessThanOrEqual(30);
    }),
    { seed: 21, numRuns: 500 },
  );
});
