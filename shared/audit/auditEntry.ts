/**
 * One record of the audit trail: who did what to what, from where, and how it ended. The
 * shape is the wire contract of `GET /api/audit` (and the console's), versioned by
 * `schemaVersion`; it never holds a token, a key, a proof or an Authorization header.
 */

export const auditSchemaVersion = 1;

export const auditActions = [
  'bulk-token.create',
  'bulk-token.block',
  'bulk-token.unblock',
  'device.approve',
  'device.revoke',
  'device.register',
  'admin.refused',
] as const;
export type AuditAction = (typeof auditActions)[number];

/**
 * `attempted`: written before an admin action starts; it stays so only when the action's
 * outcome could not be recorded afterwards (decision 0009), so the action may or may not
 * have taken effect.
 */
export const auditOutcomes = ['succeeded', 'refused', 'failed', 'pending', 'attempted'] as const;
export type AuditOutcome = (typeof auditOutcomes)[number];

export type ActorKind = 'entra' | 'admin-key' | 'device' | 'anonymous';

export interface AuditActor {
  kind: ActorKind;
  /** The Entra object id (or the client app's id for an app-only token); Entra only. */
  id?: string;
  /** Display name or UPN (Entra), "admin key", the device id, or "anonymous". */
  name: string;
}

export interface AuditTarget {
  kind: 'bulk-token' | 'device';
  id: string;
}

export interface AuditDetails {
  registration?: 'bulk' | 'internal';
  bulkTokenId?: string;
  lifetimeMinutes?: number;
  maxUses?: number;
  /** For `admin.refused`: "METHOD /api/path", without the query. */
  route?: string;
  /**
   * For `admin.refused` and refused `device.register`: refusals this instance did not store
   * just before this one (rate cap; for a bulk registration, those of the same bulk token).
   */
  suppressed?: number;
}

export interface AuditEntry {
  id: string;
  schemaVersion: number;
  /** ISO 8601 with milliseconds, UTC. */
  time: string;
  action: AuditAction;
  outcome: AuditOutcome;
  /** The HTTP status the caller got (absent while only attempted). */
  status?: number;
  /** The problem code when refused or failed. */
  code?: string;
  actor: AuditActor;
  callerAddress?: string;
  target?: AuditTarget;
  details?: AuditDetails;
  invocationId?: string;
}

export const anonymousActor: AuditActor = { kind: 'anonymous', name: 'anonymous' };
export const adminKeyActor: AuditActor = { kind: 'admin-key', name: 'admin key' };

let sequence = 0;

/**
 * A new entry id: 21 hex characters, unique (64 random bits) and, for entries this process
 * writes in the same millisecond, descending - the store puts the id after the inverted time
 * in the row key, so those entries still list newest first.
 */
export function newAuditEntryId(randomHex: string): string {
  sequence = (sequence + 1) % 0x100000;
  return (0xfffff - sequence).toString(16).padStart(5, '0') + randomHex;
}
