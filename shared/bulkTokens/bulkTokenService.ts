import { randomUUID } from 'node:crypto';
import { isoTime, type Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import { signJwt, tokenTypes } from '../tokens/jws.js';
import type { TokenSigner } from '../signing/signer.js';
import { ConcurrentUpdateError } from '../storage/versioned.js';
import { bulkTokenStatus, type BulkTokenRecord, type BulkTokenStatus, type BulkTokenStore } from './bulkTokenStore.js';

/** Configuration Manager's default and ceiling for a bulk token's lifetime. */
export const defaultLifetimeMinutes = 4320;
export const maxLifetimeMinutes = 10080;

export interface NewBulkToken {
  lifetimeMinutes?: number | undefined;
  description?: string | undefined;
  maxUses?: number | undefined;
}

export interface IssuedBulkToken {
  id: string;
  token: string;
  issuedAt: string;
  expiresAt: string;
  lifetimeMinutes: number;
}

export interface BulkTokenView {
  id: string;
  issuedAt: string;
  expiresAt: string;
  lifetimeMinutes: number;
  status: BulkTokenStatus;
  uses: number;
  maxUses: number | null;
  description: string | null;
}

/**
 * How many times a conditional update is retried when another writer got there first. Each
 * round has one winner, so this bounds the devices racing for one token at once.
 */
const maxConcurrentRetries = 50;

/** One transaction holds the record's update and at most 99 use rows. */
const maxUsesPerTransaction = 99;

interface Caller {
  admit: () => void;
  refuse: (error: unknown) => void;
}

/** The devices waiting to use one token, in arrival order; a device asking twice waits once. */
interface AdmissionQueue {
  waiting: Map<string, Caller[]>;
  running: boolean;
}

export class BulkTokenService {
  private readonly admissions = new Map<string, AdmissionQueue>();

  constructor(
    private readonly store: BulkTokenStore,
    private readonly signer: TokenSigner,
    private readonly clock: Clock,
    private readonly claims: { issuer: string; audience: string; tenantId: string },
  ) {}

  /**
   * Signs first, stores second: if signing fails nothing is stored, and if storing fails the
   * token is never shown to anyone, so no token exists without its record.
   */
  async create(input: NewBulkToken, id: string = randomUUID()): Promise<IssuedBulkToken> {
    const lifetimeMinutes = input.lifetimeMinutes ?? defaultLifetimeMinutes;
    const issuedAt = this.clock.now();
    const expiresAt = issuedAt + lifetimeMinutes * 60;
    const token = await signJwt(this.signer, tokenTypes.bulk, {
      iss: this.claims.issuer,
      aud: this.claims.audience,
      jti: id,
      iat: issuedAt,
      nbf: issuedAt,
      exp: expiresAt,
      tid: this.claims.tenantId,
    });
    await this.store.insert({
      id,
      issuedAt,
      expiresAt,
      lifetimeMinutes,
      description: input.description,
      maxUses: input.maxUses,
      uses: 0,
      blocked: false,
    });
    return { id, token, issuedAt: isoTime(issuedAt), expiresAt: isoTime(expiresAt), lifetimeMinutes };
  }

  async list(): Promise<BulkTokenView[]> {
    const now = this.clock.now();
    const records = await this.store.list();
    return records.sort((a, b) => b.issuedAt - a.issuedAt).map((record) => this.view(record, now));
  }

  async setBlocked(id: string, blocked: boolean): Promise<{ id: string; status: BulkTokenStatus }> {
    const record = await this.update(id, (current) => ({ ...current, blocked }));
    return { id, status: bulkTokenStatus(record, this.clock.now()) };
  }

  /**
   * Read, change, write back only if unchanged (ETag); on a concurrent change, again. Used
   * for blocking and for counting uses, which race with each other.
   */
  async update(id: string, change: (current: BulkTokenRecord) => BulkTokenRecord): Promise<BulkTokenRecord> {
    for (let attempt = 0; attempt < maxConcurrentRetries; attempt++) {
      const current = await this.store.get(id);
      if (!current) throw new ServiceError('not_found', `no bulk registration token has the id ${id}`);
      const next = change(current.value);
      if (next === current.value) return next;
      try {
        await this.store.replace(next, current.etag);
        return next;
      } catch (error) {
        if (!(error instanceof ConcurrentUpdateError)) throw error;
      }
    }
    throw new ServiceError('unavailable', 'the bulk registration token is being updated by many requests at once; retry', {
      retryAfterSeconds: 1,
    });
  }

  /**
   * Lets `deviceId` register with the bulk token `id`: the record must exist and not be
   * blocked, and a device that has not used the token yet takes one of its uses, atomically,
   * so `maxUses` holds however many devices race. A device that already used the token
   * (a repeated registration) takes nothing.
   *
   * Mass enrolment sends many devices to one token at once, and every use raises one counter
   * under the record's ETag. So the devices of one token that arrive while a use is being
   * written are admitted together by the next write: one transaction raises the count by all
   * of them and inserts all their use rows (up to 99), instead of each racing the others for
   * the ETag. Within one instance they no longer collide at all; instances still race each
   * other, and the loser re-reads and retries.
   */
  async admitDevice(id: string, deviceId: string): Promise<void> {
    if (await this.store.hasUse(id, deviceId)) {
      this.usable((await this.store.get(id))?.value, id);
      return;
    }
    let queue = this.admissions.get(id);
    if (!queue) {
      queue = { waiting: new Map(), running: false };
      this.admissions.set(id, queue);
    }
    const waiting = queue.waiting.get(deviceId) ?? [];
    queue.waiting.set(deviceId, waiting);
    const admitted = new Promise<void>((admit, refuse) => waiting.push({ admit, refuse }));
    if (!queue.running) void this.drainAdmissions(id, queue);
    return admitted;
  }

  private async drainAdmissions(id: string, queue: AdmissionQueue): Promise<void> {
    queue.running = true;
    while (queue.waiting.size > 0) {
      const batch = [...queue.waiting].slice(0, maxUsesPerTransaction);
      for (const [deviceId] of batch) queue.waiting.delete(deviceId);
      await this.admitTogether(id, batch.map(([deviceId, callers]) => ({ deviceId, callers })));
    }
    queue.running = false;
    this.admissions.delete(id);
  }

  /** Settles every device of `batch`; never throws. */
  private async admitTogether(id: string, batch: Array<{ deviceId: string; callers: Caller[] }>): Promise<void> {
    const settle = (devices: typeof batch, error?: unknown) => {
      for (const caller of devices.flatMap((device) => device.callers)) {
        if (error === undefined) caller.admit();
        else caller.refuse(error);
      }
    };
    let rest = batch;
    try {
      for (let conflicts = 0; conflicts < maxConcurrentRetries && rest.length > 0; ) {
        const current = await this.store.get(id);
        const record = this.usable(current?.value, id);
        const room = record.maxUses === undefined ? rest.length : Math.max(0, record.maxUses - record.uses);
        // First come, first admitted: the queue keeps arrival order.
        settle(
          rest.slice(room),
          new ServiceError('token_used_up', `the bulk registration token has been used by its ${record.maxUses ?? 0} allowed devices`),
        );
        rest = rest.slice(0, room);
        if (rest.length === 0) return;
        try {
          const usedAlready = await this.store.recordUses(
            { ...record, uses: record.uses + rest.length },
            current?.etag ?? '',
            rest.map((device) => device.deviceId),
            this.clock.now(),
          );
          if (usedAlready === undefined) return settle(rest);
          // That device's own repeat, on another instance, got there first: it is admitted.
          settle(rest.filter((device) => device.deviceId === usedAlready));
          rest = rest.filter((device) => device.deviceId !== usedAlready);
        } catch (error) {
          if (!(error instanceof ConcurrentUpdateError)) throw error;
          conflicts++;
          await pause(5 + Math.random() * 20 * Math.min(conflicts, 5));
        }
      }
      settle(rest, new ServiceError('unavailable', 'too many devices are registering with this bulk token at once; retry', { retryAfterSeconds: 2 }));
    } catch (error) {
      settle(rest, error);
    }
  }

  private usable(record: BulkTokenRecord | undefined, id: string): BulkTokenRecord {
    if (!record) {
      throw new ServiceError('invalid_token', `the bulk registration token ${id} is not known to this service (it may have been purged)`);
    }
    const status = bulkTokenStatus(record, this.clock.now());
    if (status === 'blocked') throw new ServiceError('token_blocked', 'the bulk registration token has been blocked by an administrator');
    if (status === 'expired') throw new ServiceError('token_expired', 'the bulk registration token has expired');
    // A used-up token still admits the devices that already used it (a repeated registration);
    // a new device finds no room left and gets token_used_up.
    return record;
  }

  private view(record: BulkTokenRecord, now: number): BulkTokenView {
    return {
      id: record.id,
      issuedAt: isoTime(record.issuedAt),
      expiresAt: isoTime(record.expiresAt),
      lifetimeMinutes: record.lifetimeMinutes,
      status: bulkTokenStatus(record, now),
      uses: record.uses,
      maxUses: record.maxUses ?? null,
      description: record.description ?? null,
    };
  }
}

function pause(milliseconds: number): Promise<void> {
  return new Promise((done) => setTimeout(done, milliseconds));
}
