import type { TableClient, TableEntityResult } from '@azure/data-tables';
import { epochSeconds, isoTime } from '../clock.js';
import { ServiceError, UnavailableError } from '../errors.js';
import { expiryBucket } from '../storage/expiryBucket.js';
import { isStatus, storageCall, type TableService } from '../storage/tableService.js';
import { AlreadyExistsError, ConcurrentUpdateError, type Versioned } from '../storage/versioned.js';
import { announcement, description } from './deviceExpiryIndex.js';
import { findPartition, findRowUpserts, listFilter, sha1RowKey, timeRowKey, type TimeRowEntity } from './deviceFindIndex.js';
import type { DeviceFilter, DevicePage, DeviceRecord, DeviceStatus, DeviceStore, RegistrationPath } from './deviceStore.js';
import { nameKey } from './deviceDescription.js';

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
  name?: string;
  os?: string;
  clientVersion?: string;
  thumbprintSha1?: string;
  lastSeenAt?: string;
  /** Epoch seconds separated by spaces, oldest first. */
  tokenIssues?: string;
};

/** Pairings read at once while a page of the device list is filled. */
const listReadConcurrency = 16;

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
 *
 * Step 1 also writes, in parallel and in one transaction, the device's rows of table
 * `devicefind` (deviceFindIndex.ts; newest-first order, name and status for the list,
 * SHA-1 thumbprint lookup): before the pairing for the same reason, so that a crash leaves
 * at most rows that readers skip, never a pairing the list cannot show.
 */
export class TableDeviceStore implements DeviceStore {
  static readonly tableName = 'devices';
  static readonly expiryIndexName = 'deviceexpiry';
  static readonly findIndexName = 'devicefind';

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
    await this.announce(record, current.value);
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

  /**
   * A page of the device list, newest registration first: a page of time rows (filtered by
   * the store on status and name), then each row's pairing, read at once. A row is shown
   * only as its pairing says - a row whose pairing is gone (a write that never happened, or
   * a purge under way) is skipped, and one whose pairing has another registration time is
   * left over from a registration that lost a race or crashed, and is dropped. A page may
   * therefore hold fewer than `pageSize` items and still carry a continuation.
   */
  async list(filter: DeviceFilter, pageSize: number, continuation: string | undefined): Promise<DevicePage> {
    if (continuation !== undefined) checkContinuation(continuation);
    const find = await this.find();
    const page = await storageCall(what, async () => {
      const pages = find
        .listEntities<TimeRowEntity>({ queryOptions: { filter: listFilter(filter.status, filter.namePrefix) } })
        .byPage({ maxPageSize: pageSize, ...(continuation === undefined ? {} : { continuationToken: continuation }) });
      const next = await pages.next();
      return next.done ? undefined : next.value;
    });
    if (!page) return { items: [], continuation: undefined };
    const rows = [...page];
    const found: Array<DeviceRecord | undefined> = new Array<DeviceRecord | undefined>(rows.length);
    let cursor = 0;
    const worker = async () => {
      for (let i = cursor++; i < rows.length; i = cursor++) {
        const row = rows[i] as TableEntityResult<TimeRowEntity>;
        found[i] = await this.checkedListRow(find, row, filter);
      }
    };
    await Promise.all(Array.from({ length: Math.min(listReadConcurrency, rows.length) }, worker));
    return { items: found.filter((record) => record !== undefined), continuation: page.continuationToken };
  }

  private async checkedListRow(find: TableClient, row: TableEntityResult<TimeRowEntity>, filter: DeviceFilter): Promise<DeviceRecord | undefined> {
    if (typeof row.deviceId !== 'string') return undefined;
    const pairing = (await this.get(row.deviceId))?.value;
    if (!pairing) return undefined;
    if (timeRowKey(pairing.deviceId, pairing.registeredAt) !== row.rowKey) {
      // A pairing's registration time never changes, so this row can never describe it again.
      await storageCall(what, () => find.deleteEntity(row.partitionKey, row.rowKey, { etag: row.etag })).catch(() => undefined);
      return undefined;
    }
    if (filter.status !== undefined && pairing.status !== filter.status) return undefined;
    if (filter.namePrefix !== undefined && !(pairing.name !== undefined && nameKey(pairing.name).startsWith(nameKey(filter.namePrefix)))) return undefined;
    return pairing;
  }

  /** One point read of the SHA-1 row, then of the pairing it names, which must carry that SHA-1. */
  async findBySha1(thumbprintSha1: string): Promise<Versioned<DeviceRecord> | undefined> {
    const sha1 = thumbprintSha1.toUpperCase();
    const find = await this.find();
    let deviceId: unknown;
    try {
      deviceId = (await storageCall(what, () => find.getEntity<{ deviceId: string }>(findPartition, sha1RowKey(sha1)))).deviceId;
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
    if (typeof deviceId !== 'string') return undefined;
    const pairing = await this.get(deviceId);
    return pairing?.value.thumbprintSha1 === sha1 ? pairing : undefined;
  }

  async touch(deviceId: string, lastSeenAt: number): Promise<boolean> {
    const client = await this.devices();
    try {
      // Merge under "*": an update, never an insert, so a purged pairing is not brought back
      // as a fragment; and no ETag of ours, so it cannot lose a race it has no stake in.
      await storageCall(what, () => client.updateEntity({ partitionKey: deviceId, rowKey, lastSeenAt: isoTime(lastSeenAt) }, 'Merge', { etag: '*' }));
      return true;
    } catch (error) {
      if (isStatus(error, 404)) return false;
      throw error;
    }
  }

  private find(): Promise<TableClient> {
    return this.tables.table(TableDeviceStore.findIndexName);
  }

  private index(): Promise<TableClient> {
    return this.tables.table(TableDeviceStore.expiryIndexName);
  }

  /**
   * Step 1: the expiry row and the find rows, at once. The find rows are left alone when
   * they would not change (a renewal that keeps name and status): rows are only ever
   * written before their pairing and removed after it, so a stored pairing has them, except
   * one stored before they existed - whose missing SHA-1 makes the rows differ.
   */
  private async announce(record: DeviceRecord, previous?: DeviceRecord): Promise<void> {
    const [index, find] = await Promise.all([this.index(), this.find()]);
    const rows = findRowUpserts(record);
    const unchanged = previous !== undefined && JSON.stringify(findRowUpserts(previous)) === JSON.stringify(rows);
    await settleAll([
      storageCall(what, () => index.upsertEntity(announcement(record), 'Replace')),
      ...(unchanged ? [] : [storageCall(what, () => find.submitTransaction(rows))]),
    ]);
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

/** Waits for every step, then throws the first failure: no write is left running behind an error. */
async function settleAll(steps: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const failed = (await Promise.allSettled(steps)).find((step) => step.status === 'rejected');
  if (failed) throw failed.reason;
}

function ignoreStatus(status: number): (error: unknown) => void {
  return (error) => {
    if (!isStatus(error, status)) throw error;
  };
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
    ...(record.certificateNotAfter === undefined ? {} : { certificateNotAfter: isoTime(record.certificateNotAfter) }),
    ...(record.name === undefined ? {} : { name: record.name }),
    ...(record.os === undefined ? {} : { os: record.os }),
    ...(record.clientVersion === undefined ? {} : { clientVersion: record.clientVersion }),
    ...(record.thumbprintSha1 === undefined ? {} : { thumbprintSha1: record.thumbprintSha1 }),
    ...(record.lastSeenAt === undefined ? {} : { lastSeenAt: isoTime(record.lastSeenAt) }),
    ...(record.tokenIssues === undefined || record.tokenIssues.length === 0 ? {} : { tokenIssues: record.tokenIssues.join(' ') }),
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
    name: entity.name,
    os: entity.os,
    clientVersion: entity.clientVersion,
    thumbprintSha1: entity.thumbprintSha1,
    lastSeenAt: entity.lastSeenAt === undefined ? undefined : epochSeconds(entity.lastSeenAt),
    tokenIssues: entity.tokenIssues === undefined ? undefined : entity.tokenIssues.split(' ').map(Number).filter(Number.isFinite),
  };
}
