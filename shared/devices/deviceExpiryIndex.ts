import { epochSeconds, isoTime } from '../clock.js';
import { expiryBucket } from '../storage/expiryBucket.js';
import { findKeyProperties } from './deviceFindIndex.js';
import type { DeviceRecord, DeviceStatus } from './deviceStore.js';

/**
 * The rows of table `deviceexpiry` (partition = the hour a pairing lapses, row = device id),
 * shared by TableDeviceStore, which writes them, and the purge, which reads them.
 *
 * A row is first written bare, before the pairing write it announces; once that write
 * succeeds it is rewritten with the ETag the write returned and the pairing's `status` and
 * `expiresAt`. Every write of a pairing gives it a new ETag, so a delete of the pairing
 * `If-Match` that ETag succeeds only while the pairing is still exactly what the row says:
 * the row is a proof the purge can act on without reading the pairing, not a hint.
 */
export type DeviceIndexEntity = {
  partitionKey: string;
  rowKey: string;
  pairingEtag?: string;
  status?: DeviceStatus;
  expiresAt?: string;
  /** Name the device's find rows (deviceFindIndex.ts), so the purge can drop them with it. */
  registeredAt?: string;
  thumbprintSha1?: string;
};

/** What a row says about the pairing version written just before it. */
export interface PairingSnapshot {
  etag: string;
  status: DeviceStatus;
  expiresAt: number;
}

/**
 * The row written before a pairing write. Bare of any snapshot on purpose: written with
 * Replace, it drops whatever an earlier version left in it, and a crash before the pairing
 * write leaves a row the purge must check by reading. It names the device's find rows,
 * which are written at the same time.
 */
export function announcement(record: Pick<DeviceRecord, 'deviceId' | 'expiresAt' | 'registeredAt' | 'thumbprintSha1'>): DeviceIndexEntity {
  return { partitionKey: expiryBucket(record.expiresAt), rowKey: record.deviceId, ...findKeyProperties(record) };
}

/** The row written after the pairing write that returned `etag`. */
export function description(record: Pick<DeviceRecord, 'deviceId' | 'status' | 'expiresAt' | 'registeredAt' | 'thumbprintSha1'>, etag: string): DeviceIndexEntity {
  return { ...announcement(record), pairingEtag: etag, status: record.status, expiresAt: isoTime(record.expiresAt) };
}

const statuses: ReadonlySet<string> = new Set<DeviceStatus>(['pending', 'active', 'revoked']);

function isDeviceStatus(value: unknown): value is DeviceStatus {
  return typeof value === 'string' && statuses.has(value);
}

/**
 * The snapshot a listed row carries, or undefined for a bare row (written by older code, or
 * left by a crash between the pairing write and the row's rewrite) or one that does not
 * belong to its own partition - either way the pairing must be read.
 */
export function snapshotOf(partitionKey: string, values: Readonly<Record<string, unknown>>): PairingSnapshot | undefined {
  const { pairingEtag, status, expiresAt } = values;
  if (typeof pairingEtag !== 'string' || pairingEtag === '' || !isDeviceStatus(status) || typeof expiresAt !== 'string') return undefined;
  const seconds = epochSeconds(expiresAt);
  if (Number.isNaN(seconds) || expiryBucket(seconds) !== partitionKey) return undefined;
  return { etag: pairingEtag, status, expiresAt: seconds };
}
