// Activity log lines carry workflowId, runId, activity and attempt (the SDK adds them); we add the invoice.
import { Context } from '@temporalio/activity';
import type { LogMetadata } from '@temporalio/common';

/** Logs through the activity's logger; silent when called outside an activity (unit tests). */
export function activityLog(level: 'info' | 'warn', message: string, meta: LogMetadata): void {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return;
  }
  context.log[level](message, meta);
}
