import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import { expiryBucket } from '../storage/expiryBucket.js';
import { storageCall, type TableService } from '../storage/tableService.js';
import { maxReplayShards } from './replayShardCount.js';

/** The row key of a proof's jti: its SHA-256, fixed length and free of characters the Table service forbids. */
export function replayRowKey(jti: string): string {
  return createHash('sha256').update(jti, 'utf8').digest('hex');
}

/** The jti's shard under `shards`: the row key's first 32 bits modulo the count. */
export function replayShard(rowKey: string, shards: number): number {
  return Number.parseInt(rowKey.slice(0, 8), 16) % shards;
}

/**
 * The partition a claim goes to: the hour the proof's window closes in, then the shard
 * (`2026-11-29T04_7`). Every shard of an hour sorts below the next hour's key, so the
 * purge's `PartitionKey lt '<hour>'` drops whole past hours across all shards and never
 * touches the current one. One shard keeps the bare hour, the layout from before sharding.
 */
export function replayPartition(expiresAt: number, rowKey: string, shards: number): string {
  const hour = expiryBucket(expiresAt);
  return shards === 1 ? hour : `${hour}_${replayShard(rowKey, shards)}`;
}

/** Where a claim must insert: the shard counts some live instance may be claiming under. */
export interface ShardCounts {
  countsInForce(): Promise<readonly number[]>;
}

interface View {
  /** performance.now() just before this instance's own registration was written. */
  writtenAt: number;
  counts: Array<{ count: number; lastSeen: number }>;
}

/**
 * The shard counts in use across the deployment (docs/decisions/0011). Each instance writes
 * "count N was in use at time T" (one row per count, upserted) and then reads every row;
 * it claims in the partition of every count seen within `keepSeconds`. Of any two
 * instances, the one whose write came second reads the other's row, so any two claims of
 * one proof insert into at least one common partition, and the atomic insert lets only one
 * win - whatever REPLAY_SHARDS each instance runs with, and however a rolling change goes.
 */
export class TableReplayShardRegistry implements ShardCounts {
  static readonly tableName = 'replayshards';
  static readonly partition = 'counts';
  /** An instance's own row is at most this old (real time) when it claims. */
  static readonly refreshSeconds = 60;
  /**
   * A count stays in force this long after its last registration: the span in which two
   * claims of one proof can fall (iat ± 300 s = 600 s), plus `refreshSeconds`, plus 240 s
   * for clocks that differ between instances.
   */
  static readonly keepSeconds = 900;

  private view: View | undefined;
  private inForce: { view: View; until: number; counts: readonly number[] } | undefined;
  private refreshing: Promise<View> | undefined;

  constructor(
    private readonly tables: TableService,
    private readonly own: number,
    private readonly clock: Clock,
  ) {}

  async countsInForce(): Promise<readonly number[]> {
    const view = await this.current();
    const now = this.clock.now();
    // The answer changes only with a new view or when a count's row ages out: keep it until then.
    const known = this.inForce;
    if (known?.view === view && now < known.until) return known.counts;
    const since = now - TableReplayShardRegistry.keepSeconds;
    const counts = new Set([this.own]);
    let until = Infinity;
    for (const row of view.counts) {
      if (row.lastSeen >= since) {
        counts.add(row.count);
        until = Math.min(until, row.lastSeen + TableReplayShardRegistry.keepSeconds);
      }
    }
    const sorted = Object.freeze([...counts].sort((a, b) => a - b));
    this.inForce = { view, until, counts: sorted };
    return sorted;
  }

  private current(): Promise<View> {
    const age = this.view ? (performance.now() - this.view.writtenAt) / 1000 : Infinity;
    if (age < TableReplayShardRegistry.refreshSeconds) {
      // Renewed ahead of time, so that a busy instance does not wait for it once a minute.
      if (age > TableReplayShardRegistry.refreshSeconds * 0.75 && !this.refreshing) this.refresh().catch(() => undefined);
      return Promise.resolve(this.view as View);
    }
    return this.refresh();
  }

  private refresh(): Promise<View> {
    this.refreshing ??= this.writeAndRead().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async writeAndRead(): Promise<View> {
    const what = 'Table Storage (replay shard counts)';
    const writtenAt = performance.now();
    const client = await this.tables.table(TableReplayShardRegistry.tableName);
    const { partition } = TableReplayShardRegistry;
    await storageCall(what, () => client.upsertEntity({ partitionKey: partition, rowKey: String(this.own), lastSeen: this.clock.now() }, 'Replace'));
    const counts: View['counts'] = [];
    await storageCall(what, async () => {
      // Bounded: one row per shard count ever configured (at most maxReplayShards).
      for await (const row of client.listEntities<{ lastSeen: number }>({ queryOptions: { filter: `PartitionKey eq '${partition}'` } })) {
        const count = Number(row.rowKey);
        if (Number.isInteger(count) && count >= 1 && count <= maxReplayShards && typeof row.lastSeen === 'number') {
          counts.push({ count, lastSeen: row.lastSeen });
        }
      }
    });
    this.view = { writtenAt, counts };
    return this.view;
  }
}
