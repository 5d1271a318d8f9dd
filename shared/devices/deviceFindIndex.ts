import type { TransactionAction } from '@azure/data-tables';
import { epochSeconds, isoTime } from '../clock.js';
import { nameKey } from './deviceDescription.js';
import type { DeviceRecord, DeviceStatus } from './deviceStore.js';

/**
 * The rows of table `devicefind`, which let an administrator find devices (docs/decisions/
 * 0014-device-find-index.md). All of them live in one partition, so that the rows of one
 * device are written together in one transaction:
 *
 * - `t:<inverted registration second>:<device id>` - one per device, in newest-first order,
 *   carrying `deviceId`, `status` and `nameKey` (the lower-cased name), which the device
 *   list filters on;
 * - `h:<SHA-1 hex>` - one per device, carrying `deviceId`: the Windows thumbprint lookup.
 *
 * Rows are written before the pairing write they describe and say nothing the pairing does
 * not: every reader checks what it found against the pairing, so a row left by a failed or
 * crashed write is never shown, only skipped. Who removes such rows: the purge (with the
 * device, or when the expiry row that announced them finds no pairing), and the device list
 * (a time row whose pairing has another registration time is provably left over).
 */
export const findPartition = 'fleet';

const timePrefix = 't:';
const sha1Prefix = 'h:';
/** Registration seconds are inverted against this, so the newest sorts first. */
const timeCeiling = 9_999_999_999;

export interface FindKeys {
  deviceId: string;
  registeredAt: number;
  thumbprintSha1: string | undefined;
}

export function timeRowKey(deviceId: string, registeredAt: number): string {
  return `${timePrefix}${String(timeCeiling - registeredAt).padStart(10, '0')}:${deviceId}`;
}

export function sha1RowKey(thumbprintSha1: string): string {
  return `${sha1Prefix}${thumbprintSha1.toUpperCase()}`;
}

export type TimeRowEntity = {
  partitionKey: string;
  rowKey: string;
  deviceId: string;
  status: DeviceStatus;
  nameKey?: string;
};

/** One upsert transaction that makes the device's rows say what `record` says. */
export function findRowUpserts(record: DeviceRecord): TransactionAction[] {
  const time: TimeRowEntity = {
    partitionKey: findPartition,
    rowKey: timeRowKey(record.deviceId, record.registeredAt),
    deviceId: record.deviceId,
    status: record.status,
    ...(record.name === undefined ? {} : { nameKey: nameKey(record.name) }),
  };
  const actions: TransactionAction[] = [['upsert', time, 'Replace']];
  if (record.thumbprintSha1 !== undefined) {
    actions.push(['upsert', { partitionKey: findPartition, rowKey: sha1RowKey(record.thumbprintSha1), deviceId: record.deviceId }, 'Replace']);
  }
  return actions;
}

/** The keys of every row a device may have, for deleting them with it. */
export function findRowKeys(keys: FindKeys): Array<{ partitionKey: string; rowKey: string }> {
  const rows = [{ partitionKey: findPartition, rowKey: timeRowKey(keys.deviceId, keys.registeredAt) }];
  if (keys.thumbprintSha1 !== undefined) rows.push({ partitionKey: findPartition, rowKey: sha1RowKey(keys.thumbprintSha1) });
  return rows;
}

/**
 * What the expiry index rows carry so that the purge can name a device's find rows without
 * reading the pairing (deviceExpiryIndex.ts).
 */
export function findKeyProperties(record: Pick<DeviceRecord, 'registeredAt' | 'thumbprintSha1'>): { registeredAt: string; thumbprintSha1?: string } {
  return { registeredAt: isoTime(record.registeredAt), ...(record.thumbprintSha1 === undefined ? {} : { thumbprintSha1: record.thumbprintSha1 }) };
}

/** The find keys an expiry row or a pairing entity names, if it names them. */
export function findKeysOf(deviceId: string, values: Readonly<Record<string, unknown>>): FindKeys | undefined {
  const { registeredAt, thumbprintSha1 } = values;
  if (typeof registeredAt !== 'string') return undefined;
  const seconds = epochSeconds(registeredAt);
  if (Number.isNaN(seconds)) return undefined;
  return { deviceId, registeredAt: seconds, thumbprintSha1: typeof thumbprintSha1 === 'string' && /^[0-9A-F]{40}$/.test(thumbprintSha1) ? thumbprintSha1 : undefined };
}

/** The OData filter of the device list: time rows, and the status and name prefix asked for. */
export function listFilter(status: DeviceStatus | undefined, namePrefix: string | undefined): string {
  const parts = [`PartitionKey eq ${quoted(findPartition)}`, `RowKey ge ${quoted(timePrefix)}`, `RowKey lt ${quoted(successor(timePrefix))}`];
  if (status !== undefined) parts.push(`status eq ${quoted(status)}`);
  if (namePrefix !== undefined) {
    const key = nameKey(namePrefix);
    parts.push(`nameKey ge ${quoted(key)}`, `nameKey lt ${quoted(successor(key))}`);
  }
  return parts.join(' and ');
}

/** The smallest string greater than every string starting with `prefix` (by UTF-16 units). */
function successor(prefix: string): string {
  let end = prefix.length;
  while (end > 0 && prefix.charCodeAt(end - 1) === 0xffff) end--;
  // Only a prefix of U+FFFF characters has no successor; the caller's check of each name covers it.
  if (end === 0) return '\uffff'.repeat(prefix.length + 1);
  return prefix.slice(0, end - 1) + String.fromCharCode(prefix.charCodeAt(end - 1) + 1);
}

function quoted(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
