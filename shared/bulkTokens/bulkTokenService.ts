import { randomUUID } from 'node:crypto';
import { isoTime, type Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import { signJwt, tokenTypes } from '../tokens/jws.js';
import type { TokenSigner } from '../signing/signer.js';
import {
  bulkTokenStatus,
  ConcurrentUpdateError,
  type BulkTokenRecord,
  type BulkTokenStatus,
  type BulkTokenStore,
} from './bulkTokenStore.js';

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

/** How many times a conditional update is retried when another writer got there first. */
const maxConcurrentRetries = 20;

export class BulkTokenService {
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
  async create(input: NewBulkToken): Promise<IssuedBulkToken> {
    const lifetimeMinutes = input.lifetimeMinutes ?? defaultLifetimeMinutes;
    const id = randomUUID();
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
