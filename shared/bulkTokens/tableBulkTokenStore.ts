import type { TableClient, TableEntityResult } from '@azure/data-tables';
import { epochSeconds, isoTime } from '../clock.js';
import { isStatus, storageCall, type TableService } from '../storage/tableService.js';
import { ConcurrentUpdateError, type BulkTokenRecord, type BulkTokenStore, type Versioned } from './bulkTokenStore.js';

const partitionKey = 'bulk-token';
const what = 'Table Storage (bulk tokens)';

interface BulkTokenEntity {
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
}

/**
 * Bulk-token records in one partition: an organisation creates a handful of these tokens a
 * month, so listing them is one partition query, and one partition lets a use be counted
 * with an ETag-conditional write.
 */
export class TableBulkTokenStore implements BulkTokenStore {
  constructor(private readonly tables: TableService) {}

  private client(): Promise<TableClient> {
    return this.tables.table('bulktokens');
  }

  async insert(record: BulkTokenRecord): Promise<void> {
    const client = await this.client();
    await storageCall(what, () => client.createEntity(toEntity(record)));
  }

  async get(id: string): Promise<Versioned<BulkTokenRecord> | undefined> {
    const client = await this.client();
    try {
      const entity = await storageCall(what, () => client.getEntity<BulkTokenEntity>(partitionKey, id));
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
        queryOptions: { filter: `PartitionKey eq '${partitionKey}'` },
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
}

function toEntity(record: BulkTokenRecord): BulkTokenEntity {
  return {
    partitionKey,
    rowKey: record.id,
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
    id: entity.rowKey,
    issuedAt: epochSeconds(entity.issuedAt),
    expiresAt: epochSeconds(entity.expiresAt),
    lifetimeMinutes: entity.lifetimeMinutes,
    description: entity.description,
    maxUses: entity.maxUses,
    uses: entity.uses,
    blocked: entity.blocked,
  };
}
