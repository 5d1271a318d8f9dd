import type { AuditAction, AuditEntry } from './auditEntry.js';

export interface AuditQuery {
  /** Inclusive, epoch milliseconds. */
  from: number;
  /** Exclusive, epoch milliseconds. */
  to: number;
  action: AuditAction | undefined;
  limit: number;
  /** Opaque, from a previous page of the same query. */
  continuation: string | undefined;
}

export interface AuditPage {
  /** Newest first. May be shorter than the limit, even empty, while `continuation` is set. */
  items: AuditEntry[];
  continuation: string | undefined;
}

/** The audit trail's storage port. */
export interface AuditStore {
  /** Stores a new entry; throws UnavailableError when the store cannot take it. */
  insert(entry: AuditEntry): Promise<void>;
  /** Rewrites an entry stored before (same id and time) with its outcome. */
  replace(entry: AuditEntry): Promise<void>;
  list(query: AuditQuery): Promise<AuditPage>;
}
