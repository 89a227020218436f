// One way for tests to get at a failure: the promise must reject, and what comes back is the
// ApplicationFailure that says what happened (unwrapped from WorkflowFailedError / ActivityFailure).
import { ApplicationFailure } from '@temporalio/common';

/** Rejects the test unless `promise` fails with an ApplicationFailure (of `type`, when given). */
export async function expectFailure(promise: Promise<unknown>, type?: string): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => {
      throw new Error(`expected a failure${type ? ` of type ${type}` : ''}, got a result`);
    },
    (e: unknown) => e,
  );
  let cause: unknown = err;
  while (!(cause instanceof ApplicationFailure) && cause instanceof Error && cause.cause) cause = cause.cause;
  if (!(cause instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  if (type !== undefined) expect(cause.type).toBe(type);
  return cause;
}
