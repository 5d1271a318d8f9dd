import type { TableClient } from '@azure/data-tables';
import type { Budget, Limiter } from './limiter.js';
import type { PurgeMeter, ReadKind } from './meteredTables.js';
import { deleteInTransactions, maxTransactionSize, rowPages, type ListedRow } from './tableBatches.js';

/**
 * What to do with an index row once the entity it points to was dealt with:
 * `purged` - the entity is gone (deleted now, or already), drop the row;
 * `stale`  - the row no longer describes the entity (it was renewed, or never stored), drop it;
 * `keep`   - the entity stays for now (not due yet, or it changed under the purge).
 */
export type Verdict = 'purged' | 'stale' | 'keep';

export interface SweepResult {
  /** Index rows dropped, by verdict. */
  purged: number;
  stale: number;
  /** False when the budget ran out first. */
  complete: boolean;
  /** The partition the sweep stopped in, when it stopped early. */
  stoppedIn: string | undefined;
}

/** Rows handed out between two looks at the budget: the "batch" the run stops between. */
export const batchRows = maxTransactionSize;

/**
 * Walks the rows of an expiry index that match `filter` in key order and runs `check` for
 * each, `limiter` bounding how many run at once across the whole run. Rows are grouped by
 * partition, up to 100, and a group's rows are deleted in one transaction as soon as all its
 * checks are done - while later rows are already being checked, so reads, deletes and
 * transactions overlap. An entity is always dealt with before its index row goes: a run that
 * dies in between leaves a row the next run finds again, never an entity nobody can find.
 * Every 100 rows the budget is looked at; once spent, no new rows start, and the rows already
 * started are finished (their groups flushed) before the sweep returns.
 */
export async function sweepIndex(options: {
  index: TableClient;
  filter: string;
  /** What the rows are, for the meter: index rows, or the replay cache's own entries. */
  rowKind: ReadKind;
  check: (row: ListedRow) => Promise<Verdict>;
  limiter: Limiter;
  budget: Budget;
  meter: PurgeMeter;
}): Promise<SweepResult> {
  const { index, limiter, meter } = options;
  const result: SweepResult = { purged: 0, stale: 0, complete: true, stoppedIn: undefined };
  let failure: { error: unknown } | undefined;
  const flushes: Promise<void>[] = [];
  let group: { partition: string; checks: Array<Promise<Verdict | undefined>>; rows: ListedRow[] } | undefined;

  const closeGroup = () => {
    if (!group) return;
    const { checks, rows } = group;
    group = undefined;
    const flush = async () => {
      const verdicts = await Promise.all(checks);
      const dropped = rows.filter((_, i) => verdicts[i] === 'purged' || verdicts[i] === 'stale');
      if (dropped.length === 0) return;
      await limiter.run(() => deleteInTransactions(index, dropped, meter));
      // Counted only once the rows are really gone, so the summary never claims more.
      for (const verdict of verdicts) {
        if (verdict === 'purged') result.purged++;
        else if (verdict === 'stale') result.stale++;
      }
    };
    flushes.push(flush().catch((error: unknown) => void (failure ??= { error })));
  };

  let started = 0;
  rows: for await (const page of rowPages(index, options.filter, meter, options.rowKind)) {
    for (const row of page) {
      if (failure) break rows;
      if (started > 0 && started % batchRows === 0 && options.budget.spent()) {
        result.complete = false;
        result.stoppedIn = row.partitionKey;
        break rows;
      }
      if (group && (group.partition !== row.partitionKey || group.rows.length === maxTransactionSize)) closeGroup();
      group ??= { partition: row.partitionKey, checks: [], rows: [] };
      await limiter.acquire();
      const check = options
        .check(row)
        .catch((error: unknown): undefined => void (failure ??= { error }))
        .finally(() => limiter.release());
      group.checks.push(check);
      group.rows.push(row);
      started++;
    }
  }
  closeGroup();
  await Promise.all(flushes);
  if (failure) throw failure.error;
  return result;
}
