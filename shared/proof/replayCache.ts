import type { TableService } from '../storage/tableService.js';
import { systemClock, type Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import { GroupInserter } from '../storage/groupInsert.js';
import { defaultReplayShards } from './replayShardCount.js';
import { replayPartition, replayRowKey, TableReplayShardRegistry, type ShardCounts } from './replayShards.js';

/** The replay-cache port: `claim` succeeds once per jti, on every instance. */
export interface ReplayCache {
  /** Records `jti` as used until `expiresAt`; throws `proof_replayed` if it already was. */
  claim(jti: string, expiresAt: number): Promise<void>;
}

/**
 * The replay cache in Table Storage. An insert is atomic insert-if-absent, so two instances
 * racing with the same proof cannot both win. The partition is the hour in which the proof's
 * acceptance window closes plus a shard of the jti's hash (replayShards.ts), so the purge
 * drops whole past hours without reading live ones, and the deployment's claims spread over
 * REPLAY_SHARDS partitions instead of one (each partition serves about 2,000 entities/s;
 * docs/capacity.md). A replayed proof carries the same iat and jti, hence the same
 * partition. Concurrent claims into one partition share entity-group transactions
 * (GroupInserter), so each shard has its own group commit.
 *
 * While instances run with different shard counts (a change of REPLAY_SHARDS rolling out), a
 * claim inserts under every count in force (TableReplayShardRegistry) and is refused if any
 * of them already holds the jti: decision 0011. If the store cannot be reached the claim
 * fails (503): the check is never skipped.
 */
export class TableReplayCache implements ReplayCache {
  static readonly tableName = 'replay';
  private readonly inserter: GroupInserter;
  private readonly counts: ShardCounts;

  constructor(tables: TableService, options: { shards?: number; clock?: Clock; counts?: ShardCounts } = {}) {
    this.inserter = new GroupInserter(() => tables.hotTable(TableReplayCache.tableName), 'Table Storage (replay cache)');
    this.counts = options.counts ?? new TableReplayShardRegistry(tables, options.shards ?? defaultReplayShards, options.clock ?? systemClock);
  }

  async claim(jti: string, expiresAt: number): Promise<void> {
    const rowKey = replayRowKey(jti);
    const counts = await this.counts.countsInForce();
    if (counts.length === 1) {
      // Every instance on one count, as almost always: one insert, nothing to combine.
      const outcome = await this.inserter.insert({ partitionKey: replayPartition(expiresAt, rowKey, counts[0] as number), rowKey, expiresAt });
      if (outcome === 'exists') throw replayed();
      return;
    }
    // Two counts can name one partition (shard 5 of 8 and of 16): one insert each, never two.
    const partitions = [...new Set(counts.map((count) => replayPartition(expiresAt, rowKey, count)))];
    const outcomes = await Promise.allSettled(partitions.map((partitionKey) => this.inserter.insert({ partitionKey, rowKey, expiresAt })));
    // A jti found anywhere is a replay, even if another insert failed: refusing is safe.
    if (outcomes.some((outcome) => outcome.status === 'fulfilled' && outcome.value === 'exists')) throw replayed();
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  }
}

function replayed(): ServiceError {
  return new ServiceError('proof_replayed', 'this proof was already used; sign a new one with a fresh jti');
}
