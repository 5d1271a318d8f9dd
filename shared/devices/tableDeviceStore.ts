import type { TableClient, TableEntityResult } from '@azure/data-tables';
import { epochSeconds, isoTime } from '../clock.js';
import { ServiceError } from '../errors.js';
import { expiryBucket } from '../storage/expiryBucket.js';
import { isStatus, storageCall, type TableService } from '../storage/tableService.js';
import { AlreadyExistsError, ConcurrentUpdateError, type Versioned } from '../storage/versioned.js';
import type { DevicePage, DeviceRecord, DeviceStatus, DeviceStore, RegistrationPath } from './deviceStore.js';

const what = 'Table Storage (devices)';
const rowKey = 'pairing';

type DeviceEntity = {
  partitionKey: string;
  rowKey: string;
  thumbprint: string;
  registration: RegistrationPath;
  bulkTokenId?: string;
  status: DeviceStatus;
  registeredAt: string;
  expiresAt: string;
  approvedAt?: string;
  revokedAt?: string;
};

/**
 * Pairings in table `devices`, one entity per device (partition = device id), so every write
 * of a pairing is a single atomic operation. Beside it, table `deviceexpiry` indexes device
 * ids by the hour their pairing lapses (partition = hour, row = device id), which is what the
 * purge reads. The index row is written before the pairing it describes: a crash between
 * the two leaves an extra index row (the purge checks the pairing and drops the row), never
 * a pairing the purge cannot find.
 */
export class TableDeviceStore implements DeviceStore {
  static readonly tableName = 'devices';
  static readonly expiryIndexName = 'deviceexpiry';

  constructor(private readonly tables: TableService) {}

  private devices(): Promise<TableClient> {
    return this.tables.table(TableDeviceStore.tableName);
  }

  async get(deviceId: string): Promise<Versioned<DeviceRecord> | undefined> {
    const client = await this.devices();
    try {
      const entity = await storageCall(what, () => client.getEntity<DeviceEntity>(deviceId, rowKey));
      return { value: fromEntity(entity), etag: entity.etag };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async insert(record: DeviceRecord): Promise<void> {
    await this.index(record);
    const client = await this.devices();
    try {
      await storageCall(what, () => client.createEntity(toEntity(record)));
    } catch (error) {
      if (isStatus(error, 409)) throw new AlreadyExistsError();
      throw error;
    }
  }

  async replace(record: DeviceRecord, etag: string): Promise<void> {
    await this.index(record);
    const client = await this.devices();
    try {
      await storageCall(what, () => client.updateEntity(toEntity(record), 'Replace', { etag }));
    } catch (error) {
      if (isStatus(error, 412)) throw new ConcurrentUpdateError();
      throw error;
    }
  }

  async list(status: DeviceStatus | undefined, pageSize: number, continuation: string | undefined): Promise<DevicePage> {
    if (continuation !== undefined) checkContinuation(continuation);
    const client = await this.devices();
    return storageCall(what, async () => {
      const pages = client
        .listEntities<DeviceEntity>({
          queryOptions: { filter: status === undefined ? `RowKey eq '${rowKey}'` : `RowKey eq '${rowKey}' and status eq '${status}'` },
        })
        .byPage({ maxPageSize: pageSize, ...(continuation === undefined ? {} : { continuationToken: continuation }) });
      const page = await pages.next();
      if (page.done) return { items: [], continuation: undefined };
      return { items: page.value.map(fromEntity), continuation: page.value.continuationToken };
    });
  }

  private async index(record: DeviceRecord): Promise<void> {
    const client = await this.tables.table(TableDeviceStore.expiryIndexName);
    await storageCall(what, () =>
      client.upsertEntity({ partitionKey: expiryBucket(record.expiresAt), rowKey: record.deviceId }, 'Replace'),
    );
  }
}

/**
 * The SDK decodes a continuation token without checking it; one that a caller garbled must
 * be a 400, not an exception. Its format is base64 JSON {nextPartitionKey, nextRowKey?}.
 */
function checkContinuation(token: string): void {
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64').toString('latin1')) as { nextPartitionKey?: unknown };
    if (typeof decoded.nextPartitionKey === 'string') return;
  } catch {
    // falls through to the error below
  }
  throw new ServiceError('invalid_request', 'continuation must be the value a previous page returned');
}

function toEntity(record: DeviceRecord): DeviceEntity {
  return {
    partitionKey: record.deviceId,
    rowKey,
    thumbprint: record.thumbprint,
    registration: record.registration,
    ...(record.bulkTokenId === undefined ? {} : { bulkTokenId: record.bulkTokenId }),
    status: record.status,
    registeredAt: isoTime(record.registeredAt),
    expiresAt: isoTime(record.expiresAt),
    ...(record.approvedAt === undefined ? {} : { approvedAt: isoTime(record.approvedAt) }),
    ...(record.revokedAt === undefined ? {} : { revokedAt: isoTime(record.revokedAt) }),
  };
}

function fromEntity(entity: TableEntityResult<DeviceEntity>): DeviceRecord {
  return {
    deviceId: entity.partitionKey,
    thumbprint: entity.thumbprint,
    registration: entity.registration,
    bulkTokenId: entity.bulkTokenId,
    status: entity.status,
    registeredAt: epochSeconds(entity.registeredAt),
    expiresAt: epochSeconds(entity.expiresAt),
    approvedAt: entity.approvedAt === undefined ? undefined : epochSeconds(entity.approvedAt),
    revokedAt: entity.revokedAt === undefined ? undefined : epochSeconds(entity.revokedAt),
  };
}
