import { isoTime } from '../clock.js';

/**
 * The hour an expiry falls in, as a sortable partition key ("2026-11-29T04"). Everything that
 * expires is stored (or indexed) under the hour it expires in, so a purge at time T reads the
 * partitions of past hours only and never an entry that is still alive.
 */
export function expiryBucket(epochSeconds: number): string {
  return isoTime(epochSeconds).slice(0, 13);
}
