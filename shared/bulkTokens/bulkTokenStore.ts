import type { Versioned } from '../storage/versioned.js';

/** What the service keeps of a bulk registration token: its tracking GUID and metadata, never the token. */
export interface BulkTokenRecord {
  id: string;
  issuedAt: number;
  expiresAt: number;
  lifetimeMinutes: number;
  description: string | undefined;
  maxUses: number | undefined;
  uses: number;
  blocked: boolean;
}

export type BulkTokenStatus = 'active' | 'expired' | 'blocked';

export function bulkTokenStatus(record: BulkTokenRecord, now: number): BulkTokenStatus {
  if (record.blocked) return 'blocked';
  return now >= record.expiresAt ? 'expired' : 'active';
}

/** The bulk-token records port. */
export interface BulkTokenStore {
  insert(record: BulkTokenRecord): Promise<void>;
  get(id: string): Promise<Versioned<BulkTokenRecord> | undefined>;
  list(): Promise<BulkTokenRecord[]>;
  /** Replaces the record only if it still has `etag`; else throws ConcurrentUpdateError. */
  replace(record: BulkTokenRecord, etag: string): Promise<string>;
  /**
   * Atomically writes `record` (whose `uses` the caller raised by one) if it still has `etag`,
   * and notes that `deviceId` used the token. Returns false, changing nothing, if that device
   * had already used it; throws ConcurrentUpdateError if the record changed meanwhile.
   */
  recordUse(record: BulkTokenRecord, etag: string, deviceId: string, usedAt: number): Promise<boolean>;
  /** Whether `deviceId` has already used the token. */
  hasUse(id: string, deviceId: string): Promise<boolean>;
}
