import type { TableClient, TableEntityResult } from '@azure/data-tables';
import { epochSeconds, isoTime } from '../clock.js';
import { ServiceError, UnavailableError } from '../errors.js';
import { expiryBucket } from '../storage/expiryBucket.js';
import { isStatus, storageCall, type TableService } from '../storage/tableService.js';
import { AlreadyExistsError, ConcurrentUpdateError, type Versioned } from '../storage/versioned.js';
import { announcement, description } from './deviceExpiryIndex.js';
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
  certificateNotAfter?: string;
};

/**
 * Pairings in table `devices`, one entity per device (partition = device id), so every write
 * of a pairing is a single atomic operation. Beside it, table `deviceexpiry` indexes device
 * ids by the hour their pairing lapses (partition = hour, row = device id), which is what the
 * purge reads (layout: deviceExpiryIndex.ts). Each pairing write takes up to four steps:
 * 1. the index row for the new hour, bare - before the pairing, so a crash leaves an extra
 *    index row (the purge reads the pairing and drops the row), never a pairing the purge
 *    cannot find;
 * 2. the pairing itself, the only step that decides whether the write happened;
 * 3. the same index row again, now with the pairing's new ETag, status and expiry, so that
 *    the purge can delete the pairing under that ETag without reading it;
 * 4. when the expiry moved to a later hour, the row of the old hour, which no longer
 *    describes the pairing. Steps 3 and 4 go in parallel.
 * A crash after step 2 leaves a bare row or an old one; the purge reads the pairing for
 * those, as it did for every row before the rows carried ETags.
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
    await this.announce(record);
    const client = await this.devices();
    let written: { etag?: string };
    try {
      written = await storageCall(what, () => client.createEntity(toEntity(record)));
    } catch (error) {
      if (isStatus(error, 409)) throw new AlreadyExistsError();
      throw error;
    }
    await this.describe(record, written.etag, undefined);
  }

  async replace(record: DeviceRecord, current: Versioned<DeviceRecord>): Promise<void> {
    await this.announce(record);
    const client = await this.devices();
    let written: { etag?: string };
    try {
      written = await storageCall(what, () => client.updateEntity(toEntity(record), 'Replace', { etag: current.etag }));
    } catch (error) {
      if (isStatus(error, 412)) throw new ConcurrentUpdateError();
      throw error;
    }
    await this.describe(record, written.etag, current.value);
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

  private index(): Promise<TableClient> {
    return this.tables.table(TableDeviceStore.expiryIndexName);
  }

  /** Step 1. */
  private async announce(record: DeviceRecord): Promise<void> {
    const index = await this.index();
    await storageCall(what, () => index.upsertEntity(announcement(record), 'Replace'));
  }

  /**
   * Steps 3 and 4, once the pairing write has succeeded. The row is upserted, not updated:
   * a purge that found no pairing between steps 1 and 2 dropped it, and it must come back.
   * The old row goes only when the expiry moved later: expiries never move earlier here,
   * and were one to, keeping the later row would leave a stale row - harmless - where
   * deleting it might race with a write that has just announced that hour again.
   */
  private async describe(record: DeviceRecord, etag: string | undefined, previous: DeviceRecord | undefined): Promise<void> {
    const index = await this.index();
    const steps: Array<Promise<unknown>> = [];
    // The SDK always returns the ETag header; without it the bare row just means a read.
    if (etag !== undefined) steps.push(storageCall(what, () => index.upsertEntity(description(record, etag), 'Replace')));
    const oldHour = previous === undefined ? undefined : expiryBucket(previous.expiresAt);
    if (oldHour !== undefined && oldHour < expiryBucket(record.expiresAt)) {
      steps.push(storageCall(what, () => index.deleteEntity(oldHour, record.deviceId)).catch(ignoreStatus(404)));
    }
    for (const step of await Promise.allSettled(steps)) {
      if (step.status === 'fulfilled') continue;
      const reason: unknown = step.reason;
      // The pairing is written, so the caller's change happened and must not be reported as
      // failed because the store stopped answering afterwards: what these steps would have
      // written, the purge finds out by reading the pairing.
      if (!(reason instanceof UnavailableError)) throw reason;
    }
  }
}

function ignoreStatus(status: number): (error: unknown) => void {
  return (error) => {
    if (!isStatus(error, status)) throw error;
  };
}

/** Table Storage keys are at most 1 KiB (of UTF-16): a longer one was never the service's. */
const maxKeyLength = 1024;

/**
 * The SDK decodes a continuation token without checking it and sends its parts as query
 * parameters; one that a caller garbled or forged must be a 400, not an exception. It is
 * base64 JSON of exactly {nextPartitionKey, nextRowKey?}, both strings of a key's length;
 * anything else - another type, another key, an array - is refused whole.
 */
function checkContinuation(token: string): void {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  if (typeof decoded === 'object' && decoded !== null && !Array.isArray(decoded)) {
    const { nextPartitionKey, nextRowKey } = decoded as { nextPartitionKey?: unknown; nextRowKey?: unknown };
    const isKey = (value: unknown) => typeof value === 'string' && value.length <= maxKeyLength;
    const onlyKnownKeys = Object.keys(decoded).every((name) => name === 'nextPartitionKey' || name === 'nextRowKey');
    if (onlyKnownKeys && isKey(nextPartitionKey) && (nextRowKey === undefined || isKey(nextRowKey))) return;
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
    ...(record.certificateNotAfter === undefined ? {} : { certificateNotAfter: isoTime(record.certificateNotAfter) }),
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
    certificateNotAfter: entity.certificateNotAfter === undefined ? undefined : epochSeconds(entity.certificateNotAfter),
  };
}
