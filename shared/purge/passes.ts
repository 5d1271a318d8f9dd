import type { TableClient } from '@azure/data-tables';
import { epochSeconds } from '../clock.js';
import { snapshotOf } from '../devices/deviceExpiryIndex.js';
import { findKeysOf, findPartition, findRowKeys, timeRowKey, type FindKeys } from '../devices/deviceFindIndex.js';
import type { DeviceStatus } from '../devices/deviceStore.js';
import { expiryBucket } from '../storage/expiryBucket.js';
import { isStatus } from '../storage/tableService.js';
import type { Verdict } from './indexSweep.js';
import type { PurgeMeter } from './meteredTables.js';
import { deleteIfPresent, deleteInTransactions, odataString, readEntity, rowPages, type EntityKey, type ListedRow } from './tableBatches.js';

/** What the purge removed, by kind. */
export interface Removed {
  devices: number;
  pendingApprovals: number;
  bulkTokens: number;
  bulkTokenUses: number;
  replayEntries: number;
  revocations: number;
  auditEntries: number;
  staleIndexRows: number;
}

export interface PassCounts extends Removed {
  /** Entities left in place because they changed between the purge's read and its delete. */
  changedMeanwhile: number;
}

// The row layouts of TableDeviceStore and TableBulkTokenStore, which keep them private
// (except the device index rows, whose layout is deviceExpiryIndex.ts).
const pairingRowKey = 'pairing';
const bulkTokenPartition = 'bulk-token';

/**
 * Checks one row of the device expiry index (partition = hour, row = device id).
 *
 * A row that carries a snapshot of its pairing (ETag, status, expiry) is decided from the
 * snapshot, and the pairing is deleted `If-Match` the snapshot's ETag, without a read: every
 * write of a pairing changes its ETag, so the delete succeeds only if the pairing is still
 * exactly the version the row describes - a renewal or any other change since makes it fail
 * with 412. After a 412, and for a bare row (older code, or a crash between the pairing
 * write and the row's rewrite), the pairing is read: the row may be stale (the device renewed
 * into a later hour, or the write it announced never happened), and only the pairing's
 * current expiry decides. It is deleted under the ETag of that read, so a renewal landing in
 * between wins and the pairing stays.
 */
export function deviceCheck(
  devices: TableClient,
  find: TableClient,
  meter: PurgeMeter,
  counts: PassCounts,
  due: (status: DeviceStatus, expiresAt: number) => boolean,
): (row: ListedRow) => Promise<Verdict> {
  return async (row) => {
    const key = { partitionKey: row.rowKey, rowKey: pairingRowKey };
    const snapshot = snapshotOf(row.partitionKey, row.values);
    const named = findKeysOf(row.rowKey, row.values);
    if (snapshot) {
      // Keeping on the snapshot's word alone is safe: keeping never loses a renewal, and once
      // a row's hour is past the retention cut-off every snapshot there is due, so from then
      // on the ETag decides.
      if (!due(snapshot.status, snapshot.expiresAt)) return 'keep';
      try {
        if (await deleteIfPresent(devices, key, meter, snapshot.etag)) countRemoved(counts, snapshot.status);
        // The pairing is gone, so its find rows go (before the expiry row that names them).
        if (named) await deleteInTransactions(find, findRowKeys(named), meter);
        return 'purged';
      } catch (error) {
        if (!isStatus(error, 412)) throw error;
      }
    }
    return checkByReading(devices, find, key, row, named, meter, counts, due);
  };
}

async function checkByReading(
  devices: TableClient,
  find: TableClient,
  key: EntityKey,
  row: EntityKey,
  named: FindKeys | undefined,
  meter: PurgeMeter,
  counts: PassCounts,
  due: (status: DeviceStatus, expiresAt: number) => boolean,
): Promise<Verdict> {
  const pairing = await readEntity<{ status: DeviceStatus; expiresAt: string; registeredAt?: string; thumbprintSha1?: string }>(devices, key, meter, 'devices');
  if (!pairing) {
    // A write this row announced never happened (its hour is long past, so none is under
    // way): the find rows announced with it name nothing either.
    if (named) await deleteInTransactions(find, findRowKeys(named), meter);
    return 'stale';
  }
  const own = findKeysOf(key.partitionKey, pairing);
  if (named && own && named.registeredAt !== own.registeredAt) {
    // Announced by a first registration that lost to another (or crashed, and the device
    // registered again later): that time row can never describe the pairing.
    await deleteInTransactions(find, [{ partitionKey: findPartition, rowKey: timeRowKey(named.deviceId, named.registeredAt) }], meter);
  }
  const expiresAt = epochSeconds(pairing.expiresAt);
  if (expiryBucket(expiresAt) !== row.partitionKey) return 'stale';
  if (!due(pairing.status, expiresAt)) return 'keep';
  try {
    if (!(await deleteIfPresent(devices, key, meter, pairing.etag))) return 'purged';
  } catch (error) {
    if (!isStatus(error, 412)) throw error;
    counts.changedMeanwhile++;
    return 'keep';
  }
  countRemoved(counts, pairing.status);
  if (own) await deleteInTransactions(find, findRowKeys(own), meter);
  return 'purged';
}

function countRemoved(counts: PassCounts, status: DeviceStatus): void {
  if (status === 'pending') counts.pendingApprovals++;
  else counts.devices++;
}

/**
 * Checks one row of the bulk-token expiry index (partition = hour, row = token id). Use rows
 * go first and the record last, so a run that dies halfway leaves the record - and with it
 * the index row - for the next run to finish; never orphaned use rows.
 */
export function bulkTokenCheck(bulkTokens: TableClient, meter: PurgeMeter, counts: PassCounts): (row: EntityKey) => Promise<Verdict> {
  return async (row) => {
    const id = row.rowKey;
    const key = { partitionKey: bulkTokenPartition, rowKey: `token:${id}` };
    const record = await readEntity<{ expiresAt: string }>(bulkTokens, key, meter, 'bulkTokens');
    if (!record) return 'stale';
    if (expiryBucket(epochSeconds(record.expiresAt)) !== row.partitionKey) return 'stale';
    // ';' sorts right after ':', so this range is exactly the token's `use:<id>:` rows.
    const uses = `PartitionKey eq ${odataString(bulkTokenPartition)} and RowKey ge ${odataString(`use:${id}:`)} and RowKey lt ${odataString(`use:${id};`)}`;
    for await (const page of rowPages(bulkTokens, uses, meter, 'bulkTokenUses')) {
      counts.bulkTokenUses += await deleteInTransactions(bulkTokens, page, meter);
    }
    try {
      if (await deleteIfPresent(bulkTokens, key, meter, record.etag)) counts.bulkTokens++;
    } catch (error) {
      if (!isStatus(error, 412)) throw error;
      counts.changedMeanwhile++;
      return 'keep';
    }
    return 'purged';
  };
}
