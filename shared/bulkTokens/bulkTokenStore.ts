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

export type BulkTokenStatus = 'active' | 'expired' | 'blocked' | 'used-up';

/** The first that applies of blocked, expired, used-up (uses reached maxUses), active. */
export function bulkTokenStatus(record: BulkTokenRecord, now: number): BulkTokenStatus {
  if (record.blocked) return 'blocked';
  if (now >= record.expiresAt) return 'expired';
  if (record.maxUses !== undefined && record.uses >= record.maxUses) return 'used-up';
  return 'active';
}

/** The bulk-token records port. */
export interface BulkTokenStore {
  insert(record: BulkTokenRecord): Promise<void>;
  get(id: string): Promise<Versioned<BulkTokenRecord> | undefined>;
  list(): Promise<BulkTokenRecord[]>;
  /** Replaces the record only if it still has `etag`; else throws ConcurrentUpdateError. */
  replace(record: BulkTokenRecord, etag: string): Promise<string>;
  /**
   * Atomically writes `record` (whose `uses` the caller raised by `deviceIds.length`) if it
   * still has `etag`, and notes that each of `deviceIds` used the token (at most 99: one
   * transaction). Returns undefined when done; or, changing nothing, a device of `deviceIds`
   * that had already used the token. Throws ConcurrentUpdateError if the record changed.
   */
  recordUses(record: BulkTokenRecord, etag: string, deviceIds: readonly string[], usedAt: number): Promise<string | undefined>;
  /** Whether `deviceId` has already used the token. */
  hasUse(id: string, deviceId: string): Promise<boolean>;
}
