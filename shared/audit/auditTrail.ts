import { randomBytes } from 'node:crypto';
import { BoundedCache } from '../cache/boundedCache.js';
import { nowMs, type Clock } from '../clock.js';
import { ServiceError, UnavailableError } from '../errors.js';
import {
  auditSchemaVersion,
  newAuditEntryId,
  type AuditAction,
  type AuditActor,
  type AuditDetails,
  type AuditEntry,
  type AuditOutcome,
  type AuditTarget,
} from './auditEntry.js';
import type { AuditPage, AuditQuery, AuditStore } from './auditStore.js';

/** Where a log line goes: the invocation's context (Application Insights in Azure). */
export interface AuditLog {
  info(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** Who is calling, from where, in which invocation: the part of an entry the request gives. */
export interface AuditCall {
  actor: AuditActor;
  callerAddress: string | undefined;
  invocationId: string;
  log: AuditLog;
}

export interface ActionResult<T> {
  result: T;
  /** The HTTP status the caller will get. */
  status: number;
}

/**
 * The prefix of the one log line each entry gets, followed by the entry as JSON plus
 * `recorded` (false when the table did not take it). In Application Insights:
 * traces | where message startswith "audit: " | extend entry = parse_json(substring(message, 7))
 */
export const auditLogPrefix = 'audit: ';

/**
 * Refused admin requests come from anyone who can reach the service, so their entries are
 * capped per instance (a token bucket: a burst of 100, then 1 a second); beyond the cap a
 * refusal gets its log line but no row, and the next stored refusal says how many were
 * skipped (`details.suppressed`). Unauthenticated traffic thus cannot grow the table faster
 * than 3,600 rows an hour per instance.
 */
export class RefusalCap {
  private tokens: number;
  private last: number | undefined;
  private skipped = 0;

  constructor(
    private readonly burst = 100,
    private readonly perSecond = 1,
  ) {
    this.tokens = burst;
  }

  /** Undefined when over the cap; else how many refusals were skipped since the last stored one. */
  take(now: number): number | undefined {
    if (!this.ready(now)) {
      this.skipped++;
      return undefined;
    }
    this.tokens -= 1;
    const skipped = this.skipped;
    this.skipped = 0;
    return skipped;
  }

  /** Whether `take` would store one now; takes nothing. */
  ready(now: number): boolean {
    if (this.last !== undefined) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    return this.tokens >= 1;
  }

  /** Counts a refusal another cap kept out, for the next stored one's `suppressed`. */
  skip(): void {
    this.skipped++;
  }
}

/**
 * Refused registrations are capped like refused admin requests, in two ways at once: per
 * instance (a burst of 100, then 1 a second, a bucket of their own so a device-side flood
 * cannot crowd out the admin refusals' entries) and, for bulk registrations, per bulk token
 * (a burst of 10, then 1 a minute). A leaked token that was blocked thus adds at most about
 * 70 rows an hour per instance however fast its holder sends, and each stored refusal says
 * how many of that token's were skipped before it (`details.suppressed`).
 */
export class RegistrationRefusalCaps {
  private readonly perToken: BoundedCache<string, RefusalCap>;

  constructor(
    private readonly instance = new RefusalCap(100, 1),
    private readonly tokenCap: () => RefusalCap = () => new RefusalCap(10, 1 / 60),
    // Bulk tokens are few (an administrator creates each); beyond this the oldest bucket goes.
    tokens = 1000,
  ) {
    this.perToken = new BoundedCache(tokens);
  }

  /** As RefusalCap.take; the skipped count is the token's own for a bulk registration. */
  take(now: number, bulkTokenId: string | undefined): number | undefined {
    let token: RefusalCap | undefined;
    if (bulkTokenId !== undefined) {
      token = this.perToken.get(bulkTokenId);
      if (token === undefined) {
        token = this.tokenCap();
        this.perToken.set(bulkTokenId, token);
      }
      if (!token.ready(now)) {
        token.skip();
        return undefined;
      }
    }
    const skipped = this.instance.take(now);
    if (skipped === undefined) {
      token?.skip();
      return undefined;
    }
    return token === undefined ? skipped : token.take(now);
  }
}

/**
 * Records the audit trail (decision 0009). Admin actions are written ahead: an `attempted`
 * entry before the action starts, its outcome after it ends; if the first write fails the
 * action does not start (503), and if the second fails the caller gets 503 and the entry
 * stays `attempted`, so no action ever happened without its entry. Refused admin requests
 * and device registrations are recorded after the fact, and a failure to record them is
 * logged loudly but changes nothing for the caller.
 */
export class AuditTrail {
  constructor(
    private readonly store: AuditStore,
    private readonly clock: Clock,
    private readonly refusals = new RefusalCap(),
    private readonly registrationRefusals = new RegistrationRefusalCaps(),
  ) {}

  list(query: AuditQuery): Promise<AuditPage> {
    return this.store.list(query);
  }

  /** Runs `act` between the entry's two writes; see the class comment. */
  async adminAction<T>(
    call: AuditCall,
    what: { action: AuditAction; target: AuditTarget; details?: AuditDetails },
    act: () => Promise<ActionResult<T>>,
  ): Promise<T> {
    const attempt = this.entry(call, what.action, 'attempted', { target: what.target, ...(what.details === undefined ? {} : { details: what.details }) });
    try {
      await this.store.insert(attempt);
    } catch (error) {
      this.logUnrecorded(call, { ...attempt, outcome: 'failed', status: 503, code: 'unavailable' }, 'the action was not started', error);
      throw new UnavailableError('the audit trail', error);
    }
    let done: ActionResult<T>;
    try {
      done = await act();
    } catch (error) {
      const refused = error instanceof ServiceError && error.status < 500;
      const status = error instanceof ServiceError ? error.status : 500;
      const code = error instanceof ServiceError ? error.code : 'internal';
      await this.complete(call, { ...attempt, outcome: refused ? 'refused' : 'failed', status, code });
      throw error;
    }
    if (!(await this.complete(call, { ...attempt, outcome: 'succeeded', status: done.status }))) {
      throw new UnavailableError('the audit trail', undefined);
    }
    return done.result;
  }

  /** An admin request refused for its credential (401, 403). Never throws. */
  async refused(call: AuditCall, route: string, error: ServiceError): Promise<void> {
    const entry = this.entry(call, 'admin.refused', 'refused', { status: error.status, code: error.code, details: { route } });
    const skipped = this.refusals.take(Date.parse(entry.time));
    if (skipped === undefined) {
      call.log.info(line(entry, false, 'over the per-instance cap on refused-request entries'));
      return;
    }
    await this.recordAfterTheFact(call, skipped > 0 ? { ...entry, details: { route, suppressed: skipped } } : entry);
  }

  /**
   * A device registration's outcome. Never throws: a device is not refused for the trail.
   * Refusals are capped (RegistrationRefusalCaps); past the cap they get their log line only.
   */
  async registration(
    call: AuditCall,
    what: { outcome: AuditOutcome; status: number; code?: string; deviceId?: string; details: AuditDetails },
  ): Promise<void> {
    const entry = this.entry(call, 'device.register', what.outcome, {
      status: what.status,
      ...(what.code === undefined ? {} : { code: what.code }),
      ...(what.deviceId === undefined ? {} : { target: { kind: 'device', id: what.deviceId } }),
      details: what.details,
    });
    if (what.outcome !== 'refused') return this.recordAfterTheFact(call, entry);
    const skipped = this.registrationRefusals.take(Date.parse(entry.time), what.details.bulkTokenId);
    if (skipped === undefined) {
      call.log.info(line(entry, false, 'over the cap on refused-registration entries (per bulk token and per instance)'));
      return;
    }
    await this.recordAfterTheFact(call, skipped > 0 ? { ...entry, details: { ...what.details, suppressed: skipped } } : entry);
  }

  private async recordAfterTheFact(call: AuditCall, entry: AuditEntry): Promise<void> {
    try {
      await this.store.insert(entry);
    } catch (error) {
      this.logUnrecorded(call, entry, 'the request went ahead without its audit entry', error);
      return;
    }
    call.log.info(line(entry, true));
  }

  /** Writes the entry's outcome; false (logged loudly) when the store did not take it. */
  private async complete(call: AuditCall, entry: AuditEntry): Promise<boolean> {
    try {
      await this.store.replace(entry);
    } catch (error) {
      this.logUnrecorded(call, entry, `the stored entry ${entry.id} stays "attempted"`, error);
      return false;
    }
    call.log.info(line(entry, true));
    return true;
  }

  private logUnrecorded(call: AuditCall, entry: AuditEntry, consequence: string, error: unknown): void {
    const cause = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    call.log.error(line(entry, false, `AUDIT WRITE FAILED (${cause}); ${consequence}`));
  }

  private entry(
    call: AuditCall,
    action: AuditAction,
    outcome: AuditOutcome,
    rest: Pick<AuditEntry, 'status' | 'code' | 'target' | 'details'>,
  ): AuditEntry {
    return {
      id: newAuditEntryId(randomBytes(8).toString('hex')),
      schemaVersion: auditSchemaVersion,
      time: new Date(nowMs(this.clock)).toISOString(),
      action,
      outcome,
      ...(rest.status === undefined ? {} : { status: rest.status }),
      ...(rest.code === undefined ? {} : { code: rest.code }),
      actor: call.actor,
      ...(call.callerAddress === undefined ? {} : { callerAddress: call.callerAddress }),
      ...(rest.target === undefined ? {} : { target: rest.target }),
      ...(rest.details === undefined ? {} : { details: rest.details }),
      invocationId: call.invocationId,
    };
  }
}

function line(entry: AuditEntry, recorded: boolean, note?: string): string {
  return auditLogPrefix + JSON.stringify({ ...entry, recorded, ...(note === undefined ? {} : { note }) });
}
