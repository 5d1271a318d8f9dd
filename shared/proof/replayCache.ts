import { createHash } from 'node:crypto';
import type { TableService } from '../storage/tableService.js';
import { ServiceError } from '../errors.js';
import { expiryBucket } from '../storage/expiryBucket.js';
import { GroupInserter } from '../storage/groupInsert.js';

/** The replay-cache port: `claim` succeeds once per jti, on every instance. */
export interface ReplayCache {
  /** Records `jti` as used until `expiresAt`; throws `proof_replayed` if it already was. */
  claim(jti: string, expiresAt: number): Promise<void>;
}

/**
 * The replay cache in Table Storage. An insert is atomic insert-if-absent, so two instances
 * racing with the same proof cannot both win. The partition is the hour in which the proof's
 * acceptance window closes, so the purge drops whole past hours without reading live ones;
 * a replayed proof carries the same iat, hence the same partition. The row key is a hash of
 * the jti: fixed length, no characters the Table service forbids. Concurrent claims share
 * entity-group transactions (GroupInserter), so that under load one round trip carries many.
 * If the store cannot be reached the claim fails (503): the check is never skipped.
 */
export class TableReplayCache implements ReplayCache {
  static readonly tableName = 'replay';
  private readonly inserter: GroupInserter;

  constructor(tables: TableService) {
    this.inserter = new GroupInserter(() => tables.table(TableReplayCache.tableName), 'Table Storage (replay cache)');
  }

  async claim(jti: string, expiresAt: number): Promise<void> {
    const outcome = await this.inserter.insert({
      partitionKey: expiryBucket(expiresAt),
      rowKey: createHash('sha256').update(jti, 'utf8').digest('hex'),
      expiresAt,
    });
    if (outcome === 'exists') throw new ServiceError('proof_replayed', 'this proof was already used; sign a new one with a fresh jti');
  }
}
