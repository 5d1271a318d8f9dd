import { app, type InvocationContext, type Timer } from '@azure/functions';
import { describePurge } from '../shared/purge/purgeSummary.js';
import { getServices } from '../shared/services.js';

export async function purgeExpired(timer: Timer, context: InvocationContext): Promise<void> {
  if (timer.isPastDue) {
    // The app was stopped or busy at the scheduled time. Nothing to make up for: the purge
    // works from the current clock, so this one run catches up with every missed hour.
    context.warn('purge timer is past due; running now, which also covers the missed runs');
  }
  const { purge } = await getServices();
  const summary = await purge.run();
  if (summary.complete) context.info(describePurge(summary));
  else context.warn(describePurge(summary));
}

app.timer('purgeExpired', {
  schedule: '%PURGE_SCHEDULE%',
  handler: purgeExpired,
});
