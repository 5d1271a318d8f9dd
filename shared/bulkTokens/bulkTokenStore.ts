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

export interface Versioned<T> {
  value: T;
  etag: string;
}

/** Thrown by a conditional write whose ETag no longer matches: re-read and try again. */
export class ConcurrentUpdateError extends Error {
  constructor() {
    super('the record changed since it was read');
    this.name = 'ConcurrentUpdateError';
  }
}

/** The bulk-token records port. */
export interface BulkTokenStore {
  insert(record: BulkTokenRecord): Promise<void>;
  get(id: string): Promise<Versioned<BulkTokenRecord> | undefined>;
  list(): Promise<BulkTokenRecord[]>;
  /** Replaces the record only if it still has `etag`; else throws ConcurrentUpdateError. */
  replace(record: BulkTokenRecord, etag: string): Promise<string>;
}
