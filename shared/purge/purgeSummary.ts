import type { ReadKind } from './meteredTables.js';
import type { Removed } from './passes.js';

/** What one purge run did and cost; logged by the timer function and returned to callers. */
export interface PurgeSummary {
  /** The service clock at the start of the run. */
  ranAt: string;
  /** Per kind, the first expiry hour that was NOT read: only index partitions before it were. */
  readBefore: { devices: string; pendingApprovals: string; bulkTokens: string; replay: string; audit: string };
  removed: Removed;
  /** Entities left in place because they changed (a renewal, an approval) during the run. */
  changedMeanwhile: number;
  read: Record<ReadKind, number>;
  entitiesRead: number;
  entitiesDeleted: number;
  /** HTTP requests to Table Storage, retries included. */
  requests: number;
  seconds: number;
  /** False when the time budget ran out and the rest was left for the next run. */
  complete: boolean;
  timeBudgetSeconds: number;
}

/** One log line an operator can read. */
export function describePurge(summary: PurgeSummary): string {
  const r = summary.removed;
  const parts = [
    `purge removed ${r.devices} device pairings, ${r.pendingApprovals} abandoned pending approvals,`,
    `${r.bulkTokens} bulk-token records with ${r.bulkTokenUses} use rows, ${r.replayEntries} replay-cache entries, ${r.revocations} expired revocations,`,
    `${r.auditEntries} audit entries,`,
    `${r.staleIndexRows} stale index rows in ${summary.seconds.toFixed(2)} s`,
    `(${summary.entitiesRead} entities read, ${summary.entitiesDeleted} deleted, ${summary.requests} Table requests`,
    summary.changedMeanwhile > 0 ? `; ${summary.changedMeanwhile} left because they changed during the run)` : ')',
  ];
  const line = parts.join(' ').replace(' )', ')');
  if (summary.complete) return `${line}; complete`;
  return `${line}; stopped early: the time budget of ${summary.timeBudgetSeconds} s was spent, the next run continues where this one stopped`;
}
