import { app, type InvocationContext, type Timer } from '@azure/functions';
import { describePurge } from '../shared/purge/purgeSummary.js';
import { MisconfiguredError } from '../shared/errors.js';
import { getServices } from '../shared/runtime/processServices.js';

export async function purgeExpired(timer: Timer, context: InvocationContext): Promise<void> {
  if (timer.isPastDue) {
    // The app was stopped or busy at the scheduled time. Nothing to make up for: the purge
    // works from the current clock, so this one run catches up with every missed hour.
    context.warn('purge timer is past due; running now, which also covers the missed runs');
  }
  const { purge } = await getServices().catch((error: unknown) => {
    if (!(error instanceof MisconfiguredError)) throw error;
    // The cause is the settings, not the code: one line, without a stack, so the failed run's
    // log says exactly what to fix.
    const failure = new Error(`purge not run: invalid settings ${error.settings.join(', ')} (GET /api/health names what is wrong)`);
    failure.stack = failure.message;
    throw failure;
  });
  const summary = await purge.run();
  if (summary.complete) context.info(describePurge(summary));
  else context.warn(describePurge(summary));
}

app.timer('purgeExpired', {
  schedule: '%PURGE_SCHEDULE%',
  handler: purgeExpired,
});
