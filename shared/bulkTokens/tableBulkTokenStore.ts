import type { TableClient, TableEntityResult, TransactionAction } from '@azure/data-tables';
import { epochSeconds, isoTime } from '../clock.js';
import { expiryBucket } from '../storage/expiryBucket.js';
import { failedOperation, isStatus, storageCall, storageErrorCode, type TableService } from '../storage/tableService.js';
import { ConcurrentUpdateError, type Versioned } from '../storage/versioned.js';
import type { BulkTokenRecord, BulkTokenStore } from './bulkTokenStore.js';

const partitionKey = 'bulk-token';
const what = 'Table Storage (bulk tokens)';
const recordKey = (id: string) => `token:${id}`;
const useKey = (id: string, deviceId: string) => `use:${id}:${deviceId}`;

// A type alias, not an interface, so it fits the SDK's TableEntity (implicit index signature).
type BulkTokenEntity = {
  partitionKey: string;
  rowKey: string;
  // Times as ISO 8601 strings: readable in Storage Explorer, and no 2038 limit of Int32.
  issuedAt: string;
  expiresAt: string;
  lifetimeMinutes: number;
  description?: string;
  maxUses?: number;
  uses: number;
  blocked: boolean;
};

/**
 * Bulk-token records and their uses share one partition: records under `token:<id>`, one
 * `use:<id>:<deviceId>` row per device that registered with the token. Sharing the
 * partition is what lets a use be counted atomically (an entity-group transaction that
 * raises `uses` under the record's ETag and inserts the device's use row), and listing is a
 * range query over `token:` rows only. An organisation creates a handful of bulk tokens a
 * month, so one partition's throughput (thousands of operations a second) is ample.
 */
export class TableBulkTokenStore implements BulkTokenStore {
  static readonly tableName = 'bulktokens';
  /** Token ids by the hour they expire in (partition = hour, row = id), for the purge. */
  static readonly expiryIndexName = 'bulktokenexpiry';

  constructor(private readonly tables: TableService) {}

  private client(): Promise<TableClient> {
    return this.tables.table(TableBulkTokenStore.tableName);
  }

  /**
   * The index row first, as for device pairings: a crash in between leaves an index row the
   * purge drops, never a record the purge cannot find.
   */
  async insert(record: BulkTokenRecord): Promise<void> {
    const index = await this.tables.table(TableBulkTokenStore.expiryIndexName);
    await storageCall(what, () => index.upsertEntity({ partitionKey: expiryBucket(record.expiresAt), rowKey: record.id }, 'Replace'));
    const client = await this.client();
    await storageCall(what, () => client.createEntity(toEntity(record)));
  }

  async get(id: string): Promise<Versioned<BulkTokenRecord> | undefined> {
    const client = await this.client();
    try {
      const entity = await storageCall(what, () => client.getEntity<BulkTokenEntity>(partitionKey, recordKey(id)));
      return { value: fromEntity(entity), etag: entity.etag };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async list(): Promise<BulkTokenRecord[]> {
    const client = await this.client();
    return storageCall(what, async () => {
      const records: BulkTokenRecord[] = [];
      const entities = client.listEntities<BulkTokenEntity>({
        // ';' sorts right after ':', so this is exactly the `token:` rows.
        queryOptions: { filter: `PartitionKey eq '${partitionKey}' and RowKey ge 'token:' and RowKey lt 'token;'` },
      });
      for await (const entity of entities) records.push(fromEntity(entity));
      return records;
    });
  }

  async replace(record: BulkTokenRecord, etag: string): Promise<string> {
    const client = await this.client();
    try {
      const result = await storageCall(what, () => client.updateEntity(toEntity(record), 'Replace', { etag }));
      return result.etag ?? '';
    } catch (error) {
      if (isStatus(error, 412)) throw new ConcurrentUpdateError();
      throw error;
    }
  }

  async recordUses(record: BulkTokenRecord, etag: string, deviceIds: readonly string[], usedAt: number): Promise<string | undefined> {
    const client = await this.client();
    const actions: TransactionAction[] = [
      ['update', toEntity(record), 'Replace', { etag }],
      ...deviceIds.map((deviceId): TransactionAction => ['create', { partitionKey, rowKey: useKey(record.id, deviceId), deviceId, usedAt: isoTime(usedAt) }]),
    ];
    try {
      await storageCall(what, () => client.submitTransaction(actions));
      return undefined;
    } catch (error) {
      if (isStatus(error, 412)) throw new ConcurrentUpdateError();
      if (!(isStatus(error, 409) && storageErrorCode(error) === 'EntityAlreadyExists')) throw error;
      // Operation 0 is the record, so operation i is the use row of deviceIds[i - 1].
      const index = failedOperation(error);
      const named = index === undefined ? undefined : deviceIds[index - 1];
      if (named !== undefined) return named;
      for (const deviceId of deviceIds) if (await this.hasUse(record.id, deviceId)) return deviceId;
      throw error;
    }
  }

  async hasUse(id: string, deviceId: string): Promise<boolean> {
    const client = await this.client();
    try {
      await storageCall(what, () => client.getEntity(partitionKey, useKey(id, deviceId), { queryOptions: { select: ['RowKey'] } }));
      return true;
    } catch (error) {
      if (isStatus(error, 404)) return false;
      throw error;
    }
  }
}

function toEntity(record: BulkTokenRecord): BulkTokenEntity {
  return {
    partitionKey,
    rowKey: recordKey(record.id),
    issuedAt: isoTime(record.issuedAt),
    expiresAt: isoTime(record.expiresAt),
    lifetimeMinutes: record.lifetimeMinutes,
    ...(record.description === undefined ? {} : { description: record.description }),
    ...(record.maxUses === undefined ? {} : { maxUses: record.maxUses }),
    uses: record.uses,
    blocked: record.blocked,
  };
}

function fromEntity(entity: TableEntityResult<BulkTokenEntity>): BulkTokenRecord {
  return {
    id: entity.rowKey.slice('token:'.length),
    issuedAt: epochSeconds(entity.issuedAt),
    expiresAt: epochSeconds(entity.expiresAt),
    lifetimeMinutes: entity.lifetimeMinutes,
    description: entity.description,
    maxUses: entity.maxUses,
    uses: entity.uses,
    blocked: entity.blocked,
  };
}
