import { maxClockSkewSeconds, isoTime, type Clock } from '../clock.js';
import { auditPartition, TableAuditStore } from '../audit/tableAuditStore.js';
import { TableBulkTokenStore } from '../bulkTokens/tableBulkTokenStore.js';
import { TableRevocationList } from '../devices/revocationList.js';
import { TableDeviceStore } from '../devices/tableDeviceStore.js';
import { TableReplayCache } from '../proof/replayCache.js';
import { expiryBucket } from '../storage/expiryBucket.js';
import type { TableService } from '../storage/tableService.js';
import { sweepIndex, type SweepResult, type Verdict } from './indexSweep.js';
import { Budget, Limiter } from './limiter.js';
import { MeteredTables, type PurgeMeter } from './meteredTables.js';
import { bulkTokenCheck, deviceCheck, type PassCounts } from './passes.js';
import { PurgeState } from './purgeState.js';
import type { PurgeSummary } from './purgeSummary.js';
import { deleteInTransactions, odataString, rowPages, type ListedRow } from './tableBatches.js';

const day = 86_400;

export const defaultAuditRetentionDays = 365;

/** Requests in flight at once. Device pairings sit in separate partitions, so they are deleted one request each, in parallel. */
export const defaultPurgeConcurrency = 32;

export interface PurgeOptions {
  tables: TableService;
  clock: Clock;
  storageConnection: string;
  tablePrefix: string;
  timeBudgetSeconds: number;
  deviceRetentionDays: number;
  bulkTokenRetentionDays: number;
  /** Default 365, as AUDIT_RETENTION_DAYS. */
  auditRetentionDays?: number;
  concurrency?: number;
}

interface Run {
  now: number;
  meter: PurgeMeter;
  budget: Budget;
  limiter: Limiter;
  counts: PassCounts;
}

/**
 * Deletes what has expired, reading only what has expired. Everything that lapses is kept
 * or indexed under the hour it lapses in (see expiryBucket), so each pass is a range query
 * `PartitionKey lt '<hour of the cut-off>'` over an index, never a scan of live data:
 * - device pairings (active, revoked) DEVICE_RETENTION_DAYS after they lapse, via `deviceexpiry`;
 * - pending approvals when they are abandoned (their expiry), via the same index, resuming
 *   where the previous run stopped (PurgeState);
 * - bulk-token records and their use rows BULK_TOKEN_RETENTION_DAYS after expiry, via `bulktokenexpiry`;
 * - replay-cache entries whose proof window has closed: whole past-hour partitions of `replay`;
 * - revocations once the certificate and every token of the device have expired (`revocations`, one small partition);
 * - audit entries older than AUDIT_RETENTION_DAYS: whole past-day partitions of `audit`.
 * Every cut-off also allows the clock skew the verifiers tolerate. A run that outlasts its
 * time budget stops between batches; deletes are idempotent, so the next run just continues.
 */
export class PurgeService {
  private readonly tables: MeteredTables;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PurgeOptions) {
    this.tables = new MeteredTables(options.tables, options.storageConnection, options.tablePrefix);
  }

  /** Runs one purge. Runs in the same process wait for each other, so each meter is its own. */
  run(overrides: { timeBudgetSeconds?: number } = {}): Promise<PurgeSummary> {
    const run = this.queue.then(() => this.runOnce(overrides.timeBudgetSeconds ?? this.options.timeBudgetSeconds));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runOnce(timeBudgetSeconds: number): Promise<PurgeSummary> {
    const started = performance.now();
    const now = this.options.clock.now();
    const run: Run = {
      now,
      meter: this.tables.startMeter(),
      budget: new Budget(timeBudgetSeconds),
      limiter: new Limiter(this.options.concurrency ?? defaultPurgeConcurrency),
      counts: { devices: 0, pendingApprovals: 0, bulkTokens: 0, bulkTokenUses: 0, replayEntries: 0, revocations: 0, auditEntries: 0, staleIndexRows: 0, changedMeanwhile: 0 },
    };
    const readBefore = {
      devices: expiryBucket(now - this.options.deviceRetentionDays * day - maxClockSkewSeconds),
      pendingApprovals: expiryBucket(now - maxClockSkewSeconds),
      bulkTokens: expiryBucket(now - this.options.bulkTokenRetentionDays * day - maxClockSkewSeconds),
      replay: expiryBucket(now - maxClockSkewSeconds),
      // A day, not an hour: the audit table's partitions are UTC days. No skew allowance:
      // nothing verifies against an audit entry.
      audit: auditPartition((now - (this.options.auditRetentionDays ?? defaultAuditRetentionDays) * day) * 1000),
    };
    const passes: Array<() => Promise<boolean>> = [
      () => this.lapsedDevices(run, readBefore.devices),
      () => this.abandonedApprovals(run, readBefore.devices, readBefore.pendingApprovals),
      () => this.expiredBulkTokens(run, readBefore.bulkTokens),
      () => this.closedReplayWindows(run, readBefore.replay),
      () => this.expiredRevocations(run),
      () => this.expiredAuditDays(run, readBefore.audit),
    ];
    let complete = true;
    for (const [i, pass] of passes.entries()) {
      // The first pass always starts, so that even a budget shorter than one batch makes progress.
      complete = (i === 0 || !run.budget.spent()) && (await pass());
      if (!complete) break;
    }
    const { changedMeanwhile, ...removed } = run.counts;
    return {
      ranAt: isoTime(now),
      readBefore,
      removed,
      changedMeanwhile,
      read: { ...run.meter.read },
      entitiesRead: run.meter.entitiesRead,
      entitiesDeleted: run.meter.entitiesDeleted,
      requests: run.meter.requests,
      seconds: Math.round(performance.now() - started) / 1000,
      complete,
      timeBudgetSeconds,
    };
  }

  /** Active and revoked pairings past their retention (and any pending one that old). */
  private async lapsedDevices(run: Run, before: string): Promise<boolean> {
    const devices = await this.tables.table(TableDeviceStore.tableName);
    const find = await this.tables.table(TableDeviceStore.findIndexName);
    const cutoff = run.now - this.options.deviceRetentionDays * day - maxClockSkewSeconds;
    const check = deviceCheck(devices, find, run.meter, run.counts, (status, expiresAt) =>
      expiresAt <= (status === 'pending' ? run.now - maxClockSkewSeconds : cutoff),
    );
    const result = await this.sweep(run, TableDeviceStore.expiryIndexName, `PartitionKey lt ${odataString(before)}`, check);
    return result.complete;
  }

  /**
   * Pending pairings whose approval was abandoned, in the hours between the retention cut-off
   * and now. Active and revoked pairings there are not due yet and stay; the sweep remembers
   * how far it got, so the next run starts after the hours already checked.
   */
  private async abandonedApprovals(run: Run, retentionBefore: string, before: string): Promise<boolean> {
    const state = new PurgeState(await this.tables.table(PurgeState.tableName));
    const swept = await state.pendingSweptThrough(run.meter);
    const from = swept !== undefined && swept > retentionBefore ? swept : retentionBefore;
    if (from >= before) return true;
    const devices = await this.tables.table(TableDeviceStore.tableName);
    const find = await this.tables.table(TableDeviceStore.findIndexName);
    const pendingCutoff = run.now - maxClockSkewSeconds;
    const check = deviceCheck(devices, find, run.meter, run.counts, (status, expiresAt) => status === 'pending' && expiresAt <= pendingCutoff);
    const filter = `PartitionKey ge ${odataString(from)} and PartitionKey lt ${odataString(before)}`;
    const result = await this.sweep(run, TableDeviceStore.expiryIndexName, filter, check);
    // A partition the sweep stopped in is checked again from its start next time: cheap, and
    // the rows it already handled are either gone or were not due.
    const through = result.complete ? before : result.stoppedIn;
    if (through !== undefined && through !== swept) await state.setPendingSweptThrough(through);
    return result.complete;
  }

  private async expiredBulkTokens(run: Run, before: string): Promise<boolean> {
    const bulkTokens = await this.tables.table(TableBulkTokenStore.tableName);
    const check = bulkTokenCheck(bulkTokens, run.meter, run.counts);
    const result = await this.sweep(run, TableBulkTokenStore.expiryIndexName, `PartitionKey lt ${odataString(before)}`, check);
    return result.complete;
  }

  /** The replay cache is its own index: its partitions are the hours its entries expire in. */
  private async closedReplayWindows(run: Run, before: string): Promise<boolean> {
    const result = await this.sweep(run, TableReplayCache.tableName, `PartitionKey lt ${odataString(before)}`, async () => 'purged', 'replayEntries');
    run.counts.replayEntries += result.purged;
    return result.complete;
  }

  /**
   * Revocations whose certificate has expired, and every token with it (TableRevocationList
   * keeps them until the certificate's notAfter + 300 s, at least 91 days). The
   * list is one small partition - revocations are rare - so it is read by a filter, not
   * through an index, and deleted like every other kind (404 = already gone).
   */
  private async expiredRevocations(run: Run): Promise<boolean> {
    const revocations = await this.tables.table(TableRevocationList.tableName);
    let dropped = 0;
    for await (const page of rowPages(revocations, TableRevocationList.expiredFilter(run.now), run.meter, 'revocations')) {
      dropped += await deleteInTransactions(revocations, page, run.meter);
    }
    if (dropped > 0) await new TableRevocationList(this.tables).announceChange();
    run.counts.revocations += dropped;
    return true;
  }

  /**
   * The audit table is its own index too: its partitions are UTC days, so every partition
   * before the cut-off day holds only entries older than the retention, and goes whole.
   * Entries of the cut-off day itself wait for the next day's runs: kept up to a day longer.
   */
  private async expiredAuditDays(run: Run, before: string): Promise<boolean> {
    const result = await this.sweep(run, TableAuditStore.tableName, `PartitionKey lt ${odataString(before)}`, async () => 'purged', 'auditEntries');
    run.counts.auditEntries += result.purged;
    return result.complete;
  }

  private async sweep(
    run: Run,
    indexName: string,
    filter: string,
    check: (row: ListedRow) => Promise<Verdict>,
    rowKind: 'indexRows' | 'replayEntries' | 'auditEntries' = 'indexRows',
  ): Promise<SweepResult> {
    const result = await sweepIndex({
      index: await this.tables.table(indexName),
      filter,
      rowKind,
      check,
      limiter: run.limiter,
      budget: run.budget,
      meter: run.meter,
    });
    run.counts.staleIndexRows += result.stale;
    return result;
  }
}
